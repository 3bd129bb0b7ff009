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
import { RejectedInput } from '#lib/errors.js';
import { DataSetWalker, GrowingBuffer, newMetaScan, scanFileMeta, truncatedDicom, type FileMeta } from './elements.js';
import { ACCEPTED_TRANSFER_SYNTAXES, US_MULTIFRAME_SOP_CLASS, IMPLICIT_VR_LITTLE_ENDIAN, transferSyntaxRejection } from './syntax.js';
import { isDicomUid } from './uid.js';

export type DicomIdentity = FileMeta;

export interface DicomSummary extends DicomIdentity {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  hasPixelData: boolean;
  bytes: number;
}

const STUDY_INSTANCE_UID = 0x0020000d;
const SERIES_INSTANCE_UID = 0x0020000e;

export interface ProbeOptions {
  maxBytes: number;
  /** Accepted SOP classes; default Ultrasound Multi-frame only. */
  sopClasses?: readonly string[];
  /** The study the instance must belong to (STOW-RS to /studies/{study}); a mismatch is refused. */
  studyInstanceUid?: string;
}

export class DicomProbe extends Transform {
  readonly identity: Promise<DicomIdentity>;
  summary: DicomSummary | undefined;
  /** The meta header's identity as read, even when it was then refused (for failure reports). */
  seen: DicomIdentity | undefined;
  private resolveIdentity!: (id: DicomIdentity) => void;
  private rejectIdentity!: (error: Error) => void;
  private head = new GrowingBuffer();
  private scan = newMetaScan();
  private bytes = 0;
  private meta: DicomIdentity | undefined;
  private walker: DataSetWalker | undefined;

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
      if (this.bytes > this.options.maxBytes)
        throw new RejectedInput('too_large', `the instance exceeds the ${this.options.maxBytes}-byte cap`);
      if (this.walker) {
        this.walker.feed(chunk);
        done(null, chunk);
        return;
      }
      const head = this.head.append(chunk);
      const found = scanFileMeta(head, this.scan, false);
      if (!found) {
        done();
        return;
      }
      this.accept(found.meta);
      this.walker!.feed(head.subarray(found.dataSetAt));
      done(null, head);
    } catch (error) {
      this.rejectIdentity(error as Error);
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.walker) this.accept(scanFileMeta(this.head.bytes(), this.scan, true)!.meta);
      const walker = this.walker!;
      if (!walker.atBoundary) throw truncatedDicom();
      if (!walker.hasPixelData) throw new RejectedInput('dicom_no_pixel_data', 'the DICOM instance has no PixelData (7FE0,0010)');
      const studyInstanceUid = walker.values[STUDY_INSTANCE_UID];
      const seriesInstanceUid = walker.values[SERIES_INSTANCE_UID];
      for (const uid of [studyInstanceUid, seriesInstanceUid]) {
        if (uid !== undefined && !isDicomUid(uid))
          throw new RejectedInput('bad_uid', 'the StudyInstanceUID or SeriesInstanceUID is not a valid DICOM UID');
      }
      if (this.options.studyInstanceUid !== undefined && studyInstanceUid !== this.options.studyInstanceUid) {
        throw new RejectedInput('study_mismatch', 'the instance belongs to another study than the request names');
      }
      this.summary = { ...this.meta!, studyInstanceUid, seriesInstanceUid, hasPixelData: true, bytes: this.bytes };
      done();
    } catch (error) {
      this.rejectIdentity(error as Error);
      done(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.rejectIdentity(error ?? new RejectedInput('truncated_dicom', 'the DICOM stream closed before its meta header'));
    callback(error);
  }

  /** Applies the hook's policy to the meta header, then starts walking the data set. */
  private accept(identity: DicomIdentity): void {
    this.seen = identity;
    if (!isDicomUid(identity.sopInstanceUid)) {
      throw new RejectedInput('bad_sop_instance_uid', 'the DICOM meta header has no valid MediaStorageSOPInstanceUID');
    }
    const sopClasses = this.options.sopClasses ?? [US_MULTIFRAME_SOP_CLASS];
    if (!sopClasses.includes(identity.sopClassUid)) {
      throw new RejectedInput(
        'dicom_unsupported_sop_class',
        `SOP class ${isDicomUid(identity.sopClassUid) ? identity.sopClassUid : '(none)'} is not accepted; send Ultrasound Multi-frame images`,
      );
    }
    if (!ACCEPTED_TRANSFER_SYNTAXES.includes(identity.transferSyntaxUid)) throw transferSyntaxRejection(identity.transferSyntaxUid);
    this.meta = identity;
    this.walker = new DataSetWalker(
      identity.transferSyntaxUid !== IMPLICIT_VR_LITTLE_ENDIAN,
      new Set([STUDY_INSTANCE_UID, SERIES_INSTANCE_UID]),
    );
    this.resolveIdentity(identity);
  }
}
