import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseS3Record, s3Records, decodeS3Key } from '#lib/s3/events.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8')) as unknown;
const parsedKeys = (name: string) => s3Records(fixture(name)).map((record) => parseS3Record(record));

describe('S3 event records', () => {
  it('decodes real S3 keys: + is a space, %2B a plus, %23 a hash', () => {
    expect(parsedKeys('s3.key-with-plus.json')).toEqual([
      {
        ok: true,
        object: {
          bucket: 'dev-radiomics-intake',
          key: 'demo/echo study #1 + follow-up.mp4',
          size: 138843,
          eTag: '9b2cf535f27731c974343645a3985328',
          versionId: undefined,
          sequencer: '0A1B2C3D4E5F678901',
          eventName: 'ObjectCreated:Put',
        },
      },
    ]);
  });

  it('decodes unicode keys', () => {
    const [record] = parsedKeys('s3.key-unicode.json');
    expect(record.ok && record.object.key).toBe('demo/écho cœur/心臓.mp4');
  });

  it('keeps the version id and multipart ETag of a completed multipart upload', () => {
    const [record] = parsedKeys('s3.multipart-complete.json');
    expect(record.ok && record.object).toMatchObject({
      eventName: 'ObjectCreated:CompleteMultipartUpload',
      versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
      eTag: 'd41d8cd98f00b204e9800998ecf8427e-13',
      size: 104857600,
    });
  });

  it('reports malformed records without throwing, next to good ones', () => {
    expect(parsedKeys('s3.malformed.json').map((r) => (r.ok ? r.object.key : r.detail))).toEqual(['missing bucket name', 'demo/ok.mp4']);
    expect(parseS3Record({ eventName: 'ObjectRemoved:Delete', s3: {} })).toEqual({
      ok: false,
      reason: 'malformed_event',
      detail: 'not an ObjectCreated event',
    });
    expect(parseS3Record('text')).toEqual({ ok: false, reason: 'malformed_event', detail: 'record has no s3 section' });
    expect(parseS3Record({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'a%ZZ' } } })).toEqual({
      ok: false,
      reason: 'malformed_event',
      detail: 'object key is not valid URL encoding',
    });
  });

  it("keeps the event's sequencer as hex (S3's string, s3rver's number), and drops anything else", () => {
    const sequencerOf = (sequencer: unknown) => {
      const parsed = parseS3Record({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'k', sequencer } } });
      return parsed.ok ? parsed.object.sequencer : 'malformed';
    };
    expect([sequencerOf('0A1B2C3D4E5F678901'), sequencerOf(255), sequencerOf('zz'), sequencerOf(-1), sequencerOf(undefined)]).toEqual([
      '0A1B2C3D4E5F678901',
      'ff',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('decodeS3Key is the inverse of the encoding S3 applies', () => {
    expect(decodeS3Key('a+b%2Bc%2Fd%25e')).toBe('a b+c/d%e');
  });
});
