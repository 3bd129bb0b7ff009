/**
 * The middy chain of the event-driven functions (intake, batch, sync-status): Lambda context in every log line,
 * EMF metrics flushed after each invocation (with a ColdStart metric), X-Ray around the handler, and one error path.
 * An error is logged with why (a ConfigError as "misconfigured", on every invocation, since a failed build is not
 * cached) and rethrown, so Lambda retries it or hands it to the failure destination.
 */
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { ConfigError } from '#lib/errors.js';
import { errorFields } from '#lib/log.js';
import type { FunctionTools } from './function-tools.js';

type Body<E, R> = (event: E, context: Context, options: { signal: AbortSignal }) => Promise<R>;

export function observed<E, R>(tools: FunctionTools) {
  return middy<E, R, Error, Context>()
    .use(captureLambdaHandler(tools.tracer, { captureResponse: false }))
    .use(injectLambdaContext(tools.logger, { resetKeys: true }))
    .use(functionVersionInLogs(tools))
    .use(flushMetrics(tools));
}

/** Powertools' context fields leave out the version (only an alias or version invoke shows it, inside the ARN). */
function functionVersionInLogs({ logger }: FunctionTools): MiddlewareObj<unknown, unknown, Error, Context> {
  return { before: (request) => logger.appendKeys({ function_version: request.context.functionVersion }) };
}

/** Powertools' logMetrics, minus its warning on invocations that recorded nothing but dimensioned metrics (sent at once). */
function flushMetrics({ metrics }: FunctionTools): MiddlewareObj<unknown, unknown, Error, Context> {
  const flush = () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { before: (request) => metrics.captureColdStartMetric(request.context.functionName), after: flush, onError: flush };
}

export function eventFunction<E, R>(tools: FunctionTools, body: Body<E, R>): MiddyfiedHandler<E, R, Error, Context> {
  return observed<E, R>(tools).use(logAndRethrow(tools)).handler(body);
}

function logAndRethrow(tools: FunctionTools): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    onError: (request) => {
      const error = request.error;
      tools.metricSink.add('InvocationErrors', 'Count', 1, { error: error instanceof Error ? error.name : 'unknown' });
      tools.log.error(error instanceof ConfigError ? 'misconfigured' : 'invocation failed', errorFields(error));
    },
  };
}
