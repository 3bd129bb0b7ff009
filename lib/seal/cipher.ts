/**
 * Sealed object format (protocols.md §1, compatibility required):
 *
 *   iv (12 bytes) | tag (16 bytes) | ciphertext        AES-128-GCM, no associated data
 *
 * The original worker decrypts with iv = b[0:12], tag = b[12:28], ct = b[28:]. The batch key travels as
 * standard base64 (24 characters, padded).
 *
 * `sealBuffer` seals a plaintext held in memory (the intake's way for objects that fit: one buffer, one Swift PUT).
 * Everything else here streams in constant memory:
 * - `createSealStream` emits ciphertext as it is produced and exposes `iv` and, once the input has ended,
 *   `tag`. The caller writes the 28-byte head (`sealedHead`) in front of the ciphertext afterwards: as the
 *   first segment of a Swift SLO, or by a positioned write at offset 0 (`sealFile`).
 * - `createUnsealStream` reads the head, then emits plaintext. GCM can only verify the tag at the end, so
 *   plaintext it emits is unauthenticated until the stream finishes without error; `unsealFile` therefore
 *   writes to a temp file and renames only after the tag verifies.
 *
 * Streaming to a Swift SLO (the intake):
 *
 *   const seal = createSealStream(batchKey);
 *   const body = await putSegment(`${name}/ct`, source.pipe(seal));        // ciphertext, as it comes
 *   const head = sealedHead(seal.iv, await seal.tag);                       // 28 bytes, known at the end
 *   await putSegment(`${name}/head`, head);
 *   await putManifest(name, [head segment, ciphertext segment]);           // head first
 *
 * Keys never appear in errors or logs.
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HEAD_BYTES, IV_BYTES, KEY_BYTES, TAG_BYTES } from '#lib/contract.js';
import { ConfigError, RejectedInput } from '#lib/errors.js';

/** The format's sizes are the batch–worker contract's (lib/contract.ts). */
export { HEAD_BYTES, IV_BYTES, KEY_BYTES, TAG_BYTES };

const CIPHER = 'aes-128-gcm';
const KEY_BASE64_CHARS = 24; // 16 bytes -> 22 significant characters + '=='

/**
 * Parse a batch key given as standard base64 of exactly 16 bytes (24 characters, '==' padded).
 * Rejects url-safe alphabets, missing padding, whitespace, wrong lengths and non-canonical encodings.
 * The error names what is wrong, never the value.
 */
export function parseKeyBase64(text: string): Buffer {
  const problem = keyBase64Problem(text);
  if (problem)
    throw new ConfigError(`invalid key: ${problem}; expected standard base64 of exactly 16 bytes (24 characters ending in '==')`);
  return Buffer.from(text, 'base64');
}

function keyBase64Problem(text: string): string | undefined {
  if (typeof text !== 'string') return 'not a string';
  if (text.length === 0) return 'empty';
  if (/\s/.test(text)) return 'contains whitespace';
  if (/[-_]/.test(text)) return "uses the url-safe alphabet ('-' or '_')";
  if (/[^A-Za-z0-9+/=]/.test(text)) return 'contains characters outside the base64 alphabet';
  if (text.length !== KEY_BASE64_CHARS) return `has ${text.length} characters`;
  if (!/^[A-Za-z0-9+/]{22}==$/.test(text)) return 'is not padded as 16 bytes';
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== text) return 'is not a canonical encoding';
  return undefined;
}

