/**
 * `npm run bench -- NAME`: runs bench/NAME.ts, which prints one JSON object per line, each with its figures
 * against a baseline measured in the same run (a ratio, not an absolute time).
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.includes('-'))
  .map((file) => file.slice(0, -3));

const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}>\n`);
  process.exit(2);
}
const bench = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<void> };
await bench.run(process.argv.slice(3));
