/**
 * Cursors over a tenant's batch list: opaque to clients (base64url of `[tenant tag, createdAt, batchId]`), never a
 * table key. The store rebuilds the key from the caller's own tenant, so a hand-made cursor can only name a place
 * in the caller's own list; the tag (a hash of the tenant, not its name) tells a cursor that another tenant was
 * given apart from a malformed one, so it is refused as such instead of read as a place in this tenant's list.
 */
import { createHash } from 'node:crypto';
import { RejectedInput } from '#lib/errors.js';
import { tenantBatchPosition, tenantBatchPositionOf } from './keys.js';

export type CursorProblem = 'malformed_cursor' | 'foreign_cursor';

export class InvalidCursor extends RejectedInput {
  declare readonly reason: CursorProblem;
  constructor(reason: CursorProblem) {
    super(reason, reason === 'foreign_cursor' ? 'the cursor was issued to another tenant' : 'cursor is not valid');
  }
}

const MAX_CURSOR_CHARS = 400;
const CREATED_AT = /^[0-9TZ:.+-]{10,40}$/;
const BATCH_ID = /^[0-9a-f]{32}$/;

const tenantTag = (tenant: string) => createHash('sha256').update(`radiomics page cursor\u0000${tenant}`).digest('hex').slice(0, 16);

/** The cursor after `lastKey`, a LastEvaluatedKey of the tenant's batch list. */
export function encodeBatchCursor(tenant: string, lastKey: Record<string, unknown>): string {
  const position = tenantBatchPositionOf(lastKey);
  if (!position) throw new Error('not a key of the tenant batch list');
  return Buffer.from(JSON.stringify([tenantTag(tenant), position.createdAt, position.batchId])).toString('base64url');
}

/** The ExclusiveStartKey a cursor stands for, within `tenant`'s batch list; InvalidCursor otherwise. */
export function decodeBatchCursor(tenant: string, cursor: string): Record<string, string> {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > MAX_CURSOR_CHARS) throw new InvalidCursor('malformed_cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursor('malformed_cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === 'string'))
    throw new InvalidCursor('malformed_cursor');
  const [tag, createdAt, batchId] = parsed as [string, string, string];
  if (!/^[0-9a-f]{16}$/.test(tag) || !CREATED_AT.test(createdAt) || !BATCH_ID.test(batchId)) throw new InvalidCursor('malformed_cursor');
  if (tag !== tenantTag(tenant)) throw new InvalidCursor('foreign_cursor');
  return tenantBatchPosition(tenant, createdAt, batchId);
}