/** A fresh random 16-byte batch key. */
export function generateBatchKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** The 28-byte head `iv | tag` that precedes the ciphertext. */
export function sealedHead(iv: Uint8Array, tag: Uint8Array): Buffer {
  if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes, got ${iv.length}`);
  if (tag.length !== TAG_BYTES) throw new RangeError(`tag must be ${TAG_BYTES} bytes, got ${tag.length}`);
  return Buffer.concat([iv, tag]);
}

export interface SealOptions {
  /** Fixed IV, for deterministic test vectors only. Default: 12 random bytes. Never reuse an IV with a key. */
  iv?: Uint8Array;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new ConfigError(`key must be ${KEY_BYTES} bytes (AES-128)`);
  }
}

/**
 * Transform: plaintext in, ciphertext out (same length, emitted as it is produced).
 * `iv` is known at construction; `tag` resolves when the input has ended and rejects if the stream fails.
 */
export class SealStream extends Transform {
  readonly iv: Buffer;
  readonly tag: Promise<Buffer>;
  /** Plaintext bytes seen so far (= ciphertext bytes emitted). */
  bytes = 0;
  #cipher: CipherGCM;
  #resolveTag!: (tag: Buffer) => void;
  #rejectTag!: (error: Error) => void;
  #settled = false;

  constructor(key: Uint8Array, options: SealOptions = {}) {
    super();
    checkKey(key);
    const iv = options.iv ?? randomBytes(IV_BYTES);
    if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes, got ${iv.length}`);
    this.iv = Buffer.from(iv);
    this.#cipher = createCipheriv(CIPHER, key, this.iv, { authTagLength: TAG_BYTES });
    this.tag = new Promise<Buffer>((resolve, reject) => {
      this.#resolveTag = resolve;
      this.#rejectTag = reject;
    });
    // A caller that only consumes the ciphertext and handles the stream's own error must not get an
    // unhandled rejection; awaiting `tag` still sees the rejection.
    this.tag.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.bytes += chunk.length;
      const out = this.#cipher.update(chunk);
      callback(null, out.length > 0 ? out : undefined);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      const rest = this.#cipher.final(); // empty for GCM
      const tag = this.#cipher.getAuthTag();
      this.#settled = true;
      this.#resolveTag(tag);
      callback(null, rest.length > 0 ? rest : undefined);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#settled) {
      this.#settled = true;
      this.#rejectTag(error ?? new Error('seal stream was destroyed before the input ended'));
    }
    callback(error);
  }
}

export function createSealStream(key: Uint8Array, options: SealOptions = {}): SealStream {
  return new SealStream(key, options);
}

/** Why unsealing failed. Never retried: the object or the key is wrong. */
export type UnsealReason = 'authentication_failed' | 'too_short';

export class UnsealError extends RejectedInput {
  constructor(reason: UnsealReason, message: string) {
    super(reason, message);
  }
}

export const AUTH_FAILED_MESSAGE = 'authentication failed: wrong key or tampered data';

/**
 * Transform: sealed bytes in, plaintext out. Reads the 28-byte head, then decrypts.
 * The stream errors with `UnsealError` when the tag does not verify or the input is shorter than 28 bytes.
 * Plaintext emitted before the end is unauthenticated: do not act on it until the stream finishes cleanly.
 */
export class UnsealStream extends Transform {
  #key: Uint8Array;
  #head: Buffer[] = [];
  #headBytes = 0;
  #decipher: DecipherGCM | undefined;

  constructor(key: Uint8Array) {
    super();
    checkKey(key);
    this.#key = key;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (!this.#decipher) {
        const need = HEAD_BYTES - this.#headBytes;
        if (chunk.length < need) {
          this.#head.push(chunk);
          this.#headBytes += chunk.length;
          callback();
          return;
        }
        this.#head.push(chunk.subarray(0, need));
        this.#headBytes = HEAD_BYTES;
        const head = Buffer.concat(this.#head);
        this.#head = [];
        const decipher = createDecipheriv(CIPHER, this.#key, head.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAuthTag(head.subarray(IV_BYTES, HEAD_BYTES));
        this.#decipher = decipher;
        chunk = chunk.subarray(need);
        if (chunk.length === 0) {
          callback();
          return;
        }
      }
      const out = this.#decipher.update(chunk);
      callback(null, out.length > 0 ? out : undefined);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#decipher) {
      callback(
        new UnsealError('too_short', `too short to be sealed: ${this.#headBytes} bytes, a sealed object has at least ${HEAD_BYTES}`),
      );
      return;
    }
    let rest: Buffer;
    try {
      rest = this.#decipher.final();
    } catch {
      callback(new UnsealError('authentication_failed', AUTH_FAILED_MESSAGE));
      return;
    }
    callback(null, rest.length > 0 ? rest : undefined);
  }
}

