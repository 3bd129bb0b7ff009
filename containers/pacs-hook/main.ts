/**
 * The PACS hook container's entry: its configuration from the environment (lib/pacs/config.ts: the Lambda's
 * variables plus PORT, default 8099, and HOST, default 0.0.0.0), its dependencies built once, the streaming server
 * started. SIGTERM or SIGINT closes it; a configuration that cannot start it exits 1 with one JSON log line.
 *
 *   node --import tsx containers/pacs-hook/main.ts    from the repository
 *   node server.mjs                                   in the image (the bundle of this file: build.ts, Dockerfile)
 */
import { ConfigError } from '#lib/errors.js';
import { createLogger, errorFields } from '#lib/log.js';
import { pacsHookConfig } from '#lib/pacs/config.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';
import { startPacsHookServer } from './server.js';

const log = createLogger({ function: 'pacs-hook' });
try {
  const config = pacsHookConfig();
  const hook = await startPacsHookServer(await buildPacsHookDeps(config), { ...config.listen, timeouts: config.server });
  log.info('pacs hook listening', { url: hook.url });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void hook.close().then(() => log.info('pacs hook stopped', { signal })));
  }
} catch (error) {
  log.error(error instanceof ConfigError ? 'misconfigured' : 'pacs hook failed to start', errorFields(error));
  process.exitCode = 1;
}
