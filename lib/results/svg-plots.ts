/** Small static SVG charts for report.html (strings; no script, no external resources). */

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Short, human number: 4 significant digits (the CSV and JSON keep the exact values). */
export function shortNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '–';
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

function extent(values: readonly number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

const px = (n: number) => n.toFixed(1);

/**
 * One feature across a clip's frames: a line through the textured frames (x = frame index over the clip's
 * frames), dots on each, min and max written beside it. Missing values break the line.
 */
export function featureSparkline(
  name: string,
  points: ReadonlyArray<{ frame: number; value: number | null }>,
  frames: number,
  size = { width: 150, height: 54 },
): string {
  const finite = points.filter((p): p is { frame: number; value: number } => p.value !== null && Number.isFinite(p.value));
  const pad = 4;
  const top = 13;
  const plotHeight = size.height - top - 12;
  const header = `<text x="${pad}" y="9" class="name">${escapeHtml(name)}</text>`;
  if (finite.length === 0) {
    return `<svg class="spark" data-feature="${escapeHtml(name)}" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}" role="img" aria-label="${escapeHtml(name)}: no values">${header}<text x="${pad}" y="${top + 14}" class="none">no values</text></svg>`;
  }
  const [lo, hi] = extent(finite.map((p) => p.value));
  const x = (frame: number) => pad + (frames > 1 ? (frame / (frames - 1)) * (size.width - 2 * pad) : (size.width - 2 * pad) / 2);
  const y = (value: number) => top + plotHeight - ((value - lo) / (hi - lo)) * plotHeight;
  const segments: string[][] = [[]];
  for (const p of points) {
    if (p.value === null || !Number.isFinite(p.value)) segments.push([]);
    else segments[segments.length - 1].push(`${px(x(p.frame))},${px(y(p.value))}`);
  }
  const lines = segments
    .filter((s) => s.length > 1)
    .map((s) => `<polyline points="${s.join(' ')}"/>`)
    .join('');
  const dots = finite.map((p) => `<circle cx="${px(x(p.frame))}" cy="${px(y(p.value))}" r="1.6"/>`).join('');
  const range = `<text x="${size.width - pad}" y="${size.height - 2}" class="range">${escapeHtml(shortNumber(Math.min(...finite.map((p) => p.value))))} – ${escapeHtml(shortNumber(Math.max(...finite.map((p) => p.value))))}</text>`;
  return `<svg class="spark" data-feature="${escapeHtml(name)}" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}" role="img" aria-label="${escapeHtml(name)} across frames">${header}${range}${lines}${dots}</svg>`;
}

/** A dot per clip on one horizontal axis per row (the summary chart): label, dot, value. */
export function dotChart(title: string, rows: ReadonlyArray<{ label: string; value: number | null; href?: string }>, width = 380): string {
  const rowHeight = 16;
  const labelWidth = 170;
  const valueWidth = 64;
  const axis = width - labelWidth - valueWidth - 12;
  const finite = rows.map((r) => r.value).filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = finite.length ? extent(finite) : [0, 1];
  const height = 22 + rows.length * rowHeight + 16;
  const body = rows
    .map((row, i) => {
      const cy = 22 + i * rowHeight + rowHeight / 2;
      const label = `<text x="${labelWidth - 6}" y="${px(cy + 4)}" class="label">${escapeHtml(row.label.length > 25 ? `…${row.label.slice(-24)}` : row.label)}</text>`;
      const guide = `<line x1="${labelWidth}" x2="${labelWidth + axis}" y1="${px(cy)}" y2="${px(cy)}" class="guide"/>`;
      const dot =
        row.value !== null && Number.isFinite(row.value)
          ? `<circle cx="${px(labelWidth + ((row.value - lo) / (hi - lo)) * axis)}" cy="${px(cy)}" r="3.5"/>`
          : '';
      const value = `<text x="${labelWidth + axis + 8}" y="${px(cy + 4)}" class="value">${escapeHtml(shortNumber(row.value))}</text>`;
      const content = `${label}${guide}${dot}${value}`;
      return row.href ? `<a href="${escapeHtml(row.href)}">${content}</a>` : content;
    })
    .join('');
  const scale = `<text x="${labelWidth}" y="${height - 3}" class="range">${escapeHtml(shortNumber(lo))}</text><text x="${labelWidth + axis}" y="${height - 3}" class="range end">${escapeHtml(shortNumber(hi))}</text>`;
  return `<svg class="dots" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}"><text x="0" y="13" class="title">${escapeHtml(title)}</text>${body}${scale}</svg>`;
}
