/**
 * Source names: the intake object key a video came from (`<tenant>/<name>`, which may identify a patient), kept on
 * the video row only sealed, so that the status API can give it back to the tenant that uploaded it and to no one
 * else (the `source` of a video's answer, features.csv's `source` column).
 *
 * One 32-byte secret, SOURCE_NAME_KEY, yields two subkeys by HKDF-SHA256:
 * - one seals a name with AES-256-GCM, a random 12-byte iv, and the tenant and video id as associated data, so a
 *   sealed name copied onto another video's row, or another tenant's, does not open. Stored as base64 of
 *   `iv(12) | tag(16) | ciphertext`, the layout of sealed videos;
 * - one keys the HMAC-SHA256 under which the `bySource` index files a key (lib/store/source-lookup.ts): an unkeyed
 *   hash of a guessable name would let anyone who can read the table confirm a guess.
 *
 * Errors never carry the key or a name.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';

export const SOURCE_NAME_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Which video's row a sealed name belongs to. */
export interface SourceNameContext {
  tenant: string;
  videoId: string;
}

export interface SourceNameSealer {
  /** The name sealed for the row of `context`'s video. */
  seal(name: string, context: SourceNameContext): string;
  /** The name, or undefined when `sealed` was not sealed under this key for this tenant and video. */
  open(sealed: string, context: SourceNameContext): string | undefined;
  /** The keyed digest (hex) that files `sourceKey` in the source index. */
  indexDigest(sourceKey: string): string;
}

const associatedData = (context: SourceNameContext) => Buffer.from(JSON.stringify([context.tenant, context.videoId]), 'utf8');

class AesGcmSourceNames implements SourceNameSealer {
  readonly #sealKey: Buffer;
  readonly #indexKey: Buffer;

  constructor(key: Uint8Array) {
    const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `trustworthy-radiomics ${purpose}`, 32));
    this.#sealKey = derive('source-name seal');
    this.#indexKey = derive('source-name index');
  }

  seal(name: string, context: SourceNameContext): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey, iv).setAAD(associatedData(context));
    const ciphertext = Buffer.concat([cipher.update(name, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64');
  }

  open(sealed: string, context: SourceNameContext): string | undefined {
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#sealKey, bytes.subarray(0, IV_BYTES)).setAAD(associatedData(context));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  indexDigest(sourceKey: string): string {
    return createHmac('sha256', this.#indexKey).update(sourceKey, 'utf8').digest('hex');
  }
}

/** The sealer of SOURCE_NAME_KEY's value: base64 of 32 bytes. */
export function sourceNameSealer(keyText: string): SourceNameSealer {
  const key = Buffer.from(keyText.trim(), 'base64');
  if (key.length !== SOURCE_NAME_KEY_BYTES)
    throw new ConfigError(`SOURCE_NAME_KEY must be ${SOURCE_NAME_KEY_BYTES} bytes of base64, got ${key.length} bytes`);
  return new AesGcmSourceNames(key);
}
