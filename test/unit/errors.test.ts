import { describe, expect, it } from '@jest/globals';
import { ConfigError, httpFailureOf, RadiomicsError, RejectedInput, RequestRefused, RetryableError } from '#lib/errors.js';
import { AuthError } from '#lib/auth/jwt.js';
import { MultipartError } from '#lib/pacs/multipart.js';
import { Unauthorized } from '#lib/pacs/auth.js';
import { SwiftError, SwiftUnavailableError } from '#lib/swift/errors.js';

describe('the error family', () => {
  it('gives every product error a status and a code', () => {
    const cases: [RadiomicsError, number, string][] = [
      [new RetryableError('down'), 503, 'unavailable'],
      [new RejectedInput('too_large', 'big'), 400, 'too_large'],
      [new ConfigError('missing'), 500, 'misconfigured'],
      [new AuthError('expired_token', 'the token has expired'), 401, 'expired_token'],
      [new AuthError('keys_unavailable', 'no keys'), 503, 'keys_unavailable'],
      [new SwiftError('GET', 'c/o', 404), 404, 'swift_refused'],
      [new SwiftUnavailableError('GET', 'c/o', 0, 'timeout'), 0, 'swift_unavailable'],
    ];
    for (const [error, status, code] of cases) {
      expect(error).toBeInstanceOf(RadiomicsError);
      expect([error.status, error.code]).toEqual([status, code]);
    }
    expect(new SwiftUnavailableError('GET', 'c/o', 503)).toBeInstanceOf(RetryableError);
  });

  it('answers a refused request as it carries itself, an outage 503, anything else a bare 500', () => {
    expect(httpFailureOf(new MultipartError(413, 'too_large', 'the part exceeds the cap'))).toEqual({
      kind: 'refused',
      status: 413,
      code: 'too_large',
      message: 'the part exceeds the cap',
      headers: {},
    });
    expect(httpFailureOf(new Unauthorized('missing_credentials'))).toEqual({
      kind: 'refused',
      status: 401,
      code: 'missing_credentials',
      message: 'credentials are required',
      headers: { 'www-authenticate': 'Basic realm="pacs-hook", Bearer' },
    });
    expect(httpFailureOf(new SwiftUnavailableError('GET', 'c/o', 503))).toEqual({
      kind: 'unavailable',
      status: 503,
      code: 'unavailable',
      headers: { 'retry-after': '5' },
    });
    expect(httpFailureOf(new ConfigError('missing'))).toEqual({ kind: 'fault', status: 500, code: 'internal', misconfigured: true });
    expect(httpFailureOf(new SwiftError('GET', 'hospital/object', 403))).toEqual({
      kind: 'fault',
      status: 500,
      code: 'internal',
      misconfigured: false,
    });
    expect(httpFailureOf(new RejectedInput('bad', 'not for clients'))).toMatchObject({ kind: 'fault', status: 500 });
    expect(new RequestRefused(404, 'not_found', 'no such job')).not.toBeInstanceOf(RejectedInput);
  });
});
