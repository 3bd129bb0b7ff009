/**
 * Streams a video into Swift sealed, in one pass and constant memory, as a Static Large Object:
 *   1. the ciphertext streams to a segment as it is produced,
 *   2. the 28-byte head `iv | tag` (known only at the end) goes to a second segment,
 *   3. the manifest [head, ciphertext] is PUT under the final name.
 * A GET of the final name returns exactly `iv | tag | ciphertext`. The object becomes visible only with
 * the manifest, so a failure at any step leaves no half-visible sealed object. Segment names carry the
 * attempt's IV, so concurrent duplicate deliveries never overwrite each other's segments, and the
 * manifest's etags pin the exact segments it was built from.
 * (Why SLO and not spool or two passes: see the README's "Sealing strategy", measured by `npm run bench -- intake`.)
 */
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RejectedInput } from '#lib/errors.js';
import { createSealStream, sealedHead, HEAD_BYTES } from './cipher.js';
import type { SwiftStore } from '#lib/swift/index.js';

export interface SealedUpload {
  container: string;
  objectName: string;
  sealedBytes: number;
}

export const segmentsContainerOf = (container: string) => `${container}_segments`;

/**
 * Seals `plaintext` (piped through `checks`, which may reject it mid-stream) under `key` into
 * `<container>/<objectName>`. Returns once the manifest is in place.
 */
export async function uploadSealed(
  store: SwiftStore,
  target: { container: string; objectName: string },
  key: Uint8Array,
  plaintext: Readable,
  checks: Transform,
  plaintextBytes: number | undefined,
  signal?: AbortSignal,
): Promise<SealedUpload> {
  const segments = segmentsContainerOf(target.container);
  const seal = createSealStream(key);
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
    const ctEtag = store.putObject(segments, ctName, upstream, { contentLength: plaintextBytes, signal: abort.signal }).then((put) => put.etag, stopBoth);
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
      { signal: abort.signal },
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
