/**
 * Batch-key wrapping (architecture.md "Keys"): a batch's 16-byte AES key is stored only wrapped, as a compact
 * JWE (`A256KW` + `A256GCM`) under a 32-byte master key (SSM / Secrets Manager in the cloud, a local key
 * file in the local stack).
 *
 * The batch context (tenant, batch id) is bound into the JWE protected header, which A256GCM authenticates
 * as associated data, and is checked on unwrap: a wrapped key copied to another batch row does not unwrap.
 *
 * Errors never carry key bytes (batch key or master key).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { ConfigError, RadiomicsError } from './errors.js';
import { KEY_BYTES } from './contract.js';

export const MASTER_KEY_BYTES = 32;

export interface KeyContext {
  tenant: string;
  batchId: string;
}

export interface KeyWrapper {
  /** Wrap a 16-byte batch key, bound to `context`. Returns a compact JWE. */
  wrap(key: Buffer, context: KeyContext): Promise<string>;
  /** Unwrap a compact JWE made by `wrap` for the same `context`; throws `KeyUnwrapError` otherwise. */
  unwrap(jwe: string, context: KeyContext): Promise<Buffer>;
}

export type KeyUnwrapReason = 'malformed' | 'decryption_failed' | 'context_mismatch' | 'wrong_key_size';

/** A wrapped key that cannot be unwrapped: wrong master key, tampered JWE, or another batch's row. */
export class KeyUnwrapError extends RadiomicsError {
  override readonly name = 'KeyUnwrapError';
  constructor(
    readonly reason: KeyUnwrapReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(500, 'key_unwrap_failed', message, options);
  }
}

const ALG = 'A256KW';
const ENC = 'A256GCM';
/** Protected-header claim names carrying the bound context. */
const TENANT_CLAIM = 'tenant';
const BATCH_CLAIM = 'batch_id';

function checkContext(context: KeyContext): void {
  if (typeof context?.tenant !== 'string' || context.tenant.length === 0) throw new TypeError('key context needs a non-empty tenant');
  if (typeof context?.batchId !== 'string' || context.batchId.length === 0) throw new TypeError('key context needs a non-empty batchId');
}

export class JweKeyWrapper implements KeyWrapper {
  readonly #masterKey: Uint8Array;

