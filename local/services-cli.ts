/**
 * `node --import tsx local/services-cli.ts start|stop|status|restart`
 * Starts, stops or reports the real local services (Swift All-In-One, memcached, redis) described in services.ts.
 * Exit status: 0 on success (status: everything healthy), 1 otherwise, 2 usage. Needs no stdin (CI).
 */
import { pathToFileURL } from 'node:url';
import { UsageError, defineCommand, runCommand, shown, type Out } from '#bin/support/command-line.js';
import { servicesStatus, servicesSummary, startServices, stopServices } from './services.js';

const ACTIONS = ['start', 'stop', 'status', 'restart'] as const;
type Action = (typeof ACTIONS)[number];

export const SERVICES_CLI = defineCommand({
  program: 'services-cli.ts',
  usage: 'usage: node --import tsx local/services-cli.ts start|stop|status|restart',
  about:
    'Start, stop or report the real local services the tests and the local stack talk to (Swift All-In-One, memcached, redis), on 127.0.0.1, with their state under .local/. Needs no stdin (CI).',
  commands: [
    [
      'start',
      'start what is not running and healthy, and wait until Swift authenticates; a healthy memcached or redis already on our port is reused',
    ],
    ['stop', 'stop the daemons we started (never one we reused)'],
    ['status', "each daemon's port, state and pid, and whether Swift authenticates"],
    ['restart', 'stop, then start'],
  ],
  options: {},
  environment: [
    ['RADIOMICS_PORT_OFFSET', 'shifts every port, so that two checkouts on one machine can each run their own services (default: 0)'],
  ],
  exitStatus: [
    [0, 'done (status: everything healthy)'],
    [1, 'failed (status: Swift is not ready)'],
    [2, 'usage error'],
  ],
});

export async function main(argv: string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  return runCommand(SERVICES_CLI, argv, { out, err }, ({ positionals }) => {
    const [action] = positionals;
    if (action === undefined) throw new UsageError('a command is required: start, stop, status or restart');
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown command '${shown(action)}'`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${shown(positionals[1])}'`);
    return perform(action as Action, out);
  });
}

async function perform(action: Action, out: Out): Promise<number> {
  const say = (line: string) => out.write(`${line}\n`);
  switch (action) {
    case 'start': {
      const r = await startServices();
      const what = r.started.length === 0 ? 'already running' : `started ${r.started.join(', ')}`;
      say(`[services] ${what} in ${(r.elapsedMs / 1000).toFixed(1)} s`);
      if (r.external.length > 0) say(`[services] reusing healthy external ${r.external.join(', ')} (not ours to stop)`);
      say(servicesSummary(r.services));
      return 0;
    }
    case 'stop': {
      const r = await stopServices();
      say(r.stopped.length === 0 ? '[services] nothing of ours was running' : `[services] stopped ${r.stopped.join(', ')}`);
      return 0;
    }
    case 'restart': {
      await stopServices();
      return perform('start', out);
    }
    case 'status': {
      const r = await servicesStatus();
      for (const d of r.daemons) {
        say(`${d.name.padEnd(16)} ${String(d.port).padEnd(6)} ${d.state.padEnd(10)} ${d.pid ?? ''}`);
      }
      say(r.swiftReady === null ? 'swift: auth ok' : `swift: ${r.swiftReady}`);
      return r.swiftReady === null ? 0 : 1;
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`[services] ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
