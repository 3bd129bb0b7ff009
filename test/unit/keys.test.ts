import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '#lib/errors.js';
import { BatchKeyCache, JweKeyWrapper, KeyUnwrapError, createMasterKeyFile, loadMasterKeyFile, type KeyWrapper } from '#lib/keys.js';

const MASTER = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const OTHER_MASTER = Buffer.alloc(32, 0xab);
const BATCH_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const CONTEXT = { tenant: 'hospital-a', batchId: '6f1c1f0e-1c4e-4f5e-9a55-0d9f3c0c1a2b' };

/** Every representation of a secret that must never show up in a message or a JWE. */
const secretForms = (b: Buffer) => [b.toString('hex'), b.toString('base64'), b.toString('base64url').slice(0, 16)];

async function unwrapError(promise: Promise<unknown>): Promise<KeyUnwrapError> {
  try {
    await promise;
  } catch (error) {
    return error as KeyUnwrapError;
  }
  throw new Error('expected unwrap to fail');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keys-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JweKeyWrapper', () => {
  const wrapper = new JweKeyWrapper(MASTER);

  it('round-trips a batch key for the same tenant and batch', async () => {
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    expect(await wrapper.unwrap(jwe, { ...CONTEXT })).toEqual(BATCH_KEY);
  });

  it('produces a compact A256KW/A256GCM JWE whose protected header binds tenant and batch, without the key in clear', async () => {
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    const parts = jwe.split('.');
    expect(parts.length).toBe(5);
    expect(Buffer.from(parts[1], 'base64url').length).toBe(40); // A256KW of a 32-byte CEK
    expect(Buffer.from(parts[2], 'base64url').length).toBe(12); // GCM IV
    expect(Buffer.from(parts[3], 'base64url').length).toBe(16); // the wrapped 16-byte batch key
    expect(Buffer.from(parts[4], 'base64url').length).toBe(16); // GCM tag
    expect(JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'))).toEqual({
      alg: 'A256KW',
      enc: 'A256GCM',
      tenant: 'hospital-a',
      batch_id: '6f1c1f0e-1c4e-4f5e-9a55-0d9f3c0c1a2b',
    });
    for (const form of [...secretForms(BATCH_KEY), ...secretForms(MASTER)]) expect(jwe).not.toContain(form);
  });

  it('wraps the same key differently each time (fresh CEK and IV)', async () => {
    expect(await wrapper.wrap(BATCH_KEY, CONTEXT)).not.toBe(await wrapper.wrap(BATCH_KEY, CONTEXT));
  });

  it.each([
    ['another batch', { ...CONTEXT, batchId: '00000000-0000-4000-8000-000000000000' }],
    ['another tenant', { ...CONTEXT, tenant: 'hospital-b' }],
  ])('refuses a wrapped key copied to %s', async (_label, context) => {
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    const error = await unwrapError(wrapper.unwrap(jwe, context));
    expect(error).toBeInstanceOf(KeyUnwrapError);
    expect(error.reason).toBe('context_mismatch');
    expect(error.message).toBe('wrapped key belongs to another tenant or batch');
  });

  it('refuses a JWE whose header was edited to name another batch (the header is authenticated)', async () => {
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    const [, ...rest] = jwe.split('.');
    const forgedHeader = Buffer.from(
      JSON.stringify({ alg: 'A256KW', enc: 'A256GCM', tenant: 'hospital-a', batch_id: 'other-batch' }),
    ).toString('base64url');
    const error = await unwrapError(wrapper.unwrap([forgedHeader, ...rest].join('.'), { ...CONTEXT, batchId: 'other-batch' }));
    expect(error).toBeInstanceOf(KeyUnwrapError);
    expect(error.reason).toBe('decryption_failed');
    expect(error.message).toBe('wrapped key does not decrypt: wrong master key or tampered JWE');
  });

  it('refuses to unwrap under another master key, without key bytes in the error', async () => {
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    const error = await unwrapError(new JweKeyWrapper(OTHER_MASTER).unwrap(jwe, CONTEXT));
    expect(error).toBeInstanceOf(KeyUnwrapError);
    expect(error.reason).toBe('decryption_failed');
    expect(error.message).toBe('wrapped key does not decrypt: wrong master key or tampered JWE');
    const text = `${error.message} ${String(error.cause)} ${error.stack}`;
    for (const form of [...secretForms(BATCH_KEY), ...secretForms(MASTER), ...secretForms(OTHER_MASTER)]) expect(text).not.toContain(form);
  });

  it('refuses a tampered ciphertext', async () => {
    const parts = (await wrapper.wrap(BATCH_KEY, CONTEXT)).split('.');
    const ct = Buffer.from(parts[3], 'base64url');
    ct[0] ^= 1;
    parts[3] = ct.toString('base64url');
    const error = await unwrapError(wrapper.unwrap(parts.join('.'), CONTEXT));
    expect(error.reason).toBe('decryption_failed');
  });

  it.each([
    ['not a JWE', 'wrapped key is not a compact JWE'],
    ['a.b.c', 'wrapped key is not a compact JWE'],
    ['a.b.c.d.e', 'wrapped key is not an A256KW/A256GCM compact JWE'],
  ])('reports %j as malformed', async (jwe, message) => {
    const error = await unwrapError(wrapper.unwrap(jwe, CONTEXT));
    expect(error).toBeInstanceOf(KeyUnwrapError);
    expect(error.reason).toBe('malformed');
    expect(error.message).toBe(message);
  });

  it('refuses a JWE made with another algorithm (dir)', async () => {
    const { CompactEncrypt } = await import('jose');
    const jwe = await new CompactEncrypt(BATCH_KEY)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', tenant: CONTEXT.tenant, batch_id: CONTEXT.batchId })
      .encrypt(MASTER);
    const error = await unwrapError(wrapper.unwrap(jwe, CONTEXT));
    expect(error.reason).toBe('malformed');
    expect(error.message).toBe('wrapped key is not an A256KW/A256GCM compact JWE');
  });

  it('refuses a master key that is not 32 bytes, naming only its size', () => {
    expect(() => new JweKeyWrapper(Buffer.alloc(16, 9))).toThrow(new ConfigError('master key must be 32 bytes, got 16'));
  });

  it('wraps only 16-byte batch keys and needs a full context', async () => {
    await expect(wrapper.wrap(Buffer.alloc(32), CONTEXT)).rejects.toThrow(new TypeError('batch key must be 16 bytes, got 32'));
    await expect(wrapper.wrap(BATCH_KEY, { tenant: '', batchId: 'b' })).rejects.toThrow('key context needs a non-empty tenant');
    await expect(wrapper.wrap(BATCH_KEY, { tenant: 't', batchId: '' })).rejects.toThrow('key context needs a non-empty batchId');
  });
});

