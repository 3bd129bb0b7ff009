/**
 * What one processed item leaves in Swift, in the container `<JOB_NAME>-results`:
 *
 *   <id>.zip    the anonymised frames as `0.png`, `1.png`, ... (deflate; as the original's zip of frames)
 *   <id>.json   the analysis, as `radiomics analyze --json` prints it, plus `item_id`: named features, per-frame rows
 *               keyed by name, the label block {rule, z, label, label_status: "unvalidated"}
 *   <id>.error.json   only for a failed item whose id is known: {item_id, reason} (best effort)
 *
 * `<id>` is the sealed object's name: the last path segment of the item URL, without query string and without a
 * `.mp4` suffix (the original tutorial names sealed objects `<uuid4 hex>.mp4`, so ids carry no patient data).
 * The JSON is uploaded after the zip, so its presence means "done". Processing an item twice (a re-lease after a
 * slow worker) writes the same names again: harmless overwrites, and the zip is byte-identical because entry
 * timestamps are fixed.
 *
 * Memory: the zip of one clip is held in memory until upload (PNG frames of a clip: a few MB; a 43-frame sample
 * clip gives about 2 MB). Holding it makes the upload replayable, so the Swift client can retry it on 5xx.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import type { ClipAnalysis } from './analyze-clip.js';
import { RESULT_SUFFIXES } from '#lib/contract.js';
import { RejectedInput } from '#lib/errors.js';
import type { SwiftStore } from '#lib/swift/index.js';

/** A failed item's machine-readable reason; see worker.ts for the list. */
export class ItemFailure extends RejectedInput {}

export const zipName = (id: string) => `${id}${RESULT_SUFFIXES.frames}`;
export const jsonName = (id: string) => `${id}${RESULT_SUFFIXES.analysis}`;
export const errorName = (id: string) => `${id}${RESULT_SUFFIXES.error}`;

/** Entry timestamp of every frame (local 1980-01-01, the DOS epoch), so equal frames give equal zips. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

/** Anonymised frames → one zip in memory. Add frames in order; `finish()` resolves with the zip bytes. */
export class FrameZip {
  private readonly zip = new ZipFile();
  private readonly chunks: Buffer[] = [];
  private readonly collected: Promise<void>;
  count = 0;

  constructor() {
    const chunks = this.chunks;
    this.collected = pipeline(
      this.zip.outputStream,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      }),
    );
    // finish() awaits it; keep an early failure from being an unhandled rejection meanwhile
    this.collected.catch(() => undefined);
  }

  /** Adds `<index>.png`. */
  addFrame(index: number, png: Buffer): void {
    this.zip.addBuffer(png, `${index}.png`, { compress: true, mtime: FIXED_MTIME, forceDosTimestamp: true });
    this.count++;
  }

  async finish(): Promise<Buffer> {
    this.zip.end();
    await this.collected;
    return Buffer.concat(this.chunks);
  }
}

/** The analysis as `radiomics analyze --json` prints it: NaN/Infinity as null, numbers unrounded. */
export function clipJson(analysis: ClipAnalysis | ({ item_id: string } & ClipAnalysis)): string {
  return JSON.stringify(analysis, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value));
}

/** The worker's `<id>.json`: the `--json` object with `item_id` first. */
export function analysisJson(itemId: string, analysis: ClipAnalysis): string {
  return clipJson({ item_id: itemId, ...analysis });
}

export function errorJson(itemId: string, reason: string): string {
  return JSON.stringify({ item_id: itemId, reason });
}

/** Creates the results container once per process (PUT is idempotent: 201 or 202). */
export class ResultsUploader {
  private ready: Promise<unknown> | null = null;

  constructor(
    private readonly swift: SwiftStore,
    readonly container: string,
  ) {}

  private ensureContainer(): Promise<unknown> {
    if (!this.ready) {
      this.ready = this.swift.createContainer(this.container);
      this.ready.catch(() => {
        this.ready = null;
      });
    }
    return this.ready;
  }

  /** Zip first, JSON last: the JSON's presence means the item is done. */
  async upload(itemId: string, zip: Buffer, json: string): Promise<void> {
    await this.ensureContainer();
    await this.swift.putObject(this.container, zipName(itemId), zip, { contentType: 'application/zip' });
    await this.swift.putObject(this.container, jsonName(itemId), Buffer.from(json), { contentType: 'application/json' });
  }

  async uploadError(itemId: string, reason: string): Promise<void> {
    await this.ensureContainer();
    await this.swift.putObject(this.container, errorName(itemId), Buffer.from(errorJson(itemId, reason)), {
      contentType: 'application/json',
    });
  }
}
