/**
 * LOCAL RUNS ONLY: the image's `node` as SCONE's curated image provides it (a sconified node), emulated: the shim
 * that local/image-root.ts puts on the image's PATH runs
 *
 *   node --import tsx local/scone-node.ts --image-root ROOT [--ca-file PEM --mrenclave HEX --platform P,Q] -- ARGS...
 *
 * which applies the emulated SCONE runtime (local/scone-runtime.ts) and then runs the real node with the resulting
 * arguments, environment and working directory, forwarding SIGTERM/SIGINT and the exit status.
 */
import { spawn } from 'node:child_process';
import { sconeLaunch, type RuntimeSettings } from './scone-runtime.js';

function settingsOf(argv: string[]): { settings: RuntimeSettings; args: string[] } {
  const end = argv.indexOf('--');
  const own = argv.slice(0, end < 0 ? argv.length : end);
  const value = (flag: string) => {
    const i = own.indexOf(flag);
    return i >= 0 ? own[i + 1] : undefined;
  };
  const root = value('--image-root');
  if (!root) throw new Error('scone-node: --image-root is required');
  const platform = value('--platform')?.split(',').filter(Boolean);
  return { settings: { root, caFile: value('--ca-file'), mrenclave: value('--mrenclave'), platform }, args: end < 0 ? [] : argv.slice(end + 1) };
}

const { settings, args } = settingsOf(process.argv.slice(2));
let launch;
try {
  launch = await sconeLaunch(args, process.env, settings);
} catch (error) {
  process.stderr.write(`scone-node (emulated SCONE runtime): ${(error as Error).message}\n`);
  process.exit(1);
}
const child = spawn(process.execPath, launch.args, { env: launch.env, cwd: launch.cwd, stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
