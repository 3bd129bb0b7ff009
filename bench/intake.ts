/**
 * `npm run bench -- intake`: sealed republish (S3 → check → AES-128-GCM → Swift SLO, the intake's real path)
 * against a plain unencrypted copy of the same bytes through the same services (S3 → Swift PUT), in the same run.
 * Cases: 140KB (the median echo loop), 1MiB, 256MiB, 1GiB; `npm run bench -- intake 140KB 1MiB` picks some.
 * Each run is its own process so peak RSS is the run's own. Prints one JSON line per case:
 *   {case, bytes, runs, plain_s, sealed_s, ratio_vs_plain_copy, peak_rss_mb, plain_peak_rss_mb, baseline}
 * ratio_vs_plain_copy = sealed throughput ÷ plain throughput (1.0 = sealing is free).
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
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
import { startLocalDynamo } from '#local/dynamodb-local.js';
import { createS3Client } from '#lib/s3/bucket.js';

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const CASES = [
  // what hospitals send most: echo loops are 120–580 KB (median about 140 KB)
  { name: '140KB', bytes: 140 * 1024, runs: 9 },
  { name: '1MiB', bytes: MiB, runs: 5 },
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

/** `npm run bench -- intake [CASE…]` (140KB, 1MiB, 256MiB, 1GiB); all cases by default. */
export async function run(argv: readonly string[] = []): Promise<void> {
  const unknown = argv.filter((name) => !CASES.some((c) => c.name === name));
  if (unknown.length > 0) throw new Error(`unknown intake case ${unknown.join(', ')}; known: ${CASES.map((c) => c.name).join(', ')}`);
  const cases = argv.length > 0 ? CASES.filter((c) => argv.includes(c.name)) : CASES;
  const { services } = await startServices();
  const work = mkdtempSync(join(tmpdir(), 'bench-intake-'));
  const s3Local = await startLocalS3({ buckets: ['bench'], directory: join(work, 's3') });
  const dynamo = await startLocalDynamo({ tableName: 'radiomics' });
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
  try {
    for (const c of cases) {
      const file = join(work, `${c.name}.mp4`);
      await writeSyntheticMp4(file, c.bytes);
      if (statSync(file).size !== c.bytes) throw new Error('synthetic file has the wrong size');
      const key = `bench/${c.name}.mp4`;
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: createReadStream(file), ContentLength: c.bytes }));
      rmSync(file);
      const measure = async (mode: 'plain' | 'sealed') => {
        const args = { mode, services, s3Endpoint: s3Local.endpoint, dynamoEndpoint: dynamo.endpoint, bucket: 'bench', key, bytes: c.bytes, container: `bench${randomBytes(3).toString('hex')}`, masterKeyB64 };
        const { stdout } = await execFileAsync(process.execPath, [child, JSON.stringify(args)], { maxBuffer: 1 << 20, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
        return JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number; peak_rss_mb: number };
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
          plain_s: Number(plainS.toFixed(3)),
          sealed_s: Number(sealedS.toFixed(3)),
          ratio_vs_plain_copy: Number((plainS / sealedS).toFixed(3)),
          peak_rss_mb: Math.max(...sealed.map((r) => r.peak_rss_mb)),
          plain_peak_rss_mb: Math.max(...plain.map((r) => r.peak_rss_mb)),
          baseline: 'plain unencrypted copy S3 GET → Swift PUT of the same bytes through the same local services, same run',
        }),
      );
    }
  } finally {
    s3.destroy();
    await s3Local.close();
    await dynamo.close();
    rmSync(work, { recursive: true, force: true });
  }
}
