/**
 * The middy chain of the HTTP API functions (status-api, pacs-hook): the observed chain of lib/middleware/event-function.ts,
 * every request counted by status code (`Requests`, dimension `statusCode`; `ServerErrors` for the 5xx alarm), and an error that escapes the handler
 * answered by the function's own `respond` (which logs it), never by API Gateway's bare 500.
 */
import type { MiddlewareObj, MiddyfiedHandler } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Logger } from '#lib/log.js';
import { observed } from './event-function.js';
import type { FunctionTools } from './function-tools.js';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;
type Body = (event: Event, context: Context, options: { signal: AbortSignal }) => Promise<Result>;
export type ErrorResponder = (error: unknown, log: Logger) => Result;

export function httpFunction(tools: FunctionTools, respond: ErrorResponder, body: Body): MiddyfiedHandler<Event, Result, Error, Context> {
  return observed<Event, Result>(tools).use(countByStatus(tools)).use(answerErrors(tools, respond)).handler(body);
}

function countByStatus(tools: FunctionTools): MiddlewareObj<Event, Result, Error, Context> {
  const count = (response: Result | null | undefined) => {
    const statusCode = response?.statusCode ?? 500;
    tools.metricSink.add('Requests', 'Count', 1, { statusCode: String(statusCode) });
    tools.metricSink.add('ServerErrors', 'Count', statusCode >= 500 ? 1 : 0);
  };
  return { after: (request) => count(request.response), onError: (request) => count(request.response) };
}

function answerErrors(tools: FunctionTools, respond: ErrorResponder): MiddlewareObj<Event, Result, Error, Context> {
  return {
    onError: (request) => {
      request.response = respond(request.error, tools.log);
    },
  };
}
