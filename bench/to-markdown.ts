/**
 * `npm run bench -- NAME | node --import tsx bench/to-markdown.ts NAME [FILE] [--doc PATH] [--note TEXT]`:
 * turns the JSON lines a bench printed (from FILE, else stdin) into a table, and puts it, with the date and the
 * machine, between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in docs/measurements.md (or PATH).
 * Lines that are not JSON objects (npm's banner) are skipped. A string that is the same long text on every row
 * (a bench's `baseline`) goes under the table instead of into each row.
 * Exit 2 on a usage error; 1 when no JSON line came or the document has no such block.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type BenchRow = Record<string, unknown>;

class BenchBlockError extends Error {}

const LONG_TEXT = 40;

function parseBenchLines(text: string): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const value = JSON.parse(trimmed) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) rows.push(value as BenchRow);
    } catch {
      // a log line that happens to start with "{"
    }
  }
  return rows;
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Rows of different shapes (a bench's cases measuring different things) as separate tables: a row starts a new one
 * when it shares fewer than half of its plain columns with the table so far.
 */
function groupByShape(rows: readonly BenchRow[], omitted: readonly string[]): BenchRow[][] {
  const groups: Array<{ columns: Set<string>; rows: BenchRow[] }> = [];
  for (const row of rows) {
    const columns = Object.keys(row).filter((key) => !omitted.includes(key) && !isRecord(row[key]));
    const current = groups.at(-1);
    if (current && columns.filter((key) => current.columns.has(key)).length * 2 >= columns.length) {
      for (const key of columns) current.columns.add(key);
      current.rows.push(row);
    } else {
      groups.push({ columns: new Set(columns), rows: [row] });
    }
  }
  return groups.map((group) => group.rows);
}

/** One table; a nested object (per-call timings) becomes a line under it, named by the row's first two cells. */
function shapeTable(rows: readonly BenchRow[], omitted: readonly string[]): string[] {
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((key) => !omitted.includes(key));
  const columns = keys.filter((key) => rows.some((row) => row[key] !== undefined && !isRecord(row[key])));
  const lines = [
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${columns.map((key) => cell(row[key])).join(' | ')} |`),
  ];
  const nested = rows.flatMap((row) =>
    Object.entries(row)
      .filter(([key, value]) => !omitted.includes(key) && isRecord(value))
      .map(([key, value]) => {
        const label = columns
          .slice(0, 2)
          .map((column) => `${column} ${cell(row[column])}`)
          .join(', ');
        const entries = Object.entries(value as Record<string, unknown>).map(([name, figure]) => `${name} ${cell(figure)}`);
        return `${key} (${label}): ${entries.join(', ')}`;
      }),
  );
  if (nested.length > 0) lines.push('', ...nested);
  return lines;
}

/** The rows as Markdown tables (one per shape), then the long texts every row shares, then `measured` in italics. */
function benchTable(rows: readonly BenchRow[], measured: string): string {
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const shared = keys.filter((key) => {
    const values = new Set(rows.map((row) => row[key]));
    const [only] = values;
    return values.size === 1 && typeof only === 'string' && only.length > LONG_TEXT;
  });
  const lines = groupByShape(rows, shared).flatMap((group, index) => [...(index > 0 ? [''] : []), ...shapeTable(group, shared)]);
  if (shared.length > 0) lines.push('', ...shared.map((key) => `${key}: ${cell(rows[0][key])}`));
  lines.push('', `_${measured}_`);
  return lines.join('\n');
}

/** `doc` with the block between the lines `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` holding `content`. */
function replaceBenchBlock(doc: string, name: string, content: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const lines = doc.split('\n');
  const at = (marker: string) => lines.flatMap((line, index) => (line.trim() === marker ? [index] : []));
  const [starts, ends] = [at(open), at(close)];
  if (starts.length > 1 || ends.length > 1) throw new BenchBlockError(`block ${open} appears twice`);
  if (starts.length === 0 || ends.length === 0 || ends[0] < starts[0]) throw new BenchBlockError(`no block ${open} … ${close}`);
  return [...lines.slice(0, starts[0] + 1), content, ...lines.slice(ends[0])].join('\n');
}

function machine(): string {
  const cores = cpus();
  return `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: node --import tsx bench/to-markdown.ts NAME [FILE] [--doc PATH] [--note TEXT]\n`);
  process.exit(2);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<void> {
  const positional: string[] = [];
  let doc = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'measurements.md');
  let note: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--doc' || arg === '--note') {
      const value = argv[++i];
      if (!value) usage(`${arg} needs a value`);
      if (arg === '--doc') doc = value;
      else note = value;
    } else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [name, file, extra] = positional;
  if (!name || extra !== undefined) usage(name ? 'too many arguments' : 'NAME is required');
  if (!/^[a-z0-9-]+$/.test(name)) usage(`NAME must be a bench name such as intake, not ${JSON.stringify(name)}`);
  const rows = parseBenchLines(file && file !== '-' ? readFileSync(file, 'utf8') : await readStdin());
  if (rows.length === 0) {
    process.stderr.write(`no JSON lines from npm run bench -- ${name}; ${doc} left as it was\n`);
    process.exit(1);
  }
  const date = new Date().toISOString().slice(0, 10);
  const measured = [`npm run bench -- ${name}, ${date}, ${machine()}`, note].filter(Boolean).join('; ');
  try {
    writeFileSync(doc, replaceBenchBlock(readFileSync(doc, 'utf8'), name, benchTable(rows, measured)));
  } catch (error) {
    if (!(error instanceof BenchBlockError)) throw error;
    process.stderr.write(`${doc}: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${doc}: bench:${name} now holds ${rows.length} row(s)\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
