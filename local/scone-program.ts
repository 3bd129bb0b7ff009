/**
 * LOCAL RUNS ONLY: a program of the image as SCONE's curated images provide it (sconified node, sconified ffmpeg),
 * emulated. The shims local/image-root.ts puts in the image (`/usr/local/bin/node`, `/usr/bin/ffmpeg`) run
 *
 *   node --import tsx local/scone-program.ts --image-root ROOT --program node|/usr/bin/ffmpeg
 *        [--ca-file PEM --mrenclave HEX --platform P,Q] -- ARGS...
 *
 * which applies the emulated SCONE runtime (local/scone-runtime.ts) and then runs the real program (this node, or
 * the host's ffmpeg) with the resulting arguments, environment and working directory, sharing stdio, forwarding
 * SIGTERM/SIGINT and the exit status.
 */
import { spawn } from 'node:child_process';
import { sconeLaunch, type Launch, type RuntimeSettings } from './scone-runtime.js';

function settingsOf(argv: string[]): { settings: RuntimeSettings; args: string[] } {
  const end = argv.indexOf('--');
  const own = argv.slice(0, end < 0 ? argv.length : end);
  const value = (flag: string) => {
    const i = own.indexOf(flag);
    return i >= 0 ? own[i + 1] : undefined;
  };
  const root = value('--image-root');
  const program = value('--program');
  if (!root || !program) throw new Error('scone-program: --image-root and --program are required');
  const platform = value('--platform')?.split(',').filter(Boolean);
  return {
    settings: { root, program, caFile: value('--ca-file'), mrenclave: value('--mrenclave'), platform },
    args: end < 0 ? [] : argv.slice(end + 1),
  };
}

const { settings, args } = settingsOf(process.argv.slice(2));
let launch: Launch;
try {
  launch = await sconeLaunch(args, process.env, settings);
} catch (error) {
  process.stderr.write(`scone-program (emulated SCONE runtime): ${(error as Error).message}\n`);
  process.exit(1);
}
const child = spawn(launch.program, launch.args, { env: launch.env, cwd: launch.cwd, stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
