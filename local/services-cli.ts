/**
 * `node --import tsx local/services-cli.ts start|stop|status|restart`
 * Starts, stops or reports the real local services (Swift All-In-One, memcached, redis) described in services.ts.
 * Exit status: 0 on success (status: everything healthy), 1 otherwise. Needs no stdin (CI).
 */
import { servicesStatus, servicesSummary, startServices, stopServices } from './services.js';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'start': {
      const r = await startServices();
      const what = r.started.length === 0 ? 'already running' : `started ${r.started.join(', ')}`;
      console.log(`[services] ${what} in ${(r.elapsedMs / 1000).toFixed(1)} s`);
      if (r.external.length > 0) console.log(`[services] reusing healthy external ${r.external.join(', ')} (not ours to stop)`);
      console.log(servicesSummary(r.services));
      return 0;
    }
    case 'stop': {
      const r = await stopServices();
      console.log(r.stopped.length === 0 ? '[services] nothing of ours was running' : `[services] stopped ${r.stopped.join(', ')}`);
      return 0;
    }
    case 'restart': {
      await stopServices();
      return main('start');
    }
    case 'status': {
      const r = await servicesStatus();
      for (const d of r.daemons) {
        console.log(`${d.name.padEnd(16)} ${String(d.port).padEnd(6)} ${d.state.padEnd(10)} ${d.pid ?? ''}`);
      }
      console.log(r.swiftReady === null ? 'swift: auth ok' : `swift: ${r.swiftReady}`);
      return r.swiftReady === null ? 0 : 1;
    }
    default:
      console.error('usage: services-cli.ts start|stop|status|restart');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[services] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