export function createUnsealStream(key: Uint8Array): UnsealStream {
  return new UnsealStream(key);
}

/**
 * One-shot seal of a plaintext held in memory, given whole or as the chunks it arrived in: returns
 * `iv | tag | ciphertext` in one buffer. Streams are for what does not fit in memory.
 */
export function sealBuffer(key: Uint8Array, plaintext: Uint8Array | readonly Uint8Array[], options: SealOptions = {}): Buffer {
  checkKey(key);
  const chunks = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
  const iv = options.iv ?? randomBytes(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new RangeError(`iv must be ${IV_BYTES} bytes, got ${iv.length}`);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  const sealed = Buffer.allocUnsafe(HEAD_BYTES + chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = HEAD_BYTES;
  for (const chunk of chunks) offset += cipher.update(chunk).copy(sealed, offset);
  offset += cipher.final().copy(sealed, offset);
  if (offset !== sealed.length) throw new Error(`sealed ${offset - HEAD_BYTES} bytes of ${sealed.length - HEAD_BYTES}`);
  Buffer.from(iv).copy(sealed, 0);
  cipher.getAuthTag().copy(sealed, IV_BYTES);
  return sealed;
}

/** One-shot unseal with the original worker's rule: iv = b[0:12], tag = b[12:28], ct = b[28:]. */
export function unsealBuffer(key: Uint8Array, sealed: Uint8Array): Buffer {
  checkKey(key);
  if (sealed.length < HEAD_BYTES) {
    throw new UnsealError('too_short', `too short to be sealed: ${sealed.length} bytes, a sealed object has at least ${HEAD_BYTES}`);
  }
  const decipher = createDecipheriv(CIPHER, key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(IV_BYTES, HEAD_BYTES));
  const pt = decipher.update(sealed.subarray(HEAD_BYTES));
  try {
    return Buffer.concat([pt, decipher.final()]);
  } catch {
    throw new UnsealError('authentication_failed', AUTH_FAILED_MESSAGE);
  }
}

/** A temp path beside `outPath` (same directory, so the final rename is atomic). */
function tempPathBeside(outPath: string): string {
  return join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.tmp`);
}

export interface SealFileResult {
  iv: Buffer;
  tag: Buffer;
  /** Plaintext bytes read. The sealed file has `plaintextBytes + HEAD_BYTES` bytes. */
  plaintextBytes: number;
}

/**
 * Seal `inPath` into `outPath` in constant memory: the ciphertext is streamed to a temp file beside
 * `outPath` at offset 28, the head is then written at offset 0, the file is fsynced and renamed over
 * `outPath`. On any failure the temp file is removed and `outPath` is untouched.
 */
export async function sealFile(key: Uint8Array, inPath: string, outPath: string, options: SealOptions = {}): Promise<SealFileResult> {
  const seal = createSealStream(key, options);
  const tmp = tempPathBeside(outPath);
  try {
    await pipeline(createReadStream(inPath), seal, createWriteStream(tmp, { flags: 'wx', start: HEAD_BYTES }));
    const tag = await seal.tag;
    const fh = await open(tmp, 'r+');
    try {
      const head = sealedHead(seal.iv, tag);
      const { bytesWritten } = await fh.write(head, 0, HEAD_BYTES, 0);
      if (bytesWritten !== HEAD_BYTES) throw new Error(`short write of the sealed head (${bytesWritten} bytes)`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, outPath);
    return { iv: seal.iv, tag, plaintextBytes: seal.bytes };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Unseal `inPath` into `outPath` in constant memory. Plaintext goes to a temp file beside `outPath`,
 * which is renamed only after the tag verifies. On failure (`UnsealError` or I/O) the temp file is
 * removed and no output file is written; an existing `outPath` is left as it was.
 */
export async function unsealFile(key: Uint8Array, inPath: string, outPath: string): Promise<{ plaintextBytes: number }> {
  const unseal = createUnsealStream(key);
  const tmp = tempPathBeside(outPath);
  try {
    // Plaintext is patient data: owner-only until the caller decides otherwise.
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    await pipeline(createReadStream(inPath), unseal, out);
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, outPath);
    return { plaintextBytes: out.bytesWritten };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
