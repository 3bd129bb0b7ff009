/**
 * Typed Swift failures, in the project's error family (lib/errors.ts), `status` being Swift's:
 * - `SwiftError` (code `swift_refused`): Swift answered a definitive 4xx (400 bad manifest, 401 after the one re-auth,
 *   403, 404, 409, 422 etag mismatch, ...). Retrying will not help; callers inspect `status`.
 * - `SwiftUnavailableError` (a RetryableError, code `swift_unavailable`): a 5xx or 429, a network error or an attempt timeout, after the
 *   client's own retries were exhausted (or not attempted, for a one-shot streaming body). Handlers rethrow it so
 *   Lambda or the schedule retries later. `status` is 0 for network errors and timeouts.
 * Both carry `operation` and `target` (container / object); messages never carry tokens, keys or signatures.
 * A caller's AbortSignal is not wrapped: the call rejects with the signal's reason (an `AbortError` DOMException).
 */
import { RadiomicsError, RetryableError } from '#lib/errors.js';

export interface SwiftFailure {
  readonly status: number;
  readonly operation: string;
  readonly target: string;
}

function describe(operation: string, target: string, status: number, detail: string): string {
  const where = target ? ` ${target}` : '';
  const what = status === 0 ? detail : `${status}${detail ? ` ${detail}` : ''}`;
  return `swift ${operation}${where} failed: ${what}`;
}

export class SwiftError extends RadiomicsError implements SwiftFailure {
  override readonly name = 'SwiftError';
  constructor(
    readonly operation: string,
    readonly target: string,
    status: number,
    detail = '',
  ) {
    super(status, 'swift_refused', describe(operation, target, status, detail));
  }
}

export class SwiftUnavailableError extends RetryableError implements SwiftFailure {
  constructor(
    readonly operation: string,
    readonly target: string,
    status: number,
    detail = '',
    options?: { cause?: unknown },
  ) {
    super(describe(operation, target, status, detail), { cause: options?.cause, status, code: 'swift_unavailable' });
  }
}

export function isSwiftFailure(error: unknown): error is (SwiftError | SwiftUnavailableError) & SwiftFailure {
  return error instanceof SwiftError || error instanceof SwiftUnavailableError;
}

/** The HTTP status of a Swift failure (0: network or timeout), or undefined for anything else. */
export function swiftStatus(error: unknown): number | undefined {
  return isSwiftFailure(error) ? error.status : undefined;
}

export function isNotFound(error: unknown): boolean {
  return swiftStatus(error) === 404;
}
