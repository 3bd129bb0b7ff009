/** Queue key naming of the enclave worker: byte-compatible with the original RedisWQ (protocols.md §6). */
import { describe, expect, it } from '@jest/globals';
import { itemKey, leaseKey, queueKeys } from '#enclave/queue.js';

describe('queue keys', () => {
  it('the default queue uses the original key names', () => {
    expect(queueKeys()).toEqual({
      main: 'job',
      processing: 'job:processing',
      errors: 'job:errors',
      errorReasons: 'job:error_reasons',
      stop: 'stop',
      leasePrefix: 'job:leased_by_session:',
    });
  });

  it('REDIS_QUEUE is the prefix of every key but the stop list, which is named separately', () => {
    expect(queueKeys('t42', 't42:stop')).toEqual({
      main: 't42',
      processing: 't42:processing',
      errors: 't42:errors',
      errorReasons: 't42:error_reasons',
      stop: 't42:stop',
      leasePrefix: 't42:leased_by_session:',
    });
  });

  it('the lease key is the sha224 hex of the exact item bytes (values from Python hashlib)', () => {
    const url = 'https://swift.example/v1/AUTH_x/c/2042452763ee0b5677208217a692b371.mp4';
    expect(itemKey(url)).toBe('536f63e8dbafa0f078e26d4679f3830ceba554319820edc9908a9f1c');
    expect(itemKey(Buffer.from(url))).toBe('536f63e8dbafa0f078e26d4679f3830ceba554319820edc9908a9f1c');
    expect(leaseKey(queueKeys(), url)).toBe('job:leased_by_session:536f63e8dbafa0f078e26d4679f3830ceba554319820edc9908a9f1c');
  });

  it('bytes that are not valid UTF-8 are hashed as they are, not re-encoded', () => {
    const item = Buffer.concat([Buffer.from('http://h/'), Buffer.from([0xc3, 0xa9, 0xff]), Buffer.from('.mp4')]);
    expect(itemKey(item)).toBe('0bf50da9b5041c19b755c1ef62cecedf83c72e47c3263eeb77019d1d');
  });
});