describe('master key files', () => {
  it('loads 32 raw bytes', async () => {
    const path = join(dir, 'raw.key');
    await writeFile(path, MASTER);
    expect(Buffer.from(await loadMasterKeyFile(path))).toEqual(MASTER);
  });

  it('loads standard base64 with a trailing newline, and unpadded base64url', async () => {
    await writeFile(join(dir, 'b64.key'), `${MASTER.toString('base64')}\n`);
    await writeFile(join(dir, 'b64url.key'), OTHER_MASTER.toString('base64url'));
    expect(Buffer.from(await loadMasterKeyFile(join(dir, 'b64.key')))).toEqual(MASTER);
    expect(Buffer.from(await loadMasterKeyFile(join(dir, 'b64url.key')))).toEqual(OTHER_MASTER);
  });

  it.each([
    ['16 raw bytes', Buffer.alloc(16, 0x41), 16],
    ['base64 of 24 bytes', Buffer.from(Buffer.alloc(24, 0x42).toString('base64')), 32],
    ['base64 of 31 bytes', Buffer.from(`${Buffer.alloc(31, 0x43).toString('base64')}\n`), 45],
    ['an empty file', Buffer.alloc(0), 0],
  ])('refuses %s, naming the size and not the content', async (_label, content, size) => {
    const path = join(dir, `bad-${size}.key`);
    await writeFile(path, content);
    const error = await loadMasterKeyFile(path).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toBe(
      `master key file ${path} must hold 32 bytes, raw or base64 (44 characters); it holds ${size} bytes that are neither`,
    );
    if (content.length > 0) expect(error!.message).not.toContain(content.toString('latin1').trim().slice(0, 12));
  });

  it('reports a missing file as a ConfigError', async () => {
    const path = join(dir, 'missing.key');
    await expect(loadMasterKeyFile(path)).rejects.toThrow(new ConfigError(`master key file ${path} cannot be read (ENOENT)`));
  });

  it('createMasterKeyFile creates a loadable 0600 key once and leaves an existing one untouched', async () => {
    const path = join(dir, 'nested', 'local', 'master.key');
    expect(await createMasterKeyFile(path)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const key = await loadMasterKeyFile(path);
    expect(key.length).toBe(32);

    expect(await createMasterKeyFile(path)).toBe(false);
    expect(await readFile(path, 'utf8')).toBe(text);

    const wrapper = new JweKeyWrapper(key);
    expect(await wrapper.unwrap(await wrapper.wrap(BATCH_KEY, CONTEXT), CONTEXT)).toEqual(BATCH_KEY);
  });
});

describe('BatchKeyCache', () => {
  const wrapper = new JweKeyWrapper(MASTER);
  const counting = () => {
    const calls = { unwrap: 0 };
    const counted: KeyWrapper = {
      wrap: (key, context) => wrapper.wrap(key, context),
      unwrap: (jwe, context) => {
        calls.unwrap++;
        return wrapper.unwrap(jwe, context);
      },
    };
    return { calls, counted };
  };

  it('unwraps a batch key once while it is in use', async () => {
    const { calls, counted } = counting();
    const cache = new BatchKeyCache(counted, { idleMs: 60_000, maxKeys: 4 });
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    for (let i = 0; i < 3; i++) expect(await cache.unwrap(jwe, CONTEXT)).toEqual(BATCH_KEY);
    expect(calls.unwrap).toBe(1);
  });

  it('a key it remembers for a new batch needs no unwrap, and is a copy', async () => {
    const { calls, counted } = counting();
    const cache = new BatchKeyCache(counted, { idleMs: 60_000, maxKeys: 4 });
    const key = Buffer.from(BATCH_KEY);
    const jwe = await wrapper.wrap(key, CONTEXT);
    cache.remember(jwe, CONTEXT, key);
    key.fill(0);
    expect(await cache.unwrap(jwe, CONTEXT)).toEqual(BATCH_KEY);
    expect(calls.unwrap).toBe(0);
  });

  it('forgetting a batch zeroes its key and the next use unwraps again', async () => {
    const { calls, counted } = counting();
    const cache = new BatchKeyCache(counted, { idleMs: 60_000, maxKeys: 4 });
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    const held = await cache.unwrap(jwe, CONTEXT);
    cache.forget(CONTEXT.batchId);
    expect(held).toEqual(Buffer.alloc(16));
    expect(cache.size).toBe(0);
    expect(await cache.unwrap(jwe, CONTEXT)).toEqual(BATCH_KEY);
    expect(calls.unwrap).toBe(2);
  });

  it('hands a key out only for the wrapped key and tenant it was unwrapped for', async () => {
    const cache = new BatchKeyCache(wrapper, { idleMs: 60_000, maxKeys: 4 });
    const jwe = await wrapper.wrap(BATCH_KEY, CONTEXT);
    await cache.unwrap(jwe, CONTEXT);
    expect((await unwrapError(cache.unwrap(jwe, { ...CONTEXT, tenant: 'hospital-b' }))).reason).toBe('context_mismatch');
    const other = await wrapper.wrap(Buffer.alloc(16, 7), CONTEXT);
    expect(await cache.unwrap(other, CONTEXT)).toEqual(Buffer.alloc(16, 7));
  });

  it('drops keys idle too long, and the least recently used beyond its size, zeroing them', async () => {
    let nowMs = 0;
    const cache = new BatchKeyCache(wrapper, { idleMs: 1_000, maxKeys: 2, nowMs: () => nowMs });
    const contexts = ['b1', 'b2', 'b3'].map((batchId) => ({ tenant: 'hospital-a', batchId }));
    const jwes = await Promise.all(contexts.map((context) => wrapper.wrap(BATCH_KEY, context)));
    const first = await cache.unwrap(jwes[0], contexts[0]);
    nowMs = 10;
    await cache.unwrap(jwes[1], contexts[1]);
    nowMs = 20;
    await cache.unwrap(jwes[0], contexts[0]);
    await cache.unwrap(jwes[2], contexts[2]);
    expect(cache.size).toBe(2);
    expect(first).toEqual(BATCH_KEY);
    nowMs = 5_000;
    await cache.unwrap(jwes[2], contexts[2]);
    expect(cache.size).toBe(1);
    expect(first).toEqual(Buffer.alloc(16));
  });
});
