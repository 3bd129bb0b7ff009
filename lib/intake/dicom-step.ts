/**
 * The intake's DICOM step: an object that is DICOM (`DICM` at byte 128) is validated, de-identified, masked
 * and converted to H.264 MP4 in a private temporary directory, and the intake then seals that MP4 like any
 * upload. Anything else passes through untouched (the first bytes are put back in front of the stream).
 * The PHI-bearing original exists only in this process's memory and is never written unencrypted;
 * the temporary MP4 (no DICOM header, masked pixels) is removed by `dispose`. Nothing of the data set is logged.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hkdfSync } from 'node:crypto';
import { RejectedInput } from '#lib/errors.js';
import type { MediaKind } from './media-check.js';
import type { SourceObject } from '#lib/s3/bucket.js';
import { convertDicomToMp4 } from '#lib/dicom/convert.js';

export type ConvertedObject = SourceObject & { kind?: MediaKind; dispose?: () => Promise<void> };
export type DicomConversion = (object: SourceObject, signal?: AbortSignal) => Promise<ConvertedObject>;

export interface DicomConversionOptions {
  ffmpegPath: string;
  /** Key material for pseudonymous UIDs (e.g. the master key; an HKDF-derived key is used). */
  masterKey: Uint8Array;
  /** Cap on one DICOM file, held in memory while it converts. */
  maxDicomBytes: number;
  tmpDir?: string;
}

const SNIFF = 132;

export function uidKeyOf(masterKey: Uint8Array): Uint8Array {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'trustworthy-radiomics dicom uids', 32));
}

export function dicomConversion(options: DicomConversionOptions): DicomConversion {
  const uidKey = uidKeyOf(options.masterKey);
  return async (object, signal) => {
    const iterator = (object.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let headBytes = 0;
    while (headBytes < SNIFF) {
      const next = await iterator.next();
      if (next.done) break;
      head.push(next.value);
      headBytes += next.value.length;
    }
    const first = Buffer.concat(head);
    const rest = async function* () {
      yield* { [Symbol.asyncIterator]: () => iterator };
    };
    if (first.length < SNIFF || first.toString('latin1', 128, 132) !== 'DICM') {
      const body = Readable.from(
        (async function* () {
          if (first.length) yield first;
          yield* rest();
        })(),
        { objectMode: false },
      );
      return { ...object, body };
    }
    if (object.size > options.maxDicomBytes) {
      object.body.destroy();
      throw new RejectedInput('too_large', `DICOM objects above ${options.maxDicomBytes} bytes are not converted`);
    }
    const chunks: Buffer[] = [first];
    let bytes = first.length;
    for await (const chunk of rest()) {
      bytes += chunk.length;
      if (bytes > options.maxDicomBytes) {
        object.body.destroy();
        throw new RejectedInput('too_large', `DICOM objects above ${options.maxDicomBytes} bytes are not converted`);
      }
      chunks.push(chunk);
    }
    const dicom = Buffer.concat(chunks);
    chunks.length = 0;
    const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'dicom-'));
    const dispose = () => rm(dir, { recursive: true, force: true });
    try {
      const loop = await convertDicomToMp4(dicom, { ffmpegPath: options.ffmpegPath, outPath: join(dir, 'loop.mp4'), uidKey, signal });
      dicom.fill(0);
      return { body: createReadStream(loop.path), size: loop.bytes, kind: 'dicom', dispose };
    } catch (error) {
      dicom.fill(0);
      await dispose();
      throw error;
    }
  };
}
