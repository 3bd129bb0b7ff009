/**
 * Checks a DICOM Part 10 stream while it passes, holding nothing but the file meta header and a few
 * short top-level values:
 *   - `DICM` at byte 128 and the meta group (0002) → transfer syntax, SOP class and SOP instance UIDs;
 *     `identity` resolves then (bytes are held back until it does, so a store can be keyed by SOPInstanceUID);
 *   - a walk of the top-level data set elements to the end (values skipped; sequences of defined length are
 *     skipped whole, so an icon image's pixel data does not count) → Study and Series UIDs, whether PixelData
 *     (7FE0,0010) exists, and whether the file ends on an element boundary (else it is truncated).
 * Failures are RejectedInput errors on the stream (and on `identity`), with reasons the hook and intake share.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { RejectedInput } from '../errors.js';
import { ACCEPTED_TRANSFER_SYNTAXES, US_MULTIFRAME_SOP_CLASS, IMPLICIT_VR_LITTLE_ENDIAN, transferSyntaxRejection } from './syntax.js';

export interface DicomIdentity {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface DicomSummary extends DicomIdentity {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  hasPixelData: boolean;
  bytes: number;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
const META_CAP = 64 * 1024;
/** Top-level tags whose (short) values are kept. */
const WANTED: Record<number, keyof DicomSummary> = {
  0x00080016: 'sopClassUid',
  0x00080018: 'sopInstanceUid',
  0x0020000d: 'studyInstanceUid',
  0x0020000e: 'seriesInstanceUid',
};

export interface ProbeOptions {
  maxBytes: number;
  /** Accepted SOP classes; default Ultrasound Multi-frame only. */
  sopClasses?: readonly string[];
}

export class DicomProbe extends Transform {
  readonly identity: Promise<DicomIdentity>;
  summary: DicomSummary | undefined;
  /** The meta header's identity as read, even when it was then refused (for failure reports). */
  seen: DicomIdentity | undefined;
  private resolveIdentity!: (id: DicomIdentity) => void;
  private rejectIdentity!: (error: Error) => void;
  private head: Buffer[] = [];
  private headBytes = 0;
  private bytes = 0;
  // data set walk
  private explicit = true;
  private pending = Buffer.alloc(0);
  private skip = 0;
  private capture: { tag: number; length: number } | undefined;
  private depth = 0;
  private walking = false;
  private values: Partial<Record<keyof DicomSummary, string>> = {};
  private hasPixelData = false;