  constructor(masterKey: Uint8Array) {
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== MASTER_KEY_BYTES) {
      throw new ConfigError(
        `master key must be ${MASTER_KEY_BYTES} bytes, got ${masterKey instanceof Uint8Array ? masterKey.length : typeof masterKey}`,
      );
    }
    this.#masterKey = Uint8Array.from(masterKey);
  }

  async wrap(key: Buffer, context: KeyContext): Promise<string> {
    checkContext(context);
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw new TypeError(`batch key must be ${KEY_BYTES} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    return new CompactEncrypt(key)
      .setProtectedHeader({ alg: ALG, enc: ENC, [TENANT_CLAIM]: context.tenant, [BATCH_CLAIM]: context.batchId })
      .encrypt(this.#masterKey);
  }

  async unwrap(jwe: string, context: KeyContext): Promise<Buffer> {
    checkContext(context);
    if (typeof jwe !== 'string' || jwe.split('.').length !== 5) {
      throw new KeyUnwrapError('malformed', 'wrapped key is not a compact JWE');
    }
    let result: Awaited<ReturnType<typeof compactDecrypt>>;
    try {
      result = await compactDecrypt(jwe, this.#masterKey, {
        keyManagementAlgorithms: [ALG],
        contentEncryptionAlgorithms: [ENC],
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const malformed = code === 'ERR_JWE_INVALID' || code === 'ERR_JOSE_ALG_NOT_ALLOWED' || code === 'ERR_JOSE_NOT_SUPPORTED';
      throw new KeyUnwrapError(
        malformed ? 'malformed' : 'decryption_failed',
        malformed ? 'wrapped key is not an A256KW/A256GCM compact JWE' : 'wrapped key does not decrypt: wrong master key or tampered JWE',
        { cause: code },
      );
    }
    const header = result.protectedHeader as Record<string, unknown>;
    if (header[TENANT_CLAIM] !== context.tenant || header[BATCH_CLAIM] !== context.batchId) {
      throw new KeyUnwrapError('context_mismatch', 'wrapped key belongs to another tenant or batch');
    }
    if (result.plaintext.length !== KEY_BYTES) {
      throw new KeyUnwrapError('wrong_key_size', `wrapped key is ${result.plaintext.length} bytes, expected ${KEY_BYTES}`);
    }
    return Buffer.from(result.plaintext);
  }
}

/** The master key from its secret's text (SSM parameter or file): base64 of exactly 32 bytes. */
export function decodeMasterKey(text: string): Uint8Array {
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new ConfigError(`MASTER_KEY must be ${MASTER_KEY_BYTES} bytes of base64, got ${bytes.length} bytes`);
  }
  return bytes;
}

/**
 * Read a 32-byte master key from a file: either exactly 32 raw bytes, or standard/url-safe base64 of
 * 32 bytes (surrounding whitespace allowed). A 32-byte file made only of base64 characters is taken as
 * (wrong-sized) base64 text, not as a raw key. The error names the path and the size, never the content.
 */
export async function loadMasterKeyFile(path: string): Promise<Uint8Array> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`master key file ${path} cannot be read (${code ?? 'error'})`);
  }
  return decodeMasterKeyFile(content, path);
}

function decodeMasterKeyFile(content: Buffer, path: string): Uint8Array {
  const text = content.toString('latin1').trim();
  // 32 random bytes are all base64 characters with probability 4^-32: such a file is base64 text of the
  // wrong size (e.g. of 24 bytes), not a raw key.
  const looksLikeText = /^[A-Za-z0-9+/=_\-\s]*$/.test(content.toString('latin1'));
  if (content.length === MASTER_KEY_BYTES && !looksLikeText) return new Uint8Array(content);
  if (/^[A-Za-z0-9+/]{43}=$/.test(text) || /^[A-Za-z0-9_-]{43}$/.test(text)) {
    const bytes = Buffer.from(text, text.includes('-') || text.includes('_') || !text.endsWith('=') ? 'base64url' : 'base64');
    if (bytes.length === MASTER_KEY_BYTES) return new Uint8Array(bytes);
  }
  throw new ConfigError(
    `master key file ${path} must hold ${MASTER_KEY_BYTES} bytes, raw or base64 (44 characters); it holds ${content.length} bytes that are neither`,
  );
}

/**
 * Create a master key file (32 random bytes, base64, mode 0600) if `path` does not exist yet.
 * Returns true when it created the file, false when one was already there (left untouched).
 */
export async function createMasterKeyFile(path: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, `${randomBytes(MASTER_KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export interface BatchKeyCacheOptions {
  /** A key not used for this long is dropped (zeroed) at the next lookup. */
  idleMs: number;
  /** At most this many keys are kept; the least recently used goes first. */
  maxKeys: number;
  nowMs?: () => number;
}

/**
 * Unwrapped batch keys, kept per warm container and keyed by batch, so that a run of videos sealed into one open
 * batch unwraps its key once. The owner drops a batch's key (`forget`, which zeroes it) as soon as it learns the
 * batch is no longer open; a key unused for `idleMs` goes at the next lookup. A key is handed out only for the
 * same wrapped key and context it was unwrapped for.
 * A returned key is shared: the caller must not change or zero it. Keys never leave the process; nothing here logs.
 */
export class BatchKeyCache {
  readonly #entries = new Map<string, { jwe: string; tenant: string; key: Buffer; usedAtMs: number }>();
  readonly #nowMs: () => number;

  constructor(
    private readonly wrapper: KeyWrapper,
    private readonly options: BatchKeyCacheOptions,
  ) {
    this.#nowMs = options.nowMs ?? Date.now;
  }

  async unwrap(jwe: string, context: KeyContext): Promise<Buffer> {
    const nowMs = this.#nowMs();
    this.#dropIdle(nowMs);
    const entry = this.#entries.get(context.batchId);
    if (entry && entry.jwe === jwe && entry.tenant === context.tenant) {
      this.#touch(context.batchId, entry, nowMs);
      return entry.key;
    }
    const key = await this.wrapper.unwrap(jwe, context);
    this.remember(jwe, context, key);
    return this.#entries.get(context.batchId)!.key;
  }

  /** Keeps a copy of a key just wrapped as `jwe` for `context` (a new batch), so that its first seal need not unwrap it. */
  remember(jwe: string, context: KeyContext, key: Uint8Array): void {
    this.forget(context.batchId);
    this.#touch(context.batchId, { jwe, tenant: context.tenant, key: Buffer.from(key), usedAtMs: 0 }, this.#nowMs());
    while (this.#entries.size > this.options.maxKeys) this.forget(this.#entries.keys().next().value!);
  }

  forget(batchId: string): void {
    const entry = this.#entries.get(batchId);
    if (!entry) return;
    entry.key.fill(0);
    this.#entries.delete(batchId);
  }

  get size(): number {
    return this.#entries.size;
  }

  #touch(batchId: string, entry: { jwe: string; tenant: string; key: Buffer; usedAtMs: number }, nowMs: number): void {
    entry.usedAtMs = nowMs;
    this.#entries.delete(batchId);
    this.#entries.set(batchId, entry);
  }

  #dropIdle(nowMs: number): void {
    for (const [batchId, entry] of this.#entries) {
      if (nowMs - entry.usedAtMs < this.options.idleMs) break;
      this.forget(batchId);
    }
  }
}
