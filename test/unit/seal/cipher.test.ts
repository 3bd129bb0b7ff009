import { SHARED_DIR } from '#local/service-endpoints.js';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, RejectedInput } from '#lib/errors.js';
import {
  HEAD_BYTES,
  UnsealError,
  createSealStream,
  createUnsealStream,
  generateBatchKey,
  parseKeyBase64,
  sealBuffer,
  sealFile,
  sealedHead,
  unsealBuffer,
  unsealFile,
} from '#lib/seal/cipher.js';

const SAMPLE = join(SHARED_DIR, 'samples/videos/VH020213M4_001390_20160406T111534.MP4');
const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');

// McGrew & Viega, "The Galois/Counter Mode of Operation", AES-128 test cases 1 and 3 (no AAD).
const TC1 = {
  key: hex('00000000000000000000000000000000'),
  iv: hex('000000000000000000000000'),
  pt: Buffer.alloc(0),
  ct: Buffer.alloc(0),
  tag: hex('58e2fccefa7e3061367f1d57a4e7455a'),
};
const TC3 = {
  key: hex('feffe9928665731c6d6a8f9467308308'),
  iv: hex('cafebabefacedbaddecaf888'),
  pt: hex(`d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
           1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255`),
  ct: hex(`42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
           21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985`),
  tag: hex('4d5c2af327cd64a62cf35abd2ba6fab4'),
};

