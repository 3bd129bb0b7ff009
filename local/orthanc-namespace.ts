/**
 * Runs INSIDE Orthanc's own network namespace (only `lo`), started by `startLoopbackOrthanc` (local/orthanc.ts):
 * Orthanc from `<workdir>/orthanc.json`, and two bridges through Unix sockets in `<workdir>`, since the file
 * system is shared with the outside and the network is not:
 *   127.0.0.1:<hook port> here  →  <workdir>/hook.sock   (the PACS hook, outside)
 *   <workdir>/orthanc.sock      →  127.0.0.1:8042 here   (Orthanc's REST API, for the caller outside)
 * Prints one JSON line, `{"ready":true}` or `{"error":"…"}`, then runs until its namespace ends.
 *
 *   node --import tsx local/orthanc-namespace.ts <workdir> <hook port>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bridge, launchOrthanc, ORTHANC_HTTP_PORT } from './orthanc.js';

const [workdir, hookPort] = process.argv.slice(2);

try {
  await bridge({ host: '127.0.0.1', port: Number(hookPort) }, { path: join(workdir, 'hook.sock') });
  const config = JSON.parse(readFileSync(join(workdir, 'orthanc.json'), 'utf8')) as Record<string, unknown>;
  await launchOrthanc(workdir, config);
  await bridge({ path: join(workdir, 'orthanc.sock') }, { host: '127.0.0.1', port: Number(config.HttpPort ?? ORTHANC_HTTP_PORT) });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  process.exit(1);
}
