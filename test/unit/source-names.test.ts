import { describe, it, expect } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '#lib/errors.js';
import { sourceNameSealer } from '#lib/source-names.js';

const keyText = () => randomBytes(32).toString('base64');
const NAME = 'hospital-a/ward 3/Doe, Jane 1970-01-01.mp4';
const AT = { tenant: 'hospital-a', videoId: 'a'.repeat(32) };

describe('source names', () => {
  it('seal and open a name for its own video, with a fresh iv each time and no plaintext in the sealed text', () => {
    const names = sourceNameSealer(keyText());
    const first = names.seal(NAME, AT);
    const second = names.seal(NAME, AT);
    expect(first).not.toBe(second);
    expect(Buffer.from(first, 'base64')).toHaveLength(12 + 16 + Buffer.byteLength(NAME));
    expect(Buffer.from(first, 'base64').toString('latin1')).not.toContain('Doe');
    expect(names.open(first, AT)).toBe(NAME);
    expect(names.open(second, AT)).toBe(NAME);
    expect(names.open(names.seal('hospital-a/Ünïcødé/€.mp4', AT), AT)).toBe('hospital-a/Ünïcødé/€.mp4');
  });

  it('do not open on another video, another tenant, another key, or tampered bytes', () => {
    const names = sourceNameSealer(keyText());
    const sealed = names.seal(NAME, AT);
    expect(names.open(sealed, { ...AT, videoId: 'b'.repeat(32) })).toBeUndefined();
    expect(names.open(sealed, { ...AT, tenant: 'hospital-b' })).toBeUndefined();
    expect(sourceNameSealer(keyText()).open(sealed, AT)).toBeUndefined();
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1] ^= 1;
    expect(names.open(bytes.toString('base64'), AT)).toBeUndefined();
    expect(names.open('', AT)).toBeUndefined();
    expect(names.open('not base64 at all', AT)).toBeUndefined();
  });

  it('file a key under an HMAC that only the key reproduces, never its SHA-256', () => {
    const text = keyText();
    const digest = sourceNameSealer(text).indexDigest(NAME);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(sourceNameSealer(text).indexDigest(NAME)).toBe(digest);
    expect(digest).not.toBe(createHash('sha256').update(NAME).digest('hex'));
    expect(sourceNameSealer(keyText()).indexDigest(NAME)).not.toBe(digest);
    expect(sourceNameSealer(text).indexDigest(`${NAME} `)).not.toBe(digest);
  });

  it('take 32 bytes of base64, naming a wrong size and never the value', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => sourceNameSealer(short)).toThrow(ConfigError);
    expect(() => sourceNameSealer(short)).toThrow('SOURCE_NAME_KEY must be 32 bytes of base64, got 16 bytes');
    expect(() => sourceNameSealer(`  ${keyText()}\n`)).not.toThrow();
  });
});
