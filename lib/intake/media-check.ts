/**
 * Checks a video while it streams past, without holding it: the kind from its first bytes
 * (MP4 `ftyp` box at offset 4, DICOM `DICM` at offset 128), the MP4 top-level box structure
 * (boxes must tile the file exactly, and a `moov` box must be present, which catches truncation),
 * and a byte cap. Failures surface as RejectedInput errors on the stream.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { RejectedInput } from '#lib/errors.js';

export type MediaKind = 'mp4' | 'dicom';

const SNIFF_BYTES = 132;

export class MediaCheck extends Transform {
  kind: MediaKind | undefined;
  bytesSeen = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  private nextBoxAt = 0;
  private boxHeader = Buffer.alloc(16);
  private boxHeaderFill = 0;
  private boxStart = 0;
  private untilEof = false;
  private readonly boxTypes = new Set<string>();

  constructor(
    private readonly maxBytes: number,
    private readonly accepted: readonly MediaKind[] = ['mp4', 'dicom'],
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const start = this.bytesSeen;
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) {
      done(new RejectedInput('too_large', `object exceeds the ${this.maxBytes}-byte cap`));
      return;
    }
    try {
      if (this.kind === undefined) this.sniff(chunk);
      if (this.kind === 'mp4') this.walkBoxes(chunk, start);
    } catch (error) {
      done(error as Error);
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.bytesSeen === 0) throw new RejectedInput('empty_object', 'object is empty');
      if (this.kind === undefined) this.classify(Buffer.concat(this.head), true);
      if (this.kind === 'mp4') this.checkMp4Complete();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  private sniff(chunk: Buffer) {
    this.head.push(chunk.subarray(0, SNIFF_BYTES - this.headBytes));
    this.headBytes = Math.min(SNIFF_BYTES, this.headBytes + chunk.length);
    const head = Buffer.concat(this.head);
    if (this.classify(head, false)) {
      this.head = [];
      if (this.kind === 'mp4') {
        // replay what came before this chunk through the box walker
        const before = head.subarray(0, this.bytesSeen - chunk.length);
        if (before.length) this.walkBoxes(before, 0);
      }
    }
  }

  /** Returns true once the kind is known; throws when the bytes cannot be a video we take. */
  private classify(head: Buffer, final: boolean): boolean {
    if (head.length >= 8 && head.toString('latin1', 4, 8) === 'ftyp') return this.found('mp4');
    if (head.length >= SNIFF_BYTES && head.toString('latin1', 128, 132) === 'DICM') return this.found('dicom');
    if (head.length >= SNIFF_BYTES || final) {
      throw new RejectedInput('not_a_video', 'object is neither an MP4 (ftyp box) nor DICOM (DICM at byte 128)');
    }
    return false;
  }

  private found(kind: MediaKind): true {
    if (!this.accepted.includes(kind)) {
      throw new RejectedInput(`${kind}_not_accepted`, `${kind === 'mp4' ? 'MP4' : 'DICOM'} objects are not accepted here`);
    }
    this.kind = kind;
    return true;
  }

  private walkBoxes(chunk: Buffer, chunkStart: number) {
    let offset = 0;
    while (!this.untilEof && offset < chunk.length) {
      const position = chunkStart + offset;
      if (position < this.nextBoxAt) {
        offset += Math.min(chunk.length - offset, this.nextBoxAt - position);
        continue;
      }
      if (this.boxHeaderFill === 0) this.boxStart = position;
      const need = this.headerLength();
      const take = Math.min(need - this.boxHeaderFill, chunk.length - offset);
      chunk.copy(this.boxHeader, this.boxHeaderFill, offset, offset + take);
      this.boxHeaderFill += take;
      offset += take;
      if (this.boxHeaderFill < this.headerLength()) continue;
      this.endBoxHeader(this.boxStart);
    }
  }

  private headerLength() {
    return this.boxHeaderFill >= 4 && this.boxHeader.readUInt32BE(0) === 1 ? 16 : 8;
  }

  private endBoxHeader(boxStart: number) {
    const size32 = this.boxHeader.readUInt32BE(0);
    const type = this.boxHeader.toString('latin1', 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw new RejectedInput('truncated_mp4', 'MP4 box structure is broken');
    this.boxTypes.add(type);
    this.boxHeaderFill = 0;
    if (size32 === 0) {
      this.untilEof = true;
      return;
    }
    const size = size32 === 1 ? Number(this.boxHeader.readBigUInt64BE(8)) : size32;
    if (size < (size32 === 1 ? 16 : 8)) throw new RejectedInput('truncated_mp4', 'MP4 box structure is broken');
    this.nextBoxAt = boxStart + size;
  }

  private checkMp4Complete() {
    if (this.boxHeaderFill > 0 || (!this.untilEof && this.nextBoxAt !== this.bytesSeen)) {
      throw new RejectedInput('truncated_mp4', 'MP4 ends inside a box: the file is truncated');
    }
    if (!this.boxTypes.has('moov')) throw new RejectedInput('truncated_mp4', 'MP4 has no moov box: the file is truncated');
  }
}
