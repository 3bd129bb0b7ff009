/**
 * Reads the frame zips the worker writes (enclave/results.ts: yazl, stored or deflate, no zip64): every entry's
 * name and bytes, each checked against its CRC-32. Anything else is refused with ZipError; nothing is guessed.
 */
import { inflateRawSync } from 'node:zlib';
import { RadiomicsError } from '#lib/errors.js';
import { crc32 } from '#lib/radiomics/png.js';

export class ZipError extends RadiomicsError {
  constructor(message: string) {
    super(422, 'damaged_zip', message);
  }
}

export interface ZipEntry {
  name: string;
  data: Buffer;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_ENTRY = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;

function endOfCentralDirectory(zip: Buffer): number {
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (zip.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  throw new ZipError('not a zip file (no end of central directory)');
}

export function readZip(zip: Buffer): ZipEntry[] {
  if (zip.length < 22) throw new ZipError('not a zip file (too short)');
  const end = endOfCentralDirectory(zip);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL_ENTRY) throw new ZipError('damaged central directory');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const local = zip.readUInt32LE(at + 42);
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL_HEADER) throw new ZipError(`damaged entry ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressedSize);
    if (raw.length !== compressedSize) throw new ZipError(`truncated entry ${name}`);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch {
        throw new ZipError(`damaged entry ${name}`);
      }
    } else throw new ZipError(`entry ${name} uses an unsupported compression method (${method})`);
    if (data.length !== size || (crc32(data) ^ 0xffffffff) >>> 0 !== crc) throw new ZipError(`entry ${name} fails its CRC check`);
    entries.push({ name, data });
    at = next;
  }
  return entries;
}

/** The frames of a worker zip (`<index>.png`), in frame order. */
export function framePngs(zip: Buffer): Array<{ index: number; png: Buffer }> {
  return readZip(zip)
    .map((entry) => ({ index: /^(\d+)\.png$/.exec(entry.name)?.[1], png: entry.data }))
    .filter((frame): frame is { index: string; png: Buffer } => frame.index !== undefined)
    .map((frame) => ({ index: Number(frame.index), png: frame.png }))
    .sort((a, b) => a.index - b.index);
}
