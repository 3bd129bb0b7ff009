/**
 * report.html: one self-contained file (inline style, images as data: URIs, inline SVG; a CSP meta tag forbids
 * every fetch), readable offline. On top a summary chart of z and two key features over all clips, and a table
 * of the clips (route, stage, decisions, z); then per clip the thumbnails of its anonymised frames, one small plot per texture feature across frames, the Doppler
 * and texture decisions, and z with the classifier's "unvalidated" caveat.
 */
import { readFile } from 'node:fs/promises';
import { TEXTURE_FEATURE_NAMES } from './analysis.js';
import type { ClipRecord } from './clip-records.js';
import { dotChart, escapeHtml, featureSparkline } from './svg-plots.js';
import { thumbnailDataUri } from './thumbnail.js';
import { framePngs } from './zip-reader.js';

/** Features shown in the summary besides z. */
export const SUMMARY_FEATURES = ['mean_meanVelocity', 'mean_entropy'] as const;

const CAVEAT =
  "z and the label come from the original classifier's rule (RHD if z > 0). That classifier is degenerate and unvalidated: " +
  'the label is not a diagnosis. The view (parasternal long axis) was not assessed.';

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1200px}
h1{font-size:1.35rem;margin:0 0 .3rem}h2{font-size:1.05rem;margin:0 0 .4rem}
.caveat{background:#fff4e5;border-left:4px solid #e37400;padding:.5rem .8rem;margin:.8rem 0}
.summary{display:flex;flex-wrap:wrap;gap:1.5rem;margin:1rem 0 2rem}
.clip{border-top:1px solid #ccc;padding:1rem 0}
.facts{border-collapse:collapse;margin:.3rem 0 .6rem}.facts td{padding:.1rem .8rem .1rem 0;vertical-align:top}.facts td:first-child{color:#666}
.frames{display:flex;flex-wrap:wrap;gap:3px;margin:.4rem 0}.frames img{width:60px;height:auto;border:1px solid #ddd;background:#000}
.plots{display:flex;flex-wrap:wrap;gap:4px}
svg text{font:9px system-ui,sans-serif;fill:#444}svg .name{font-weight:600}svg .range{text-anchor:end;fill:#888}svg .range.end{text-anchor:end}
svg.dots .range{text-anchor:start}svg.dots .range.end{text-anchor:end}svg .title{font-size:11px;font-weight:600;fill:#222}svg .label{text-anchor:end}
.spark polyline{fill:none;stroke:#2b7de9;stroke-width:1.2}.spark circle{fill:#2b7de9}.spark{background:#fafafa;border:1px solid #eee}
.dots circle{fill:#c5221f}.dots .guide{stroke:#e5e5e5}
.failed{color:#c5221f}.unvalidated{color:#e37400;font-weight:600}
.clips{border-collapse:collapse;margin:0 0 1.5rem}.clips th,.clips td{padding:.15rem .7rem .15rem 0;text-align:left}.clips th{color:#666;font-weight:600;border-bottom:1px solid #ccc}.clips td.num{text-align:right}
`;

const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

export function clipLabel(record: ClipRecord): string {
  if (record.source)
    return record.source
      .split('/')
      .pop()!
      .replace(/\.mp4$/i, '');
  return record.videoId.slice(0, 12);
}

function decisions(record: ClipRecord): string {
  const a = record.analysis;
  const rows: Array<[string, string]> = [
    ['stage', `${escapeHtml(record.stage)}${record.reason ? ` <span class="failed">(${escapeHtml(record.reason)})</span>` : ''}`],
  ];
  if (record.source) rows.push(['source', escapeHtml(record.source)]);
  if (record.route) rows.push(['route', escapeHtml(record.route)]);
  if (record.error) rows.push(['worker error', `<span class="failed">${escapeHtml(record.error.reason)}</span>`]);
  if (record.problem) rows.push(['problem', `<span class="failed">${escapeHtml(record.problem)}</span>`]);
  if (a) {
    rows.push(['Doppler (frame 0)', a.doppler ? 'yes: colour Doppler found' : 'no: not a colour Doppler clip, not analysed further']);
    rows.push([
      'texture',
      `${a.textured_frames} of ${a.frames} frames textured${a.frames_without_doppler_region ? `; ${a.frames_without_doppler_region} without a Doppler region` : ''} (result: ${escapeHtml(a.result)})`,
    ]);
    const z = a.label.z === null ? 'not computed' : a.label.z.toFixed(1);
    rows.push([
      'z',
      `${escapeHtml(z)}${a.label.label ? ` → ${escapeHtml(a.label.label)}` : ''} <span class="unvalidated">${escapeHtml(a.label.label_status)}</span>`,
    ]);
  }
  return `<table class="facts">${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${v}</td></tr>`).join('')}</table>`;
}

async function frameStrip(record: ClipRecord): Promise<string> {
  if (!record.framesZip) return '';
  let frames: ReturnType<typeof framePngs>;
  try {
    frames = framePngs(await readFile(record.framesZip));
  } catch (error) {
    return `<p class="failed">frames unreadable: ${escapeHtml((error as Error).message)}</p>`;
  }
  const images = frames.map((f) => `<img alt="frame ${f.index}" title="frame ${f.index}" src="${thumbnailDataUri(f.png)}">`).join('');
  return `<div class="frames">${images}</div>`;
}

function featurePlots(record: ClipRecord): string {
  const a = record.analysis;
  if (!a || a.per_frame.length === 0) return '';
  const plots = TEXTURE_FEATURE_NAMES.map((name) =>
    featureSparkline(
      name,
      a.per_frame.map((row) => ({ frame: row.frame, value: row[name] ?? null })),
      a.frames,
    ),
  );
  return `<div class="plots">${plots.join('')}</div>`;
}

async function clipSection(record: ClipRecord): Promise<string> {
  return `<section class="clip" id="clip-${record.videoId}" data-video="${record.videoId}" data-stage="${escapeHtml(record.stage)}">
<h2>${escapeHtml(clipLabel(record))} <small>${record.videoId}</small></h2>
${decisions(record)}${await frameStrip(record)}${featurePlots(record)}</section>`;
}

function summary(records: readonly ClipRecord[]): string {
  const rows = (value: (r: ClipRecord) => number | null) =>
    records.map((r) => ({ label: clipLabel(r), value: value(r), href: `#clip-${r.videoId}` }));
  const charts = [
    dotChart(
      'z (unvalidated)',
      rows((r) => r.analysis?.label.z ?? null),
    ),
    ...SUMMARY_FEATURES.map((name) =>
      dotChart(
        name,
        rows((r) => r.analysis?.features?.[name] ?? null),
      ),
    ),
  ];
  return `<div class="summary" id="summary">${charts.join('')}</div>`;
}

/** One row per clip: how it came (route), how far it got, and its decisions. */
function clipsTable(records: readonly ClipRecord[]): string {
  const rows = records.map((r) => {
    const a = r.analysis;
    const cells = [
      `<a href="#clip-${r.videoId}">${escapeHtml(clipLabel(r))}</a>`,
      escapeHtml(r.route ?? ''),
      `${escapeHtml(r.stage)}${r.reason ? ` <span class="failed">(${escapeHtml(r.reason)})</span>` : ''}`,
      a ? (a.doppler ? 'yes' : 'no') : '',
      a ? `${a.textured_frames} of ${a.frames}` : '',
      a?.label.z === null || a?.label.z === undefined ? '' : escapeHtml(a.label.z.toFixed(1)),
      a?.label.label ? `${escapeHtml(a.label.label)} <span class="unvalidated">${escapeHtml(a.label.label_status)}</span>` : '',
    ];
    return `<tr data-video="${r.videoId}">${cells.map((c, i) => `<td${i === 5 ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`;
  });
  const head = ['clip', 'route', 'stage', 'Doppler', 'textured frames', 'z', 'label'].map((h) => `<th>${h}</th>`).join('');
  return `<table class="clips" id="clips"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export async function reportHtml(
  job: { jobId: string; status: string },
  records: readonly ClipRecord[],
  generatedAt: Date,
): Promise<string> {
  const analysed = records.filter((r) => r.analysis?.result === 'ok').length;
  const sections: string[] = [];
  for (const record of records) sections.push(await clipSection(record));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Radiomics results, job ${escapeHtml(job.jobId)}</title><style>${STYLE}</style></head>
<body>
<h1>Radiomics results</h1>
<p>Job <code>${escapeHtml(job.jobId)}</code> (${escapeHtml(job.status)}): ${records.length} clips, ${analysed} analysed. Generated ${escapeHtml(generatedAt.toISOString().replace('T', ' ').slice(0, 19))} UTC.</p>
<p class="caveat">${escapeHtml(CAVEAT)}</p>
${summary(records)}
${clipsTable(records)}
${sections.join('\n')}
</body></html>
`;
}
