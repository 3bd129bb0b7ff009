/** Keystone v3 request bodies, catalog lookup and the OS_* / ST_* environment conventions (no network). */
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '#lib/errors.js';
import {
  KeystoneV3Auth,
  PreauthenticatedAuth,
  TempAuth,
  keystoneAuthBody,
  keystoneTokensUrl,
  objectStoreEndpoint,
  swiftAuthFromEnv,
} from '#lib/swift/auth.js';

describe('Keystone v3 request body', () => {
  it('password with user and project domains', () => {
    expect(
      keystoneAuthBody({
        authUrl: 'http://ks:5000/v3',
        method: { type: 'password', username: 'u', userDomain: { name: 'Default' }, password: 'p' },
        project: { name: 'proj', domain: { id: 'default' } },
      }),
    ).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'Default' }, password: 'p' } } },
        scope: { project: { name: 'proj', domain: { id: 'default' } } },
      },
    });
  });

  it('application credential carries no scope; token method scopes by project id', () => {
    expect(
      keystoneAuthBody({
        authUrl: 'x',
        method: { type: 'application_credential', id: 'ac', secret: 's' },
        project: { name: 'ignored' },
      }),
    ).toEqual({ auth: { identity: { methods: ['application_credential'], application_credential: { id: 'ac', secret: 's' } } } });
    expect(keystoneAuthBody({ authUrl: 'x', method: { type: 'token', token: 't' }, project: { id: 'p1' } })).toEqual({
      auth: { identity: { methods: ['token'], token: { id: 't' } }, scope: { project: { id: 'p1' } } },
    });
  });

  it('token URL with and without /v3', () => {
    expect(keystoneTokensUrl('http://ks:5000/v3/')).toBe('http://ks:5000/v3/auth/tokens');
    expect(keystoneTokensUrl('http://ks:5000')).toBe('http://ks:5000/v3/auth/tokens');
  });
});

describe('object-store endpoint in the catalog', () => {
  const catalog = [
    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'R1', url: 'http://ks/v3' }] },
    {
      type: 'object-store',
      endpoints: [
        { interface: 'internal', region_id: 'R1', url: 'http://internal/v1/AUTH_p' },
        { interface: 'public', region_id: 'R1', url: 'http://r1/v1/AUTH_p/' },
        { interface: 'public', region_id: 'R2', url: 'http://r2/v1/AUTH_p' },
      ],
    },
  ];
  it('picks by type, interface and region', () => {
    expect(objectStoreEndpoint(catalog)).toBe('http://r1/v1/AUTH_p');
    expect(objectStoreEndpoint(catalog, { region: 'R2' })).toBe('http://r2/v1/AUTH_p');
    expect(objectStoreEndpoint(catalog, { interface: 'internal' })).toBe('http://internal/v1/AUTH_p');
    expect(objectStoreEndpoint(catalog, { region: 'R3' })).toBeNull();
    expect(objectStoreEndpoint(undefined)).toBeNull();
  });
});

describe('swiftAuthFromEnv', () => {
  it('chooses the method from the variables present', () => {
    expect(swiftAuthFromEnv({ OS_AUTH_URL: 'http://ks/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p' }).kind).toBe('keystone v3 password');
    expect(
      swiftAuthFromEnv({ OS_AUTH_URL: 'http://ks/v3', OS_APPLICATION_CREDENTIAL_ID: 'a', OS_APPLICATION_CREDENTIAL_SECRET: 's' }).kind,
    ).toBe('keystone v3 application_credential');
    const token = swiftAuthFromEnv({
      OS_AUTH_URL: 'http://ks/v3',
      OS_AUTH_TOKEN: 't',
      OS_PROJECT_NAME: 'p',
      OS_PROJECT_DOMAIN_ID: 'default',
    });
    expect(token).toBeInstanceOf(KeystoneV3Auth);
    expect(token.kind).toBe('keystone v3 token');
    expect(swiftAuthFromEnv({ OS_STORAGE_URL: 'http://s/v1/AUTH_x', OS_AUTH_TOKEN: 't' })).toBeInstanceOf(PreauthenticatedAuth);
    expect(swiftAuthFromEnv({ ST_AUTH: 'http://s/auth/v1.0', ST_USER: 'a:b', ST_KEY: 'k' })).toBeInstanceOf(TempAuth);
  });

  it('fails fast naming what is missing', () => {
    expect(() => swiftAuthFromEnv({})).toThrow(ConfigError);
    expect(() => swiftAuthFromEnv({ OS_AUTH_URL: 'http://ks/v3' })).toThrow(
      'OS_AUTH_URL is set but none of OS_PASSWORD, OS_APPLICATION_CREDENTIAL_SECRET, OS_AUTH_TOKEN is',
    );
  });
});
