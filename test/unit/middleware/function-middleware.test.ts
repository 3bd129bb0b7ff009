/**
 * The middy chains every handler runs in (lib/middleware/): Lambda context in each log line, errors logged with why
 * (a misconfiguration on every invocation), HTTP errors answered by the function's responder, requests counted by status.
 */
import { describe, it, expect, beforeEach, afterEach, jest } from '@jest/globals';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { ConfigError } from '#lib/errors.js';
import { eventFunction } from '#lib/middleware/event-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { httpFunction } from '#lib/middleware/http-function.js';
import { lambdaContext } from '#local/lambda-local.js';

let stdout: string[]; // both streams: Powertools writes errors to stderr
const records = () => stdout.map((line) => JSON.parse(line) as Record<string, unknown>);
const context = (): Context => ({ ...lambdaContext('probe', 10_000), functionVersion: '7' });

beforeEach(() => {
  stdout = [];
  for (const stream of [process.stdout, process.stderr]) {
    jest.spyOn(stream, 'write').mockImplementation((chunk) => {
      stdout.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    });
  }
});
afterEach(() => {
  jest.restoreAllMocks();
});

const env = { POWERTOOLS_LOG_LEVEL: 'info' };
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand'; // as Lambda sets it; Powertools reports no cold start without it

describe('event functions', () => {
  it('a misconfigured function logs why on every invocation, with the request id, cold start and version, and rethrows', async () => {
    const tools = functionTools('probe', env);
    const handler = eventFunction(tools, async () => {
      throw new ConfigError('invalid configuration: TABLE_NAME is missing');
    });
    const first = context();
    const second = context();
    await expect(handler({}, first)).rejects.toThrow('TABLE_NAME is missing');
    await expect(handler({}, second)).rejects.toThrow('TABLE_NAME is missing');
    const errors = records().filter((r) => r.level === 'ERROR');
    expect(errors.map((r) => [r.message, r.error_message, r.function, r.function_request_id, r.cold_start, r.function_version])).toEqual([
      ['misconfigured', 'invalid configuration: TABLE_NAME is missing', 'probe', first.awsRequestId, true, '7'],
      ['misconfigured', 'invalid configuration: TABLE_NAME is missing', 'probe', second.awsRequestId, false, '7'],
    ]);
  });

  it("child loggers built once keep the fields they bind and take each invocation's request id", async () => {
    const tools = functionTools('probe', env);
    const batchLog = tools.log.child({ batchId: 'b1' });
    const handler = eventFunction(tools, async () => batchLog.info('closed', { claims: 3 }));
    const invocations = [context(), context()];
    for (const invocation of invocations) await handler({}, invocation);
    const lines = records().filter((r) => r.message === 'closed');
    expect(lines.map((r) => [r.batchId, r.claims, r.function_request_id])).toEqual(invocations.map((c) => ['b1', 3, c.awsRequestId]));
  });
});

describe('HTTP functions', () => {
  const event = { rawPath: '/', requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2;

  it("an error escaping the handler is answered by the function's responder, and every answer is counted by status code", async () => {
    const tools = functionTools('probe', { ...env, POWERTOOLS_METRICS_DISABLED: 'false' });
    const counted: string[] = [];
    tools.metricSink.add = (name, _unit, value, dimensions) => void counted.push(`${name} ${value} ${JSON.stringify(dimensions)}`);
    let fail = true;
    const handler = httpFunction(
      tools,
      (error, log) => {
        log.error('startup failed', { error_message: (error as Error).message });
        return { statusCode: 503, body: 'retry' };
      },
      async () => {
        if (fail) throw new Error('SSM unavailable');
        return { statusCode: 200, body: 'ok' };
      },
    );
    expect(await handler(event, context())).toEqual({ statusCode: 503, body: 'retry' });
    fail = false;
    expect(await handler(event, context())).toEqual({ statusCode: 200, body: 'ok' });
    expect(counted).toEqual([
      'Requests 1 {"statusCode":"503"}',
      'ServerErrors 1 undefined',
      'Requests 1 {"statusCode":"200"}',
      'ServerErrors 0 undefined',
    ]);
    expect(
      records()
        .filter((r) => r.level === 'ERROR')
        .map((r) => [r.message, r.error_message]),
    ).toEqual([['startup failed', 'SSM unavailable']]);
  });
});
