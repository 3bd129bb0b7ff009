/**
 * Runs every record of an S3 event through `ingestObject`, so that one bad record never sinks the
 * others. Rejections are results. Retryable failures are collected and rethrown after the other
 * records are done, so Lambda retries the event (every record is idempotent).
 * A malformed record is named by its position in the event: a hash of it would hash the object name.
 */
import { RetryableError } from '#lib/errors.js';
import { parseS3Record, s3Records } from '#lib/s3/events.js';
import { ingestObject, type IngestOutcome, type IntakeDeps } from './ingest.js';

export type RecordOutcome = IngestOutcome | { status: 'malformed'; reason: 'malformed_event'; record: number };

export interface IntakeSummary {
  records: number;
  sealed: number;
  duplicates: number;
  rejected: number;
  superseded: number;
  malformed: number;
  outcomes: RecordOutcome[];
}

export async function ingestS3Event(event: unknown, deps: IntakeDeps, signal?: AbortSignal): Promise<IntakeSummary> {
  const outcomes: RecordOutcome[] = [];
  const failures: unknown[] = [];
  for (const [record, raw] of s3Records(event).entries()) {
    const parsed = parseS3Record(raw);
    if (!parsed.ok) {
      deps.log.warn('malformed event record', { reason: parsed.reason, detail: parsed.detail, record });
      outcomes.push({ status: 'malformed', reason: parsed.reason, record });
      continue;
    }
    try {
      outcomes.push(await ingestObject(parsed.object, deps, signal));
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) {
    throw new RetryableError(`${failures.length} of ${outcomes.length + failures.length} records failed and will be retried`, {
      cause: failures[0],
    });
  }
  const count = (status: string) => outcomes.filter((outcome) => outcome.status === status).length;
  return {
    records: outcomes.length,
    sealed: count('sealed'),
    duplicates: count('duplicate'),
    rejected: count('rejected'),
    superseded: count('superseded'),
    malformed: count('malformed'),
    outcomes,
  };
}
