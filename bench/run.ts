/**
 * `npm run bench -- NAME [ARGS…]`: runs bench/NAME.ts, which prints one JSON object per line, each with its figures
 * against a baseline measured in the same run (a ratio, not an absolute time). ARGS go to the bench untouched.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError, defineCommand, runCommand, shown, type Out } from '#bin/support/command-line.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BENCHES = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.includes('-'))
  .map((file) => file.slice(0, -3))
  .sort();

export const BENCH = defineCommand({
  program: 'bench',
  usage: `usage: npm run bench -- <${BENCHES.join('|')}> [ARGS...]`,
  about:
    'Run bench/NAME.ts. It prints one JSON object per line, each with its figures against a baseline measured in the same run (a ratio, not an absolute time). The header of bench/NAME.ts says what it measures.',
  arguments: [
    ['NAME', `the bench: ${BENCHES.join(', ')}`],
    [
      'ARGS',
      "handed to the bench untouched: analyze [CLIP_DIR], intake [CASE...] (clips, 140KB, 1MiB, 256MiB, 1GiB; all by default), worker [N] (clips, default 6); see the bench's header",
    ],
  ],
  options: {},
  environment: [
    ['BENCH_SYNC_JOBS', 'sync: the number of active jobs (default: 10000)'],
    ['RADIOMICS_PORT_OFFSET', 'shifts the ports of the local services the benches start or reuse (default: 0)'],
  ],
  exitStatus: [
    [0, 'measured'],
    [1, 'the bench failed'],
    [2, 'usage error: no bench or an unknown one'],
  ],
});

export async function main(argv: string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name !== undefined && BENCHES.includes(name)) {
    const bench = (await import(`./${name}.ts`)) as { run(args: string[]): Promise<void> };
    await bench.run(rest);
    return 0;
  }
  // Only -h/--help comes before NAME; anything else there is an unknown option or bench.
  return runCommand(BENCH, name === undefined ? [] : [name], { out, err }, () => {
    throw new UsageError(name === undefined ? 'a bench NAME is required' : `unknown bench '${shown(name)}'`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
