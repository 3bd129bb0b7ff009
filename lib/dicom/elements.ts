/**
 * Element-level reading of DICOM Part 10 bytes, shared by the hook's streaming probe and the intake:
 *   - scanFileMeta: the meta group (0002), always explicit VR little endian, resumable as bytes arrive;
 *   - DataSetWalker: the data set's element headers, values skipped (a few short ones captured), nesting only
 *     into undefined-length sequences and items, so it can tell whether the bytes end on an element boundary.
 * Both do constant work per byte whatever the chunk sizes. Neither logs or keeps values beyond the captured ones.
 */
import { RejectedInput } from '#lib/errors.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
/** A meta group longer than this is refused. */
export const META_CAP = 64 * 1024;

export interface FileMeta {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

/** Where a meta scan stopped: resume it with the same state once more bytes are appended. */
export interface MetaScan {
  offset: number;
  metaEnd?: number;
  found: Record<number, string>;
}

export const newMetaScan = (): MetaScan => ({ offset: 132, found: {} });

const notDicom = () => new RejectedInput('not_dicom', 'the body is not DICOM Part 10 (no DICM at byte 128)');
const badMeta = () => new RejectedInput('bad_dicom_meta', 'the DICOM meta header is missing or malformed');

const trimValue = (head: Buffer, from: number, to: number) => head.toString('latin1', from, to).replace(/[\0 ]+$/, '');

/**
 * Reads the meta group from `head` (the file's first bytes), resuming at `scan.offset`. Returns the meta and the
 * offset where the data set starts once the group is complete; undefined while more bytes are needed
 * (with `final`, a missing end is an error instead).
 */
export function scanFileMeta(head: Buffer, scan: MetaScan, final: boolean): { meta: FileMeta; dataSetAt: number } | undefined {
  if (head.length < 132) {
    if (final) throw notDicom();
    return undefined;
  }
  if (scan.offset === 132 && head.toString('latin1', 128, 132) !== 'DICM') throw notDicom();
  for (;;) {
    const offset = scan.offset;
    if (scan.metaEnd !== undefined && offset >= scan.metaEnd) break;
    if (head.length < offset + 8) break;
    if (head.readUInt16LE(offset) !== 0x0002) {
      scan.metaEnd = offset;
      break;
    }
    const element = head.readUInt16LE(offset + 2);
    const long = LONG_VRS.has(head.toString('latin1', offset + 4, offset + 6));
    if (long && head.length < offset + 12) break;
    const length = long ? head.readUInt32LE(offset + 8) : head.readUInt16LE(offset + 6);
    const valueAt = offset + (long ? 12 : 8);
    if (length === UNDEFINED) throw badMeta();
    if (head.length < valueAt + length) break;
    if (element === 0x0000 && length === 4) scan.metaEnd = valueAt + 4 + head.readUInt32LE(valueAt);
    if (element === 0x0002 || element === 0x0003 || element === 0x0010) scan.found[element] = trimValue(head, valueAt, valueAt + length);
    scan.offset = valueAt + length;
  }
  if (scan.metaEnd === undefined || head.length < scan.metaEnd) {
    if (head.length > META_CAP || final) throw badMeta();
    return undefined;
  }
  const meta = {
    transferSyntaxUid: scan.found[0x0010] ?? '',
    sopClassUid: scan.found[0x0002] ?? '',
    sopInstanceUid: scan.found[0x0003] ?? '',
  };
  return { meta, dataSetAt: scan.metaEnd };
}

/** An append-only byte buffer that grows by doubling, so collecting n bytes in any chunking copies O(n). */
export class GrowingBuffer {
  private buf = Buffer.alloc(0);
  length = 0;

  append(chunk: Buffer): Buffer {
    if (this.length + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length, 1024));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
    return this.bytes();
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export const PIXEL_DATA = 0x7fe00010;

/** Walks data set element headers chunk by chunk, skipping values; captures top-level values of `wanted` tags up to 64 bytes. */
export class DataSetWalker {
  readonly values: Record<number, string> = {};
  hasPixelData = false;
  private pending = Buffer.alloc(0);
  private skip = 0;
  private capture: { tag: number; length: number } | undefined;
  private depth = 0;

  constructor(
    private readonly explicit: boolean,
    private readonly wanted: ReadonlySet<number> = new Set(),
  ) {}

  /** True when the bytes so far end exactly on a top-level element boundary. */
  get atBoundary(): boolean {
    return this.skip === 0 && !this.capture && this.pending.length === 0 && this.depth === 0;
  }

  feed(chunk: Buffer): void {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (offset < data.length) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, data.length - offset);
        this.skip -= step;
        offset += step;
        continue;
      }
      if (this.capture) {
        if (data.length - offset < this.capture.length) break;
        this.values[this.capture.tag] = trimValue(data, offset, offset + this.capture.length);
        offset += this.capture.length;
        this.capture = undefined;
        continue;
      }
      if (data.length - offset < 8) break;
      const group = data.readUInt16LE(offset);
      const element = data.readUInt16LE(offset + 2);
      const tag = ((group << 16) | element) >>> 0;
      if (group === 0xfffe) {
        const length = data.readUInt32LE(offset + 4);
        offset += 8;
        if (element === 0xe000) {
          if (length === UNDEFINED) this.depth++;
          else this.skip = length;
        } else if (element === 0xe00d || element === 0xe0dd) {
          this.depth = Math.max(0, this.depth - 1);
        }
        continue;
      }
      let length: number;
      if (this.explicit) {
        const vr = data.toString('latin1', offset + 4, offset + 6);
        if (LONG_VRS.has(vr)) {
          if (data.length - offset < 12) break;
          length = data.readUInt32LE(offset + 8);
          offset += 12;
        } else {
          length = data.readUInt16LE(offset + 6);
          offset += 8;
        }
      } else {
        length = data.readUInt32LE(offset + 4);
        offset += 8;
      }
      if (tag === PIXEL_DATA && this.depth === 0) this.hasPixelData = true; // then walked like any value, to its end
      if (length === UNDEFINED) {
        this.depth++;
        continue;
      }
      if (this.depth === 0 && this.wanted.has(tag) && length <= 64) this.capture = { tag, length };
      else this.skip = length;
    }
    this.pending = offset < data.length ? Buffer.from(data.subarray(offset)) : Buffer.alloc(0);
  }
}

export const truncatedDicom = () => new RejectedInput('truncated_dicom', 'the DICOM instance ends inside an element: it is truncated');

/** Rejects a whole file whose element lengths run past its bytes (dcmjs would pad the missing pixels with zeros). */
export function assertWholeDicom(bytes: Uint8Array, explicit: boolean): void {
  const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const { dataSetAt } = scanFileMeta(file, newMetaScan(), true)!;
  const walker = new DataSetWalker(explicit);
  walker.feed(file.subarray(dataSetAt));
  if (!walker.atBoundary) throw truncatedDicom();
}
