/** Swift names are percent-encoded per path segment; dot segments and bad names are refused. */
import { describe, expect, it } from '@jest/globals';
import { RejectedInput } from '#lib/errors.js';
import { containerPath, encodeObjectName, objectPath } from '#lib/swift/names.js';

describe('Swift name encoding', () => {
  it('encodes every reserved character inside a segment and keeps / as the separator', () => {
    expect(objectPath('batch 1', 'dir/a b+c#d?e%f&g=h.mp4')).toBe('/batch%201/dir/a%20b%2Bc%23d%3Fe%25f%26g%3Dh.mp4');
    expect(encodeObjectName('échographie/心臓.mp4')).toBe('%C3%A9chographie/%E5%BF%83%E8%87%93.mp4');
    expect(encodeObjectName('a//b/')).toBe('a//b/');
    expect(containerPath('c')).toBe('/c');
  });

  it('refuses names a URL parser would rewrite or Swift would refuse', () => {
    for (const name of ['', '.', 'a/./b', '../x', 'x'.repeat(1025), '\ud800']) {
      expect(() => encodeObjectName(name)).toThrow(RejectedInput);
    }
    for (const container of ['', 'a/b', '..', 'c'.repeat(257)]) {
      expect(() => containerPath(container)).toThrow(RejectedInput);
    }
    expect(encodeObjectName('.hidden/..dots..')).toBe('.hidden/..dots..');
  });
});