/** Feed `data` to a transform in chunks of the given sizes (cycled) and collect its output. */
async function through(transform: NodeJS.ReadWriteStream, data: Buffer, chunkSizes: number[] = [65536]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = chunkSizes[i % chunkSizes.length];
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** The original worker's rule, written independently of lib/seal/cipher.ts. */
function decryptLikeOriginalWorker(key: Buffer, b: Buffer): Buffer {
  const iv = b.subarray(0, 12);
  const tag = b.subarray(12, 28);
  const ct = b.subarray(28);
  const d = createDecipheriv('aes-128-gcm', key, iv);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

let dir: string;
let sample: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seal-test-'));
  sample = await readFile(SAMPLE);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseKeyBase64', () => {
  const KEY = hex('00112233445566778899aabbccddeeff');
  const MESSAGE_TAIL = "; expected standard base64 of exactly 16 bytes (24 characters ending in '==')";

  it('accepts standard base64 of 16 bytes', () => {
    expect(parseKeyBase64('ABEiM0RVZneImaq7zN3u/w==')).toEqual(KEY);
    expect(parseKeyBase64(Buffer.from('+/+/+/+/+/+/+/+/').toString('base64'))).toEqual(Buffer.from('+/+/+/+/+/+/+/+/'));
  });

  it.each([
    ['ABEiM0RVZneImaq7zN3u_w==', "uses the url-safe alphabet ('-' or '_')"],
    ['ABEiM0RVZneImaq7zN3u-w==', "uses the url-safe alphabet ('-' or '_')"],
    ['ABEiM0RVZneImaq7zN3u/w', 'has 22 characters'],
    ['ABEiM0RVZneImaq7zN3u/w=', 'has 23 characters'],
    [' ABEiM0RVZneImaq7zN3u/w==', 'contains whitespace'],
    ['ABEiM0RVZneImaq7zN3u/w==\n', 'contains whitespace'],
    ['ABEiM0RVZneI maq7zN3u/w==', 'contains whitespace'],
    ['', 'empty'],
    ['ABEiM0RVZneImaq7zN3u/w==AAAA', 'has 28 characters'],
    [Buffer.alloc(32, 7).toString('base64'), 'has 44 characters'],
    ['ABEiM0RVZneImaq7zN3u/w!=', 'contains characters outside the base64 alphabet'],
    ['ABEiM0RVZneImaq7zN3u/wA=', 'is not padded as 16 bytes'],
    ['ABEiM0RVZneImaq7zN3u/x==', 'is not a canonical encoding'],
  ])('rejects %j: %s, without echoing the value', (text, problem) => {
    let caught: unknown;
    try {
      parseKeyBase64(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(`invalid key: ${problem}${MESSAGE_TAIL}`);
    if (text.trim().length > 0) expect((caught as Error).message).not.toContain(text.trim().slice(0, 8));
  });
});

describe('generateBatchKey', () => {
  it('returns 16 fresh random bytes that round-trip through standard base64', () => {
    const a = generateBatchKey();
    const b = generateBatchKey();
    expect(a.length).toBe(16);
    expect(a.equals(b)).toBe(false);
    expect(parseKeyBase64(a.toString('base64'))).toEqual(a);
  });
});

describe('sealing: known answers', () => {
  it('matches GCM test case 3 (AES-128, 64 bytes, no AAD) as iv | tag | ciphertext', () => {
    expect(sealBuffer(TC3.key, TC3.pt, { iv: TC3.iv })).toEqual(Buffer.concat([TC3.iv, TC3.tag, TC3.ct]));
  });

  it('seals test case 3 given in uneven chunks to the same bytes as given whole', () => {
    const chunks = [TC3.pt.subarray(0, 1), TC3.pt.subarray(1, 17), Buffer.alloc(0), TC3.pt.subarray(17)];
    expect(sealBuffer(TC3.key, chunks, { iv: TC3.iv })).toEqual(Buffer.concat([TC3.iv, TC3.tag, TC3.ct]));
  });

  it('matches GCM test case 1 (empty plaintext): the sealed object is the 28-byte head alone', () => {
    const sealed = sealBuffer(TC1.key, TC1.pt, { iv: TC1.iv });
    expect(sealed.length).toBe(HEAD_BYTES);
    expect(sealed).toEqual(Buffer.concat([TC1.iv, TC1.tag]));
  });

  it('the stream emits test case 3 ciphertext chunk by chunk and resolves its tag', async () => {
    const seal = createSealStream(TC3.key, { iv: TC3.iv });
    expect(seal.iv).toEqual(TC3.iv);
    const ct = await through(seal, TC3.pt, [1, 7, 13, 64]);
    expect(ct).toEqual(TC3.ct);
    expect(await seal.tag).toEqual(TC3.tag);
    expect(seal.bytes).toBe(64);
    expect(sealedHead(seal.iv, await seal.tag)).toEqual(Buffer.concat([TC3.iv, TC3.tag]));
  });

  it('streaming a video clip in odd chunks equals node one-shot createCipheriv on the whole buffer', async () => {
    const key = hex('000102030405060708090a0b0c0d0e0f');
    const iv = hex('f0f1f2f3f4f5f6f7f8f9fafb');
    const seal = createSealStream(key, { iv });
    const ct = await through(seal, sample, [4093, 1, 65536, 17]);

    const oneShot = createCipheriv('aes-128-gcm', key, iv);
    const expectedCt = Buffer.concat([oneShot.update(sample), oneShot.final()]);
    expect(ct.length).toBe(138843);
    expect(ct.equals(expectedCt)).toBe(true);
    expect(await seal.tag).toEqual(oneShot.getAuthTag());
  });

  it('uses a fresh random IV per object when none is injected', () => {
    const key = generateBatchKey();
    const a = createSealStream(key);
    const b = createSealStream(key);
    expect(a.iv.length).toBe(12);
    expect(a.iv.equals(b.iv)).toBe(false);
    a.destroy();
    b.destroy();
  });

  it('sealedHead rejects an IV or tag of the wrong size', () => {
    expect(() => sealedHead(Buffer.alloc(16), Buffer.alloc(16))).toThrow('iv must be 12 bytes, got 16');
    expect(() => sealedHead(Buffer.alloc(12), Buffer.alloc(12))).toThrow('tag must be 16 bytes, got 12');
  });

  it('rejects keys that are not 16 bytes', () => {
    expect(() => createSealStream(Buffer.alloc(32))).toThrow(new ConfigError('key must be 16 bytes (AES-128)'));
    expect(() => createUnsealStream(Buffer.alloc(15))).toThrow(new ConfigError('key must be 16 bytes (AES-128)'));
  });

  it('the tag promise rejects when the input fails before its end', async () => {
    const seal = createSealStream(generateBatchKey());
    const source = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await expect(
      pipeline(
        source,
        seal,
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      ),
    ).rejects.toThrow('source broke');
    await expect(seal.tag).rejects.toThrow('source broke');
  });
});

describe('sealFile', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const iv = hex('000000000000000000000001');

  it('writes iv | tag | ciphertext that the original worker rule decrypts, leaving no temp file', async () => {
    const sub = await mkdtemp(join(dir, 'sealfile-'));
    const out = join(sub, 'sealed.mp4');
    const result = await sealFile(key, SAMPLE, out, { iv });
    const sealed = await readFile(out);

    expect(sealed.length).toBe(138843 + 28);
    expect(sealed).toEqual(sealBuffer(key, sample, { iv }));
    expect(sealed.subarray(0, 12)).toEqual(iv);
    expect(sealed.subarray(12, 28)).toEqual(result.tag);
    expect(result.plaintextBytes).toBe(138843);
    expect(decryptLikeOriginalWorker(key, sealed).equals(sample)).toBe(true);
    expect(await readdir(sub)).toEqual(['sealed.mp4']);
  });

  it('seals an empty file to the 28-byte head', async () => {
    const sub = await mkdtemp(join(dir, 'sealfile-'));
    await writeFile(join(sub, 'empty'), '');
    await sealFile(TC1.key, join(sub, 'empty'), join(sub, 'out'), { iv: TC1.iv });
    expect(await readFile(join(sub, 'out'))).toEqual(Buffer.concat([TC1.iv, TC1.tag]));
  });

  it('on a missing input, rejects with ENOENT and leaves the directory as it was (old OUT untouched)', async () => {
    const sub = await mkdtemp(join(dir, 'sealfile-'));
    await writeFile(join(sub, 'out'), 'previous');
    await expect(sealFile(key, join(sub, 'missing'), join(sub, 'out'))).rejects.toMatchObject({
      code: 'ENOENT',
      path: join(sub, 'missing'),
    });
    expect(await readdir(sub)).toEqual(['out']);
    expect(await readFile(join(sub, 'out'), 'utf8')).toBe('previous');
  });
});

describe('unsealing', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const iv = hex('cafebabefacedbaddecaf888');
  let sealed: Buffer;
  beforeAll(() => {
    sealed = sealBuffer(key, sample, { iv });
  });

  const flip = (b: Buffer, at: number) => {
    const c = Buffer.from(b);
    c[at] ^= 0x01;
    return c;
  };

  async function unsealError(key_: Buffer, data: Buffer, chunks?: number[]): Promise<UnsealError> {
    try {
      await through(createUnsealStream(key_), data, chunks);
    } catch (error) {
      return error as UnsealError;
    }
    throw new Error('expected unsealing to fail');
  }

  it('the stream decrypts test case 3 fed one byte at a time (head split across chunks)', async () => {
    const plain = await through(createUnsealStream(TC3.key), Buffer.concat([TC3.iv, TC3.tag, TC3.ct]), [1]);
    expect(plain).toEqual(TC3.pt);
  });

  it('the stream decrypts a sealed clip fed in odd chunks', async () => {
    const plain = await through(createUnsealStream(key), sealed, [5, 27, 3, 8191]);
    expect(plain.equals(sample)).toBe(true);
  });

  it('the stream decrypts an exactly 28-byte sealed object to nothing', async () => {
    expect(await through(createUnsealStream(TC1.key), Buffer.concat([TC1.iv, TC1.tag]))).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['a wrong key', 'key'],
    ['a flipped ciphertext byte', 28 + 1000],
    ['a flipped last ciphertext byte', -1],
    ['a flipped tag byte', 12 + 5],
    ['a flipped IV byte', 3],
    ['a truncated file', 'truncate'],
  ] as const)('fails authentication on %s', async (_label, how) => {
    let data = sealed;
    let k = key;
    if (how === 'key') k = flip(key, 0);
    else if (how === 'truncate') data = sealed.subarray(0, sealed.length - 1);
    else data = flip(sealed, how < 0 ? sealed.length + how : how);
    const error = await unsealError(k, data);
    expect(error).toBeInstanceOf(UnsealError);
    expect(error).toBeInstanceOf(RejectedInput);
    expect(error.reason).toBe('authentication_failed');
    expect(error.message).toBe('authentication failed: wrong key or tampered data');
    expect(() => unsealBuffer(k, data)).toThrow(
      new UnsealError('authentication_failed', 'authentication failed: wrong key or tampered data'),
    );
  });

  it.each([0, 1, 27])('rejects a %d-byte input as too short to be sealed', async (n) => {
    const error = await unsealError(key, sealed.subarray(0, n), [1]);
    expect(error).toBeInstanceOf(UnsealError);
    expect(error.reason).toBe('too_short');
    expect(error.message).toBe(`too short to be sealed: ${n} bytes, a sealed object has at least 28`);
    expect(() => unsealBuffer(key, sealed.subarray(0, n))).toThrow(`too short to be sealed: ${n} bytes, a sealed object has at least 28`);
  });

  it('unsealBuffer recovers the clip', () => {
    expect(unsealBuffer(key, sealed).equals(sample)).toBe(true);
  });

  it('unsealFile writes the plaintext (mode 0600) and no temp file', async () => {
    const sub = await mkdtemp(join(dir, 'unseal-'));
    await writeFile(join(sub, 'sealed'), sealed);
    const result = await unsealFile(key, join(sub, 'sealed'), join(sub, 'plain.mp4'));
    expect(result.plaintextBytes).toBe(138843);
    expect(
      createHash('sha256')
        .update(await readFile(join(sub, 'plain.mp4')))
        .digest('hex'),
    ).toBe(createHash('sha256').update(sample).digest('hex'));
    expect((await stat(join(sub, 'plain.mp4'))).mode & 0o777).toBe(0o600);
    expect((await readdir(sub)).sort()).toEqual(['plain.mp4', 'sealed']);
  });

  it('unsealFile on tampered data writes no output file and leaves no temp file', async () => {
    const sub = await mkdtemp(join(dir, 'unseal-'));
    await writeFile(join(sub, 'sealed'), flip(sealed, 100_000));
    await expect(unsealFile(key, join(sub, 'sealed'), join(sub, 'plain.mp4'))).rejects.toThrow(
      new UnsealError('authentication_failed', 'authentication failed: wrong key or tampered data'),
    );
    expect(await readdir(sub)).toEqual(['sealed']);
  });

  it('unsealFile with a wrong key leaves an existing OUT as it was', async () => {
    const sub = await mkdtemp(join(dir, 'unseal-'));
    await writeFile(join(sub, 'sealed'), sealed);
    await writeFile(join(sub, 'plain.mp4'), 'previous');
    await expect(unsealFile(flip(key, 15), join(sub, 'sealed'), join(sub, 'plain.mp4'))).rejects.toBeInstanceOf(UnsealError);
    expect(await readFile(join(sub, 'plain.mp4'), 'utf8')).toBe('previous');
    expect((await readdir(sub)).sort()).toEqual(['plain.mp4', 'sealed']);
  });
});
