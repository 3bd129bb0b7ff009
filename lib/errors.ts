/**
 * One error family, after serverless-image-handler's `ImageHandlerError(status, code)`: every product error is a
 * `RadiomicsError` carrying an HTTP-ish `status` and a machine-readable `code`. What a handler does with one:
 * - RetryableError (503 `unavailable` unless it says otherwise): transient (network, 5xx, a race lost). Handlers
 *   rethrow it so Lambda or the schedule retries.
 * - RejectedInput (400; `code` is its `reason`): the input itself is wrong. Recorded with its reason, never retried.
 * - ConfigError (500 `misconfigured`): the deployment is wrong; nothing works until it is fixed.
 * - RequestRefused: an HTTP request refused as it came; the only errors whose status, code and message reach a client.
 * An upstream's refusal (Swift, Asperathos, the CAS, the status API) carries the upstream's own status.
 * HTTP functions tell a failure through `httpFailureOf`, the one place errors become statuses.
 * Messages never carry keys, tokens or hospital object names.
 */
export class RadiomicsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RetryableError extends RadiomicsError {
  override readonly name: string = 'RetryableError';
  constructor(message: string, options: { cause?: unknown; status?: number; code?: string } = {}) {
    super(
      options.status ?? 503,
      options.code ?? 'unavailable',
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

export class RejectedInput extends RadiomicsError {
  override readonly name: string = 'RejectedInput';
  constructor(
    readonly reason: string,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(options.status ?? 400, reason, message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

export class ConfigError extends RadiomicsError {
  override readonly name: string = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(500, 'misconfigured', message, options);
  }
}

/** A request refused as it came (bad route, query, body or credentials): answered with this status, code, message and headers. */
export class RequestRefused extends RadiomicsError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, code, message);
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof RetryableError;
}

/**
 * How an HTTP function tells a failure: a refused request as it carries it; an outage 503 (the client retries);
 * anything else a 500 that says nothing of its cause. Each function words the last two in its own response shape.
 */
export type HttpFailure =
  | { kind: 'refused'; status: number; code: string; message: string; headers: Record<string, string> }
  | { kind: 'unavailable'; status: 503; code: 'unavailable'; headers: { 'retry-after': string } }
  | { kind: 'fault'; status: 500; code: 'internal'; misconfigured: boolean };

export function httpFailureOf(error: unknown): HttpFailure {
  if (error instanceof RequestRefused)
    return { kind: 'refused', status: error.status, code: error.code, message: error.message, headers: error.headers };
  if (error instanceof RetryableError) return { kind: 'unavailable', status: 503, code: 'unavailable', headers: { 'retry-after': '5' } };
  return { kind: 'fault', status: 500, code: 'internal', misconfigured: error instanceof ConfigError };
}
