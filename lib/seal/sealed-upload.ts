/**
 * Puts a video into Swift sealed (`iv | tag | ciphertext`, protocols.md §1), in one of two ways that a reader cannot
 * tell apart (a GET returns the same bytes for the same key and IV; only `X-Static-Large-Object` differs):
 *
 * - **In memory, one PUT** (`readWhole` then `putSealed`), for what fits: the plaintext is read through the checks,
 *   sealed in one buffer, and PUT as one object with its md5 as the ETag (Swift refuses a body that does not match)
 *   and compared again with the ETag Swift answers. One Swift request per video.
 * - **Streaming, as a Static Large Object** (`uploadSealed`), in one pass and constant memory, for the rest:
 *     1. the ciphertext streams to a segment as it is produced,
 *     2. the 28-byte head `iv | tag` (known only at the end) goes to a second segment,
 *     3. the manifest [head, ciphertext] is PUT under the final name.
 *   The object becomes visible only with the manifest, so a failure at any step leaves no half-visible sealed
 *   object. Segment names carry the attempt's IV, so concurrent duplicate deliveries never overwrite each other's
 *   segments, and the manifest's etags pin the exact segments it was built from.
 * (Where one ends and the other begins, and why SLO and not spool or two passes: the README's "Sealing strategy",
 * measured by `npm run bench -- intake`.)
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RejectedInput, RetryableError } from '#lib/errors.js';
import { createSealStream, sealBuffer, sealedHead, HEAD_BYTES, type SealOptions } from './cipher.js';
import type { SwiftStore } from '#lib/swift/index.js';

export interface SealedUpload {
  container: string;
  objectName: string;
  sealedBytes: number;
}

export const segmentsContainerOf = (container: string) => `${container}_segments`;

/**
 * Where one in-memory PUT stops beating the streamed SLO (`npm run bench -- intake 4MiB 16MiB 64MiB`, with and without
 * `--single-put-max-bytes 0`): clearly ahead up to a few MiB, level at 16 MiB, behind at 64 MiB (the SLO overlaps the
 * S3 read with the Swift write); at 16 MiB a run's peak RSS stays near the streamed path's. The intake's
 * INTAKE_SINGLE_PUT_MAX_BYTES defaults to it.
 */
export const DEFAULT_SINGLE_PUT_MAX_BYTES = 16 * 1024 * 1024;

/** What a sealed object is stored as; the same for both ways, so a reader's Content-Type does not tell them apart. */
export const SEALED_CONTENT_TYPE = 'application/octet-stream';

/**
 * Reads a plaintext that fits in memory through `checks` (which may reject it), as the chunks it arrives in.
 * More than `maxBytes` is refused as a transfer fault (retryable): the caller chose this way by the source's length.
 */
export async function readWhole(plaintext: Readable, checks: Transform, maxBytes: number, signal?: AbortSignal): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        done(new RetryableError(`the source sent more than the ${maxBytes} bytes it announced`));
        return;
      }
      chunks.push(chunk);
      done();
    },
  });
  await pipeline(plaintext, checks, collect, { signal });
  return chunks;
}

/**
 * Seals a plaintext held in memory under `key` and PUTs it as one object `<container>/<objectName>`, its md5
 * checked by Swift and again here. `sealOptions` fixes the IV, for tests only.
 */
export async function putSealed(
  store: SwiftStore,
  target: { container: string; objectName: string },
  key: Uint8Array,
  plaintext: readonly Uint8Array[],
  signal?: AbortSignal,
  sealOptions: SealOptions = {},
): Promise<SealedUpload> {
  const sealed = sealBuffer(key, plaintext, sealOptions);
  const md5 = createHash('md5').update(sealed).digest('hex');
  // handed over as a stream of known length: the Swift client sends those over node:http, several times faster than
  // its fetch sends a buffer of a few MiB (`npm run bench -- intake`); a failed PUT is retried by the caller
  const body = Readable.from([sealed]);
  const put = await store.putObject(target.container, target.objectName, body, {
    etag: md5,
    contentLength: sealed.length,
    contentType: SEALED_CONTENT_TYPE,
    signal,
  });
  if (put.etag !== md5) throw new RetryableError('Swift answered another ETag than the sealed object has');
  return { ...target, sealedBytes: sealed.length };
}

/**
 * Seals `plaintext` (piped through `checks`, which may reject it mid-stream) under `key` into
 * `<container>/<objectName>` as an SLO. Returns once the manifest is in place. `sealOptions` fixes the IV, for tests only.
 */
export async function uploadSealed(
  store: SwiftStore,
  target: { container: string; objectName: string },
  key: Uint8Array,
  plaintext: Readable,
  checks: Transform,
  plaintextBytes: number | undefined,
  signal?: AbortSignal,
  sealOptions: SealOptions = {},
): Promise<SealedUpload> {
  const segments = segmentsContainerOf(target.container);
  const seal = createSealStream(key, sealOptions);
  const attempt = seal.iv.toString('hex');
  const ctName = `${target.objectName}/${attempt}/ciphertext`;
  const headName = `${target.objectName}/${attempt}/head`;

  const abort = new AbortController();
  const onAbort = () => abort.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const upstream = new PassThrough();
  try {
    const stopBoth = (error: unknown) => {
      abort.abort(error);
      throw error;
    };
    const flowing = pipeline(plaintext, checks, seal, upstream, { signal: abort.signal }).catch(stopBoth);
    const ctEtag = store
      .putObject(segments, ctName, upstream, { contentLength: plaintextBytes, signal: abort.signal })
      .then((put) => put.etag, stopBoth);
    const etag = await bothSettled(flowing, ctEtag);
    const tag = await seal.tag;
    const head = await store.putObject(segments, headName, sealedHead(seal.iv, tag), { signal: abort.signal });
    await store.putSlo(
      target.container,
      target.objectName,
      [
        { path: `/${segments}/${headName}`, etag: head.etag, size_bytes: HEAD_BYTES },
        { path: `/${segments}/${ctName}`, etag, size_bytes: seal.bytes },
      ],
      { contentType: SEALED_CONTENT_TYPE, signal: abort.signal },
    );
    return { ...target, sealedBytes: HEAD_BYTES + seal.bytes };
  } catch (error) {
    abort.abort(error);
    await Promise.allSettled([
      store.deleteObject(segments, ctName, { ignoreMissing: true }),
      store.deleteObject(segments, headName, { ignoreMissing: true }),
    ]);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Waits for the plaintext pipeline and the ciphertext PUT alike. A rejected input wins over the PUT it broke (its
 * body stream fails with the same error, which the Swift client reports as a network failure, sometimes first):
 * which side settles first must not decide whether a bad video is rejected or retried.
 */
async function bothSettled(flowing: Promise<void>, ctEtag: Promise<string>): Promise<string> {
  const [flowed, put] = await Promise.allSettled([flowing, ctEtag]);
  if (flowed.status === 'rejected' && flowed.reason instanceof RejectedInput) throw flowed.reason;
  if (put.status === 'rejected') throw put.reason;
  if (flowed.status === 'rejected') throw flowed.reason;
  return put.value;
}
