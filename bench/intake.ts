/**
 * `npm run bench -- intake`: the intake's real path (S3 → check → AES-128-GCM → Swift, with its table writes)
 * against a plain unencrypted copy of the same bytes through the same services (S3 GET → one Swift PUT), in the
 * same run. `npm run bench -- intake clips 1MiB` picks cases; all by default.
 * - `clips`: the sample echo loops (../shared/samples/videos, 119–582 KB), one warm process (as a warm Lambda),
 *   a warm-up round then 3 measured rounds, interleaved with the plain copy; at concurrency 1, 8 and 32. Prints
 *     {case: "clips", concurrency, clips, per_clip_ms_sealed, per_clip_ms_plain, clips_per_s_sealed, clips_per_s_plain,
 *      ratio_vs_plain_copy, swift_requests_per_clip, table_requests_per_clip, s3_requests_per_clip, peak_rss_mb}
 *   with requests counted by wrapping the clients the intake is given.
 * - 140KB, 1MiB, 256MiB, 1GiB (and on request 2MiB, 4MiB, 8MiB, 16MiB, 64MiB): a synthetic MP4, each run its own process so
 *   peak RSS is the run's own, timed after an untimed 140 KB warm-up of the same kind (a warm Lambda). Prints
 *     {case, bytes, runs, sealed_as ("one_put" in memory, or "slo" streamed), plain_s, sealed_s, ratio_vs_plain_copy,
 *      peak_rss_mb, plain_peak_rss_mb, baseline}
 * ratio_vs_plain_copy = sealed throughput ÷ plain throughput (1.0 = sealing is free).
 * `--single-put-max-bytes N` overrides the intake's in-memory threshold (to measure where it should sit).
 */
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { startServices } from '#local/services.js';
import { startLocalS3 } from '#local/s3-local.js';
import { dynamoClients } from '#local/dynamodb-local.js';
import { ensureTable } from '#lib/store/table.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { DEFAULT_SINGLE_PUT_MAX_BYTES } from '#lib/seal/sealed-upload.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { removeContainers } from '#local/swift-cleanup.js';
import { loadServices, SHARED_DIR, type LocalServices } from '#local/service-endpoints.js';
import type { ClipObject, ClipsFigures } from './intake-child.js';

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
/** One text for every row, so that bench/to-markdown.ts puts it once under the table. */
const BASELINE =
  'plain unencrypted copy S3 GET → one Swift PUT of the same bytes through the same local services, in the same run, both warm';
const CLIP_CONCURRENCY = [1, 8, 32];
const CLIP_ROUNDS = 3;
const CASES = [
  // what hospitals send most: echo loops are 120–580 KB (median about 140 KB)
  { name: 'clips', bytes: 0, runs: CLIP_ROUNDS },
  { name: '140KB', bytes: 140 * 1024, runs: 9 },
  { name: '1MiB', bytes: MiB, runs: 5 },
  // on request only: where the in-memory single PUT should give way to the streamed SLO
  { name: '2MiB', bytes: 2 * MiB, runs: 5, onRequest: true },
  { name: '4MiB', bytes: 4 * MiB, runs: 5, onRequest: true },
  { name: '8MiB', bytes: 8 * MiB, runs: 5, onRequest: true },
  { name: '16MiB', bytes: 16 * MiB, runs: 3, onRequest: true },
  { name: '64MiB', bytes: 64 * MiB, runs: 3, onRequest: true },
  { name: '256MiB', bytes: 256 * MiB, runs: 3 },
  { name: '1GiB', bytes: 1024 * MiB, runs: 3 },
];

function box(type: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, payload]);
}