  constructor(private readonly options: ProbeOptions) {
    super();
    this.identity = new Promise((resolve, reject) => {
      this.resolveIdentity = resolve;
      this.rejectIdentity = reject;
    });
    this.identity.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      if (this.bytes > this.options.maxBytes) throw new RejectedInput('too_large', `the instance exceeds the ${this.options.maxBytes}-byte cap`);
      if (!this.walking) {
        this.head.push(chunk);
        this.headBytes += chunk.length;
        const head = Buffer.concat(this.head);
        this.head = [head];
        const metaEnd = this.parseMeta(head, false);
        if (metaEnd === undefined) return done();
        this.head = [];
        this.walking = true;
        this.walk(head.subarray(metaEnd));
        return done(null, head);
      }
      this.walk(chunk);
      done(null, chunk);
    } catch (error) {
      this.rejectIdentity(error as Error);
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.walking) this.parseMeta(Buffer.concat(this.head), true);
      if (this.skip > 0 || this.capture || this.pending.length > 0 || this.depth > 0) {
        throw new RejectedInput('truncated_dicom', 'the DICOM instance ends inside an element: it is truncated');
      }
      if (!this.hasPixelData) throw new RejectedInput('dicom_no_pixel_data', 'the DICOM instance has no PixelData (7FE0,0010)');
      this.summary = {
        ...this.identityOf(),
        studyInstanceUid: this.values.studyInstanceUid,
        seriesInstanceUid: this.values.seriesInstanceUid,
        hasPixelData: true,
        bytes: this.bytes,
      };
      done();
    } catch (error) {
      this.rejectIdentity(error as Error);
      done(error as Error);
    }
  }

  private meta: DicomIdentity | undefined;

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.rejectIdentity(error ?? new RejectedInput('truncated_dicom', 'the DICOM stream closed before its meta header'));
    callback(error);
  }

  private identityOf(): DicomIdentity {
    return this.meta!;
  }

  /** The offset where the data set starts once the meta group is complete; undefined while more bytes are needed. */
  private parseMeta(head: Buffer, final: boolean): number | undefined {
    const notDicom = () => new RejectedInput('not_dicom', 'the body is not DICOM Part 10 (no DICM at byte 128)');
    if (head.length < 132) {
      if (final) throw notDicom();
      return undefined;
    }
    if (head.toString('latin1', 128, 132) !== 'DICM') throw notDicom();
    const found: Record<string, string> = {};
    let offset = 132;
    let metaEnd: number | undefined;
    for (;;) {
      if (metaEnd !== undefined && offset >= metaEnd) break;
      if (head.length < offset + 8) break;
      const group = head.readUInt16LE(offset);
      if (group !== 0x0002) {
        metaEnd = offset;
        break;
      }
      const element = head.readUInt16LE(offset + 2);
      const vr = head.toString('latin1', offset + 4, offset + 6);
      let length: number;
      let valueAt: number;
      if (LONG_VRS.has(vr)) {
        if (head.length < offset + 12) break;
        length = head.readUInt32LE(offset + 8);
        valueAt = offset + 12;
      } else {
        length = head.readUInt16LE(offset + 6);
        valueAt = offset + 8;
      }
      if (length === UNDEFINED) throw new RejectedInput('bad_dicom_meta', 'the DICOM meta header is malformed');
      if (head.length < valueAt + length) break;
      if (element === 0x0000 && length === 4) metaEnd = valueAt + 4 + head.readUInt32LE(valueAt);
      if (element === 0x0002 || element === 0x0003 || element === 0x0010) {
        found[element] = head.toString('latin1', valueAt, valueAt + length).replace(/[\0 ]+$/, '');
      }
      offset = valueAt + length;
    }
    if (metaEnd === undefined || head.length < metaEnd) {
      if (head.length > META_CAP || final) throw new RejectedInput('bad_dicom_meta', 'the DICOM meta header is missing or malformed');
      return undefined;
    }
    const identity: DicomIdentity = { transferSyntaxUid: found[0x0010] ?? '', sopClassUid: found[0x0002] ?? '', sopInstanceUid: found[0x0003] ?? '' };
    this.seen = identity;
    if (!UID.test(identity.sopInstanceUid) || identity.sopInstanceUid.length > 64) {
      throw new RejectedInput('bad_sop_instance_uid', 'the DICOM meta header has no valid MediaStorageSOPInstanceUID');
    }
    const sopClasses = this.options.sopClasses ?? [US_MULTIFRAME_SOP_CLASS];
    if (!sopClasses.includes(identity.sopClassUid)) {
      throw new RejectedInput('dicom_unsupported_sop_class', `SOP class ${identity.sopClassUid || '(none)'} is not accepted; send Ultrasound Multi-frame images`);
    }
    if (!ACCEPTED_TRANSFER_SYNTAXES.includes(identity.transferSyntaxUid)) throw transferSyntaxRejection(identity.transferSyntaxUid);
    this.explicit = identity.transferSyntaxUid !== IMPLICIT_VR_LITTLE_ENDIAN;
    this.meta = identity;
    this.resolveIdentity(identity);
    return metaEnd;
  }

  /** Walks element headers, skipping values; nests only into undefined-length sequences and items. */
  private walk(chunk: Buffer): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
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
        const key = WANTED[this.capture.tag];
        this.values[key] = data.toString('latin1', offset, offset + this.capture.length).replace(/[\0 ]+$/, '') as never;
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
      let vr = '';
      if (this.explicit) {
        vr = data.toString('latin1', offset + 4, offset + 6);
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
      if (tag === 0x7fe00010 && this.depth === 0) this.hasPixelData = true; // then walked like any value, to its end
      if (length === UNDEFINED) {
        this.depth++;
        continue;
      }
      if (this.depth === 0 && WANTED[tag] && length <= 64) this.capture = { tag, length };
      else this.skip = length;
    }
    this.pending = offset < data.length ? Buffer.from(data.subarray(offset)) : Buffer.alloc(0);
  }
}
