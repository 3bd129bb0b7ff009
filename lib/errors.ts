/**
 * The two error families every unit speaks.
 * - RetryableError: transient (network, 5xx, a race lost). Handlers rethrow it so Lambda or the schedule retries.
 * - RejectedInput: the input itself is wrong. Recorded with a machine-readable reason, never retried.
 * Messages never carry keys, tokens or hospital object names.
 */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class RejectedInput extends Error {
  override readonly name = 'RejectedInput';
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function isRetryable(error: unknown): boolean {
  return error instanceof RetryableError;
}
