/** TempURL signing: vectors computed with Swift 2.30's own `swift.common.digest.get_hmac` (Debian python3-swift). */
import { describe, expect, it } from '@jest/globals';
import { RejectedInput } from '#lib/errors.js';
import { signTempUrl, tempUrlSignature } from '#lib/swift/tempurl.js';

const PATH = '/v1/AUTH_test/c1/dir/séquence #1.mp4';

describe('tempUrlSignature', () => {
  it('matches Swift get_hmac for sha256 and sha1 over the decoded UTF-8 path', () => {
    expect(tempUrlSignature('GET', 1800000000, PATH, 'secret-key', 'sha256')).toBe(
      '68183ba49daeccbd56c8ce5e7ec0e9708d50489f4c3d1cdac5b37b476fc6a372',
    );
    expect(tempUrlSignature('GET', 1800000000, PATH, 'secret-key', 'sha1')).toBe('bd36cabb9c654487cfa78a1eac3ae1835fbd3252');
  });

  it('writes sha512 as sha512:<base64url>', () => {
    expect(tempUrlSignature('GET', 1800000000, PATH, 'secret-key', 'sha512')).toBe(
      'sha512:cW62ivJoLzpH_vep83IvVtUV5SMgaIpJBuWaf9FxdXp1Hbp08uKOjgcHuJrZYPYJ7DA4QC04SsHkIhD8s1ZE-w',
    );
  });
});

describe('signTempUrl', () => {
  it('signs the decoded path and puts the per-segment encoded path in the URL', () => {
    const url = signTempUrl('http://127.0.0.1:18080/v1/AUTH_test/', {
      method: 'GET',
      container: 'c1',
      object: 'dir/séquence #1.mp4',
      expiresAtSec: 1800000000,
      key: 'secret-key',
    });
    expect(url).toBe(
      'http://127.0.0.1:18080/v1/AUTH_test/c1/dir/s%C3%A9quence%20%231.mp4' +
        '?temp_url_sig=68183ba49daeccbd56c8ce5e7ec0e9708d50489f4c3d1cdac5b37b476fc6a372&temp_url_expires=1800000000',
    );
  });

  it('adds filename when asked and refuses a bad expiry or an empty key', () => {
    const url = signTempUrl('http://h/v1/AUTH_a', {
      method: 'GET',
      container: 'c',
      object: 'o',
      expiresAtSec: 2,
      key: 'k',
      digest: 'sha1',
      filename: 'a b.mp4',
    });
    expect(new URL(url).searchParams.get('filename')).toBe('a b.mp4');
    expect(() => signTempUrl('http://h/v1/AUTH_a', { method: 'GET', container: 'c', object: 'o', expiresAtSec: 1.5, key: 'k' })).toThrow(
      RejectedInput,
    );
    expect(() => signTempUrl('http://h/v1/AUTH_a', { method: 'GET', container: 'c', object: 'o', expiresAtSec: 10, key: '' })).toThrow(
      RejectedInput,
    );
    expect(() => signTempUrl('http://h/swift/AUTH_a', { method: 'GET', container: 'c', object: 'o', expiresAtSec: 10, key: 'k' })).toThrow(
      'the storage URL path must start with /v1/ for TempURLs',
    );
  });
});
