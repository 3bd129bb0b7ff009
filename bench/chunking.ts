/**
 * `npm run bench -- chunking`: the hook's parsers fed 1-byte chunks vs one chunk, same bytes, same run.
 *   - DicomProbe on a file whose meta header holds 6,000 elements (60 kB): issue 12 defect 11 (was 29.7 s of CPU);
 *   - MultipartReader on a 60 kB preamble and a 15 kB part header.
 * Prints one JSON line per case: {case, bytes, whole_ms, one_byte_ms, ratio}. Linear code keeps `ratio` at the
 * per-chunk overhead (compare it with the `body` case, which was always linear), not growing with the size.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DicomProbe } from '#lib/dicom/probe.js';
import { MultipartReader } from '#lib/pacs/multipart.js';
import { buildUncompressedLoop } from '#local/dicom-fixtures.js';

const chunks = (bytes: Buffer, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

function largeMeta(count: number): Buffer {
  const file = buildUncompressedLoop();
  const groupLength = file.readUInt32LE(140);
  const element = Buffer.from([0x02, 0x00, 0x00, 0x01, 0x55, 0x49, 0x02, 0x00, 0x31, 0x00]); // (0002,0100) UI "1"
  const out = Buffer.concat([
    file.subarray(0, 144 + groupLength),
    ...Array.from({ length: count }, () => element),
    file.subarray(144 + groupLength),
  ]);
  out.writeUInt32LE(groupLength + 10 * count, 140);
  return out;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const probe = (file: Buffer, size: number) => () =>
  pipeline(Readable.from(chunks(file, size)), new DicomProbe({ maxBytes: 1 << 30 }), new Writable({ write: (_c, _e, done) => done() }));

const multipart = (body: Buffer, boundary: string, size: number) => async () => {
  const reader = new MultipartReader(Readable.from(chunks(body, size)), boundary, { maxPartBytes: 1 << 30 });
  for (let part = await reader.nextPart(); part; part = await reader.nextPart()) for await (const _ of part.body) void _;
};

export async function run(): Promise<void> {
  const boundary = 'b'.repeat(73);
  const framed = (preamble: number, header: number, body: number) =>
    Buffer.from(
      `${'a'.repeat(preamble)}\r\n--${boundary}\r\nContent-Type: application/dicom\r\nX-Pad: ${'p'.repeat(header)}\r\n\r\n${'d'.repeat(body)}\r\n--${boundary}--`,
      'latin1',
    );
  const cases: [string, Buffer, (bytes: Buffer, size: number) => () => Promise<void>][] = [
    ['probe_meta_60kB', largeMeta(6000), probe],
    ['multipart_preamble_60kB_header_15kB', framed(60_000, 15_000, 3), (b, s) => multipart(b, boundary, s)],
    ['multipart_body_75kB', framed(0, 1, 75_000), (b, s) => multipart(b, boundary, s)],
  ];
  for (const [name, bytes, work] of cases) {
    const whole = await timed(work(bytes, bytes.length));
    const oneByte = await timed(work(bytes, 1));
    process.stdout.write(
      `${JSON.stringify({ case: name, bytes: bytes.length, whole_ms: +whole.toFixed(1), one_byte_ms: +oneByte.toFixed(1), ratio: +(oneByte / whole).toFixed(0) })}\n`,
    );
  }
}
