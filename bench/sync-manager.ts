/**
 * A purpose-built fake Asperathos manager for `npm run bench -- sync`, run as a child process so it does not
 * share the bench's event loop. It answers only what sync-status calls, in the shapes of protocols.md §5:
 * `GET /submissions/<id>` (status ongoing, starting_time, visualizer_url, redis_ip/port, and the emulator's
 * items / processed_items, which advance by one on every poll so every job changes on every tick: the worst
 * case, each poll also reads /errors and writes the row) and `GET /submissions/<id>/errors` (`[]`).
 * Why not the emulator: it gives each job its own Redis database (15 per server) and real worker processes,
 * so it cannot hold 10,000 active jobs at once.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const ITEMS = 50;
const polls = new Map<string, number>();
const server = createServer((req, res) => {
  const m = /^\/submissions\/([^/]+?)(\/errors)?(?:\.json)?$/.exec(req.url ?? '');
  if (!m || req.method !== 'GET') {
    res.writeHead(400, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error_code: 400, error_message: '', error_name: 'BAD_REQUEST' }));
  }
  const id = decodeURIComponent(m[1]);
  let body: unknown;
  if (m[2]) body = [];
  else {
    const n = (polls.get(id) ?? 0) + 1;
    polls.set(id, n);
    body = {
      app_id: id,
      status: 'ongoing',
      starting_time: '2026-01-01T00:00:00.000000GMT',
      visualizer_url: 'URL not generated!',
      redis_ip: '10.0.0.1',
      redis_port: 6379,
      items: ITEMS,
      processed_items: Math.min(ITEMS, n),
    };
  }
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('disconnect', () => process.exit(0));
