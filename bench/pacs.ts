/**
 * `npm run bench -- pacs`: STOW-RS ingest of a ~500 MB multi-instance study (50 Ultrasound Multi-frame instances
 * of 10 MiB, one chunked multipart request, as Orthanc sends a study) against a plain HTTP upload of the same
 * bytes to the same hook (one raw POST /instances per instance), in the same run, both into the same s3rver.
 * The hook runs as its own process (bench/pacs-server.ts); its RSS is sampled every 20 ms.
 * Prints one JSON line:
 *   {case, bytes, instances, plain_mb_s, stow_mb_s, ratio_vs_plain_upload, peak_rss_mb, plain_peak_rss_mb, peak_rss_mb_100mb_study}
 * ratio_vs_plain_upload = STOW-RS throughput ÷ plain-upload throughput (target ≥ 0.7); peak_rss_mb is the hook's
 * peak during the 500 MB STOW-RS request; compare it with the 100 MB study's to see it is flat in the study size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalS3 } from '#local/s3-local.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const INSTANCE_PIXEL_BYTES = 10 * MiB;
const US_MF = '1.2.840.10008.5.1.4.1.1.3.1';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const LONG = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);

function element(group: number, el: number, vr: string, value: Buffer): Buffer {
  const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : value;
  const head = Buffer.alloc(LONG.has(vr) ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(el, 2);
  head.write(vr, 4, 'latin1');
  if (LONG.has(vr)) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}
const str = (s: string) => Buffer.from(s, 'latin1');
const us = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/** Everything of instance `i` before its pixel bytes: preamble, meta, data set, and the PixelData header. */
function instanceHead(i: number, pixelBytes: number): Buffer {
  const sop = `1.2.826.0.1.3680043.8.498.77.${String(i).padStart(6, '0')}`;
  const metaBody = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 0x0002, 'UI', str(US_MF)),
    element(0x0002, 0x0003, 'UI', str(sop)),
    element(0x0002, 0x0010, 'UI', str(EXPLICIT_LE)),
    element(0x0002, 0x0012, 'UI', str('1.2.826.0.1.3680043.8.498.9')),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);
  const pixelHead = Buffer.alloc(12);
  pixelHead.writeUInt16LE(0x7fe0, 0);
  pixelHead.writeUInt16LE(0x0010, 2);
  pixelHead.write('OB', 4, 'latin1');
  pixelHead.writeUInt32LE(pixelBytes, 8);
  return Buffer.concat([
    Buffer.alloc(128),
    str('DICM'),
    element(0x0002, 0x0000, 'UL', groupLength),
    metaBody,
    element(0x0008, 0x0016, 'UI', str(US_MF)),
    element(0x0008, 0x0018, 'UI', str(sop)),
    element(0x0020, 0x000d, 'UI', str('1.2.826.0.1.3680043.8.498.77.1')),
    element(0x0020, 0x000e, 'UI', str('1.2.826.0.1.3680043.8.498.77.2')),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0004, 'CS', str('MONOCHROME2')),
    element(0x0028, 0x0008, 'IS', str('10')),
    element(0x0028, 0x0010, 'US', us(1024)),
    element(0x0028, 0x0011, 'US', us(1024)),
    element(0x0028, 0x0100, 'US', us(8)),
    pixelHead,
  ]);
}

interface Sampler {
  peakMb(): number;
  reset(): void;
  stop(): void;
}

function sampleRss(pid: number): Sampler {
  let peak = 0;
  const read = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (match) peak = Math.max(peak, Number(match[1]) / 1024);
  };
  const timer = setInterval(read, 20);
  return {
    peakMb: () => {
      read();
      return Math.round(peak);
    },
    reset: () => {
      peak = 0;
    },
    stop: () => clearInterval(timer),
  };
}

async function post(
  port: number,
  path: string,
  headers: Record<string, string | number>,
  body: (send: (chunk: Buffer) => Promise<void>) => Promise<void>,
) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    const send = (chunk: Buffer) =>
      new Promise<void>((ok) => {
        if (req.write(chunk)) ok();
        else req.once('drain', ok);
      });
    body(send).then(() => req.end(), reject);
  });
}