/** A structurally valid MP4 (ftyp, moov, mdat) of exactly `bytes`, written without holding it in memory. */
async function writeSyntheticMp4(path: string, bytes: number): Promise<void> {
  const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2avc1mp41', 'latin1'));
  const moov = box('moov', Buffer.alloc(64));
  const mdatPayload = bytes - ftyp.length - moov.length - 8;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(8 + mdatPayload, 0);
  const block = randomBytes(MiB);
  let left = mdatPayload;
  const file = createWriteStream(path);
  file.write(Buffer.concat([ftyp, moov, header, Buffer.from('mdat', 'latin1')]));
  while (left > 0) {
    const chunk = block.subarray(0, Math.min(left, block.length));
    left -= chunk.length;
    if (!file.write(chunk)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** `npm run bench -- intake [CASE…] [--single-put-max-bytes N]` (clips, 140KB, 1MiB, 256MiB, 1GiB); all cases by default. */
export async function run(argv: readonly string[] = []): Promise<void> {
  const options = [...argv];
  const flag = options.indexOf('--single-put-max-bytes');
  const singlePutMaxBytes = flag >= 0 ? Number(options.splice(flag, 2)[1]) : undefined;
  if (singlePutMaxBytes !== undefined && !(Number.isSafeInteger(singlePutMaxBytes) && singlePutMaxBytes >= 0)) {
    throw new Error('--single-put-max-bytes takes a whole number of bytes');
  }
  const unknown = options.filter((name) => !CASES.some((c) => c.name === name));
  if (unknown.length > 0) throw new Error(`unknown intake case ${unknown.join(', ')}; known: ${CASES.map((c) => c.name).join(', ')}`);
  const cases = options.length > 0 ? CASES.filter((c) => options.includes(c.name)) : CASES.filter((c) => !('onRequest' in c));
  const services = await runningServices();
  const work = mkdtempSync(join(tmpdir(), 'bench-intake-'));
  const s3Local = await startLocalS3({ buckets: ['bench'], directory: join(work, 's3') });
  const dynamo = await startDynamoProcess();
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: s3Local.endpoint, credentials: s3Local.credentials });
  const masterKeyB64 = randomBytes(32).toString('base64');
  // measured as deployed: one esbuild bundle run by plain node (no TypeScript loader in the measured process)
  const child = join(work, 'intake-child.mjs');
  await build({
    entryPoints: [join(here, 'intake-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: child,
    logLevel: 'error',
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  const runChild = async (args: Record<string, unknown>) => {
    const { stdout } = await execFileAsync(process.execPath, [child, JSON.stringify({ ...args, singlePutMaxBytes })], {
      maxBuffer: 1 << 20,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const lines = stdout.trim().split('\n');
    const created = JSON.parse(lines.pop()!) as { created_containers: string[] };
    benchContainers.push(...created.created_containers);
    return lines;
  };
  const benchContainers: string[] = [];
  try {
    const warmUp = { key: 'bench/warm-up.mp4', eTag: '', bytes: 140 * 1024 };
    const warmFile = join(work, 'warm-up.mp4');
    await writeSyntheticMp4(warmFile, warmUp.bytes);
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: warmUp.key, Body: readFileSync(warmFile) }));
    for (const c of cases) {
      if (c.name === 'clips') {
        const container = `benchclips${randomBytes(3).toString('hex')}`;
        const { originals, copies } = await uploadClips(s3, CLIP_ROUNDS);
        const lines = await runChild({
          mode: 'clips',
          services,
          s3Endpoint: s3Local.endpoint,
          dynamoEndpoint: dynamo.endpoint,
          bucket: 'bench',
          container,
          masterKeyB64,
          originals,
          copies,
          batchMaxItems: 50,
        });
        for (const line of lines)
          console.log(
            JSON.stringify({
              ...(JSON.parse(line) as ClipsFigures),
              baseline: BASELINE,
            }),
          );
        continue;
      }
      const file = join(work, `${c.name}.mp4`);
      await writeSyntheticMp4(file, c.bytes);
      if (statSync(file).size !== c.bytes) throw new Error('synthetic file has the wrong size');
      const key = `bench/${c.name}.mp4`;
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: createReadStream(file), ContentLength: c.bytes }));
      rmSync(file);
      const measure = async (mode: 'plain' | 'sealed') => {
        const container = `bench${randomBytes(3).toString('hex')}`;
        const lines = await runChild({
          mode,
          services,
          s3Endpoint: s3Local.endpoint,
          dynamoEndpoint: dynamo.endpoint,
          bucket: 'bench',
          key,
          bytes: c.bytes,
          container,
          masterKeyB64,
          warmUp,
        });
        return JSON.parse(lines.pop()!) as { seconds: number; peak_rss_mb: number };
      };
      const plain: Array<{ seconds: number; peak_rss_mb: number }> = [];
      const sealed: Array<{ seconds: number; peak_rss_mb: number }> = [];
      for (let i = 0; i < c.runs; i++) {
        plain.push(await measure('plain'));
        sealed.push(await measure('sealed'));
      }
      const plainS = median(plain.map((r) => r.seconds));
      const sealedS = median(sealed.map((r) => r.seconds));
      console.log(
        JSON.stringify({
          case: c.name,
          bytes: c.bytes,
          runs: c.runs,
          sealed_as: c.bytes <= (singlePutMaxBytes ?? DEFAULT_SINGLE_PUT_MAX_BYTES) ? 'one_put' : 'slo',
          plain_s: Number(plainS.toFixed(3)),
          sealed_s: Number(sealedS.toFixed(3)),
          ratio_vs_plain_copy: Number((plainS / sealedS).toFixed(3)),
          peak_rss_mb: Math.max(...sealed.map((r) => r.peak_rss_mb)),
          plain_peak_rss_mb: Math.max(...plain.map((r) => r.peak_rss_mb)),
          baseline: BASELINE,
        }),
      );
    }
  } finally {
    await cleanUp(services, benchContainers).catch(() => undefined);
    s3.destroy();
    await s3Local.close();
    await dynamo.close();
    rmSync(work, { recursive: true, force: true });
  }
}

const CLIPS_DIR = join(SHARED_DIR, 'samples', 'videos');

/** Uploads each sample clip once (what the plain copy reads) and once more per concurrency and round, warm-up included. */
async function uploadClips(
  s3: ReturnType<typeof createS3Client>,
  rounds: number,
): Promise<{ originals: ClipObject[]; copies: Record<string, ClipObject[][]> }> {
  const names = readdirSync(CLIPS_DIR)
    .filter((name) => name.toUpperCase().endsWith('.MP4'))
    .sort();
  const bodies = names.map((name) => readFileSync(join(CLIPS_DIR, name)));
  const put = async (key: string, body: Buffer): Promise<ClipObject> => {
    const answer = await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: body }));
    return { key, eTag: (answer.ETag ?? '').replace(/"/g, ''), bytes: body.length };
  };
  const originals = await Promise.all(names.map((name, i) => put(`bench/clips/${name}`, bodies[i])));
  const copies: Record<string, ClipObject[][]> = {};
  for (const level of CLIP_CONCURRENCY) {
    copies[level] = [];
    for (let r = 0; r <= rounds; r++)
      copies[level].push(await Promise.all(names.map((name, i) => put(`bench/clips/c${level}r${r}/${name}`, bodies[i]))));
  }
  return { originals, copies };
}

/**
 * The local services as they run; started only when they are not, so that a measurement never restarts the daemons
 * other work is using (startServices restarts a daemon whose configuration differs from what it would write).
 */
async function runningServices(): Promise<LocalServices> {
  try {
    return loadServices();
  } catch {
    return (await startServices()).services;
  }
}

async function cleanUp(services: LocalServices, containers: string[]): Promise<void> {
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  await removeContainers(swift, containers);
}

/**
 * dynalite in a process of its own, as DynamoDB is a service of its own: in the bench's process it would share one
 * event loop with s3rver, and the intake's table writes would queue behind the S3 requests they overlap.
 */
async function startDynamoProcess(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
    probe.once('error', reject);
  });
  const cli = join(dirname(createRequire(import.meta.url).resolve('dynalite/package.json')), 'cli.js');
  const child = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', String(port), '--createTableMs', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited (${code})`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const { client } = dynamoClients(endpoint);
  await ensureTable(client, 'radiomics');
  client.destroy();
  return {
    endpoint,
    async close() {
      child.removeAllListeners('exit');
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}
