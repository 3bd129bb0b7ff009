/** enclave/build-config.ts: config.json from the image build's output (fixtures are illustrative, see their README). */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEnclaveConfig, parseKeytag, parseMrenclave } from '#enclave/build-config.js';
import { ConfigError } from '#lib/errors.js';
import { parseEnclaveConfig } from '#lib/enclave-image/config.js';
import { REPO_ROOT } from '#local/service-endpoints.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'enclave', 'build-output');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const TAG = '8b3c0f7e2a41d95c6e10b7a4f3d2c981';
const KEY = '5f1e9a2b7c3d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7';
const NODE_MRENCLAVE = 'e3b7a1c24d5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d';
const FFMPEG_MRENCLAVE = '7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  return 'no error';
}

describe('keytag', () => {
  it('reads path, tag and key from scone fspf encrypt output', () => {
    expect(parseKeytag(fixture('keytag'))).toEqual({ fspfPath: '/fspf.pb', tag: TAG, key: KEY });
  });

  it('normalises upper-case hex and tolerates surrounding lines', () => {
    const text = `some build noise\nEncrypted file system protection file /app/fspf.pb AES-GCM tag: ${TAG.toUpperCase()} key: ${KEY.toUpperCase()}\r\n`;
    expect(parseKeytag(text)).toEqual({ fspfPath: '/app/fspf.pb', tag: TAG, key: KEY });
  });

  it('says what is wrong without printing the key', () => {
    expect(messageOf(() => parseKeytag('Added files to file system protection file fspf.pb new AES-GCM tag: 39a2'))).toBe(
      'keytag: no "Encrypted file system protection file <path> AES-GCM tag: <hex> key: <hex>" line (is this the output of scone fspf encrypt?)',
    );
    expect(messageOf(() => parseKeytag(`Encrypted file system protection file /fspf.pb AES-GCM tag: ${TAG.slice(2)} key: ${KEY}`))).toBe(
      'keytag: the AES-GCM tag must be 32 hex characters, got 30 characters',
    );
    const shortKey = messageOf(() =>
      parseKeytag(`Encrypted file system protection file /fspf.pb AES-GCM tag: ${TAG} key: ${KEY.slice(0, 63)}z`),
    );
    expect(shortKey).toBe('keytag: the key must be 64 hex characters, got 64 characters with non-hex ones');
    expect(shortKey.includes(KEY.slice(0, 16))).toBe(false);
    expect(messageOf(() => parseKeytag(`Encrypted file system protection file fspf.pb AES-GCM tag: ${TAG} key: ${KEY}`))).toBe(
      'keytag: the protection file path must be absolute (it is the path inside the image)',
    );
    const twice = `Encrypted file system protection file /fspf.pb AES-GCM tag: ${TAG} key: ${KEY}\n`.repeat(2);
    expect(messageOf(() => parseKeytag(twice))).toBe('keytag: 2 protection-file lines; expected exactly one');
  });
});

describe('mrenclave', () => {
  it('reads SCONE_HASH=1 output (one line of 64 hex)', () => {
    expect(parseMrenclave(fixture('scone-hash.txt'))).toBe(NODE_MRENCLAVE);
  });

  it('reads the Enclave hash line of SCONE_VERSION=1 debug output', () => {
    expect(parseMrenclave(fixture('scone-version.txt'))).toBe(NODE_MRENCLAVE);
  });

  it('reads a signer-style MRENCLAVE line', () => {
    expect(parseMrenclave(`mrsigner: ab\nMRENCLAVE: ${NODE_MRENCLAVE}\n`)).toBe(NODE_MRENCLAVE);
  });

  it('rejects missing, short or ambiguous values', () => {
    expect(messageOf(() => parseMrenclave('hello\n'))).toBe(
      'mrenclave: no MRENCLAVE found (expected a line of 64 hex characters as printed by SCONE_HASH=1, or "Enclave hash: <64 hex>")',
    );
    expect(messageOf(() => parseMrenclave(`Enclave hash: ${NODE_MRENCLAVE.slice(1)}`))).toBe(
      'mrenclave: an MRENCLAVE must be 64 hex characters, got 63',
    );
    expect(messageOf(() => parseMrenclave(`${NODE_MRENCLAVE}\n${FFMPEG_MRENCLAVE}\n`))).toBe(
      'mrenclave: 2 different MRENCLAVE values found; pass the output of one binary',
    );
  });
});

describe('config.json', () => {
  it('has exactly the original keys', () => {
    expect(
      buildEnclaveConfig({
        keytag: fixture('keytag'),
        mrenclave: fixture('scone-hash.txt'),
        imageName: 'registry.example.org:5000/radiomics/worker:1.4.0',
      }),
    ).toEqual({
      mrenclave: NODE_MRENCLAVE,
      'image-name': 'registry.example.org:5000/radiomics/worker:1.4.0',
      'fspf-tag': TAG,
      'fspf-key': KEY,
      'fspf-path': '/fspf.pb',
    });
  });

  it('adds mrenclaves [worker, ffmpeg] when the sconified ffmpeg hash is given', () => {
    const config = buildEnclaveConfig({
      keytag: fixture('keytag'),
      mrenclave: fixture('scone-hash.txt'),
      imageName: 'radiomics-worker',
      ffmpegMrenclave: fixture('ffmpeg-scone-hash.txt'),
    });
    expect(config.mrenclaves).toEqual([NODE_MRENCLAVE, FFMPEG_MRENCLAVE]);
    expect(config.mrenclave).toBe(NODE_MRENCLAVE);
    // what the batch function and submit-job read from it: both MRENCLAVEs, node first (the session's two services)
    expect(parseEnclaveConfig(JSON.stringify(config)).mrenclave).toEqual([NODE_MRENCLAVE, FFMPEG_MRENCLAVE]);
    const { mrenclaves: _ffmpeg, ...nodeOnly } = config;
    expect(parseEnclaveConfig(JSON.stringify(nodeOnly)).mrenclave).toBe(NODE_MRENCLAVE);
  });

  it('rejects an image name that is not a reference', () => {
    expect(
      messageOf(() =>
        buildEnclaveConfig({ keytag: fixture('keytag'), mrenclave: fixture('scone-hash.txt'), imageName: 'Radiomics Worker' }),
      ),
    ).toBe('image-name: not a valid container image reference');
  });
});