async function plainUpload(port: number, token: string, instances: number, pixels: Buffer): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < instances; i++) {
    const head = instanceHead(i, pixels.length);
    const answer = await post(
      port,
      '/instances',
      { authorization: `Bearer ${token}`, 'content-length': head.length + pixels.length },
      async (send) => {
        await send(head);
        await send(pixels);
      },
    );
    if (answer.status !== 200) throw new Error(`plain upload ${i}: ${answer.status} ${answer.text}`);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function stowStudy(port: number, token: string, instances: number, pixels: Buffer): Promise<number> {
  const boundary = `${randomUUID()}-${randomUUID()}`;
  const started = process.hrtime.bigint();
  const answer = await post(
    port,
    '/dicomweb/studies',
    {
      authorization: `Bearer ${token}`,
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      accept: 'application/dicom+json',
      'transfer-encoding': 'chunked',
    },
    async (send) => {
      for (let i = 0; i < instances; i++) {
        const head = instanceHead(i, pixels.length);
        await send(
          Buffer.from(
            `${i ? '\r\n' : ''}--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${head.length + pixels.length}\r\n\r\n`,
            'latin1',
          ),
        );
        await send(head);
        await send(pixels);
      }
      await send(Buffer.from(`\r\n--${boundary}--`, 'latin1'));
    },
  );
  if (answer.status !== 200) throw new Error(`STOW-RS: ${answer.status} ${answer.text.slice(0, 500)}`);
  const referenced = (JSON.parse(answer.text)['00081199'].Value as unknown[]).length;
  if (referenced !== instances) throw new Error(`STOW-RS referenced ${referenced} of ${instances}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export async function run(): Promise<void> {
  const bucket = 'pacs-bench';
  const s3 = await startLocalS3({ buckets: [bucket] });
  const token = randomBytes(24).toString('base64url');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(here, 'pacs-server.ts')], {
    env: { ...process.env, PACS_BENCH_TOKEN: token, PACS_BENCH_S3: JSON.stringify({ endpoint: s3.endpoint, bucket, ...s3.credentials }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c) => {
        out += c;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line).port);
      });
      child.once('exit', (code) => reject(new Error(`hook server exited ${code}`)));
    });
    const rss = sampleRss(child.pid!);
    const pixels = randomBytes(INSTANCE_PIXEL_BYTES);
    const instances = 50;
    const bytes = instances * (instanceHead(0, pixels.length).length + pixels.length);
    await plainUpload(port, token, 3, pixels); // warm-up
    await stowStudy(port, token, 3, pixels);
    const plain: number[] = [];
    const stow: number[] = [];
    let plainPeak = 0;
    let stowPeak = 0;
    for (let round = 0; round < 2; round++) {
      rss.reset();
      plain.push(await plainUpload(port, token, instances, pixels));
      plainPeak = Math.max(plainPeak, rss.peakMb());
      rss.reset();
      stow.push(await stowStudy(port, token, instances, pixels));
      stowPeak = Math.max(stowPeak, rss.peakMb());
    }
    rss.reset();
    await stowStudy(port, token, 10, pixels);
    const smallPeak = rss.peakMb();
    rss.stop();
    const mbps = (seconds: number) => Math.round((bytes / MiB / seconds) * 10) / 10;
    const best = (values: number[]) => Math.min(...values);
    process.stdout.write(
      `${JSON.stringify({
        case: 'stow-500MB-study',
        bytes,
        instances,
        plain_s: plain.map((s) => Math.round(s * 100) / 100),
        stow_s: stow.map((s) => Math.round(s * 100) / 100),
        plain_mb_s: mbps(best(plain)),
        stow_mb_s: mbps(best(stow)),
        ratio_vs_plain_upload: Math.round((best(plain) / best(stow)) * 100) / 100,
        peak_rss_mb: stowPeak,
        plain_peak_rss_mb: plainPeak,
        peak_rss_mb_100mb_study: smallPeak,
        baseline: 'plain HTTP upload of the same bytes to the same hook (raw POST /instances per instance), same run, same s3rver',
      })}\n`,
    );
  } finally {
    child.kill('SIGTERM');
    await s3.close();
  }
}
