import { describe, it, expect } from '@jest/globals';
import { InvalidCursor, decodeBatchCursor, encodeBatchCursor } from '#lib/store/page-cursor.js';
import { keys, tenantBatchPosition } from '#lib/store/keys.js';

const BATCH = '0123456789abcdef0123456789abcdef';
const CREATED_AT = '2026-01-01T00:00:03.000Z';
const lastKey = (tenant: string) => tenantBatchPosition(tenant, CREATED_AT, BATCH);

function problemOf(tenant: string, cursor: string): string {
  try {
    decodeBatchCursor(tenant, cursor);
  } catch (error) {
    if (error instanceof InvalidCursor) return error.reason;
    throw error;
  }
  return 'accepted';
}

const encoded = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('batch-list cursors', () => {
  it('give back, for the same tenant, the key the page stopped at', () => {
    const cursor = encodeBatchCursor('hospital-a', lastKey('hospital-a'));
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeBatchCursor('hospital-a', cursor)).toEqual({ ...keys.batch(BATCH), ...lastKey('hospital-a') });
  });

  it('hold no table key, index name or tenant name', () => {
    const text = Buffer.from(encodeBatchCursor('hospital-a', lastKey('hospital-a')), 'base64url').toString('utf8');
    for (const word of ['TENANT', 'BATCH#', 'hospital-a', 'gsi', 'pk']) expect(text).not.toContain(word);
  });

  it("refuse another tenant's cursor as foreign", () => {
    expect(problemOf('hospital-b', encodeBatchCursor('hospital-a', lastKey('hospital-a')))).toBe('foreign_cursor');
  });

  it('refuse as malformed anything that is not a cursor they made', () => {
    const [tag] = JSON.parse(Buffer.from(encodeBatchCursor('hospital-a', lastKey('hospital-a')), 'base64url').toString('utf8')) as string[];
    const cases = [
      '',
      '!!!',
      'A'.repeat(401),
      'bm90IGpzb24',
      encoded({ pk: 'BATCH#x' }),
      encoded([tag, CREATED_AT]),
      encoded([tag, CREATED_AT, BATCH, 'extra']),
      encoded([tag, CREATED_AT, `BATCH#${BATCH}`]),
      encoded([tag, 'yesterday', BATCH]),
      encoded([tag, CREATED_AT, BATCH.toUpperCase()]),
      encoded(['not-a-tag', CREATED_AT, BATCH]),
      encoded([tag, 7, BATCH]),
    ];
    for (const cursor of cases) expect([cursor, problemOf('hospital-a', cursor)]).toEqual([cursor, 'malformed_cursor']);
  });

  it('are InvalidCursor errors: rejected input with the problem as reason', () => {
    const error = new InvalidCursor('foreign_cursor');
    expect(error).toMatchObject({ reason: 'foreign_cursor', message: 'the cursor was issued to another tenant' });
    expect(new InvalidCursor('malformed_cursor').message).toBe('cursor is not valid');
  });

  it('cannot be made from a key outside a tenant batch list', () => {
    expect(() => encodeBatchCursor('hospital-a', { ...keys.video(BATCH), gsi3sk: `${CREATED_AT}#${BATCH}` })).toThrow(
      'not a key of the tenant batch list',
    );
  });
});
