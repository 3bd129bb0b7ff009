/**
 * Invokes a Lambda handler locally the way the asynchronous invoker does (S3 events, schedules):
 * with a complete Context, and on failure up to `maximumRetryAttempts` more times with a delay.
 * Emulates: retries and the Context. Does not emulate: concurrency limits, timeouts, the on-failure
 * destination (a final failure is returned to the caller instead).
 */
import { randomUUID } from 'node:crypto';
import type { Context, Handler } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';

export function lambdaContext(functionName: string, timeoutMs = 900_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export async function invokeAsync<E, R>(
  functionName: string,
  handler: Handler<E, R>,
  event: E,
  options: { maximumRetryAttempts?: number; retryDelayMs?: number; onRetry?: (attempt: number, error: unknown) => void } = {},
): Promise<{ ok: true; result: R; attempts: number } | { ok: false; error: unknown; attempts: number }> {
  const retries = options.maximumRetryAttempts ?? 2;
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    try {
      const result = await (handler(event, lambdaContext(functionName), () => undefined) as Promise<R>);
      return { ok: true, result, attempts: attempt + 1 };
    } catch (error) {
      lastError = error;
      if (attempt < retries) {
        options.onRetry?.(attempt + 1, error);
        await sleep(options.retryDelayMs ?? 1000);
      }
    }
  }
  return { ok: false, error: lastError, attempts: retries + 1 };
}
