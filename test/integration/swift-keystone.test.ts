/**
 * Keystone v3 authentication of lib/swift. Keystone has no local server on this machine (Swift All-In-One uses
 * TempAuth), so test/support/keystone-fake.ts stands in for `POST /v3/auth/tokens`: it checks the credentials and
 * scope, and hands out a REAL TempAuth token with a catalog whose object-store endpoint is the real SAIO storage
 * URL. Everything after authentication talks to the real Swift.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { KeystoneV3Auth, SwiftClient, SwiftError, swiftAuthFromEnv, type KeystoneV3Options } from '#lib/swift/index.js';
import { FAKE_APP_CRED, FAKE_PROJECT, FAKE_USER, startKeystoneFake, type KeystoneFake } from '#test/support/keystone-fake.js';
import { loadServices, type LocalServices } from '#local/service-endpoints.js';

let services: LocalServices;
let keystone: KeystoneFake;
const containers: string[] = [];

beforeAll(async () => {
  services = loadServices();
  keystone = await startKeystoneFake({ swift: services.swift });
});

afterAll(async () => {
  const cleanup = new SwiftClient({ auth: passwordAuth() });
  for (const c of containers) {
    for await (const o of cleanup.listAllObjects(c)) await cleanup.deleteObject(c, o.name, { ignoreMissing: true });
    await cleanup.deleteContainer(c, { ignoreMissing: true });
  }
  await keystone.close();
});

beforeEach(() => {
  keystone.requests.length = 0;
});

function passwordAuth(overrides: Partial<KeystoneV3Options> = {}): KeystoneV3Auth {
  return new KeystoneV3Auth({
    authUrl: keystone.authUrl,
    method: { type: 'password', username: FAKE_USER.name, userDomain: { id: 'default' }, password: FAKE_USER.password },
    project: { name: FAKE_PROJECT.name, domain: { id: FAKE_PROJECT.domainId } },
    ...overrides,
  });
}

/** Creates a container, writes and reads an object: proves the token and endpoint are accepted by real Swift. */
async function roundTrip(client: SwiftClient): Promise<string> {
  const c = `it-ks-${randomUUID().replace(/-/g, '')}`;
  containers.push(c);
  await client.createContainer(c);
  await client.putObject(c, 'k.txt', 'keystone ok');
  return (await client.getObjectBytes(c, 'k.txt')).toString();
}

describe('Keystone v3 against the fake identity server and the real Swift', () => {
  it('password: scoped token, object-store endpoint from the catalog', async () => {
    const client = new SwiftClient({ auth: passwordAuth() });
    expect(await roundTrip(client)).toBe('keystone ok');
    expect(await client.storageUrl()).toBe(services.swift.storageUrl);
    expect(keystone.requests).toEqual([{ methods: ['password'], status: 201 }]);
    const session = await client.currentSession();
    expect(session.expiresAtMs).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('application credential by id', async () => {
    const client = new SwiftClient({
      auth: new KeystoneV3Auth({
        authUrl: keystone.authUrl,
        method: { type: 'application_credential', id: FAKE_APP_CRED.id, secret: FAKE_APP_CRED.secret },
      }),
    });
    expect(await roundTrip(client)).toBe('keystone ok');
    expect(keystone.requests).toEqual([{ methods: ['application_credential'], status: 201 }]);
  });

  it('application credential by name and user; a project scope is not sent with it', async () => {
    const client = new SwiftClient({
      auth: new KeystoneV3Auth({
        authUrl: `${keystone.authUrl.replace(/\/v3$/, '')}/`, // OS_AUTH_URL without /v3 works too
        method: {
          type: 'application_credential',
          name: FAKE_APP_CRED.name,
          username: FAKE_USER.name,
          userDomain: { id: 'default' },
          secret: FAKE_APP_CRED.secret,
        },
        project: { name: FAKE_PROJECT.name, domain: { id: 'default' } },
      }),
    });
    expect(await roundTrip(client)).toBe('keystone ok');
    expect(keystone.requests).toEqual([{ methods: ['application_credential'], status: 201 }]);
  });

  it('an existing token (the OS_AUTH_TOKEN the enclave gets) is exchanged for a scoped one', async () => {
    const first = new SwiftClient({ auth: passwordAuth() });
    const existing = (await first.currentSession()).token;
    const client = new SwiftClient({
      auth: swiftAuthFromEnv({
        OS_AUTH_URL: keystone.authUrl,
        OS_AUTH_TOKEN: existing,
        OS_PROJECT_NAME: FAKE_PROJECT.name,
        OS_PROJECT_DOMAIN_ID: FAKE_PROJECT.domainId,
      }),
    });
    expect(await roundTrip(client)).toBe('keystone ok');
    expect(keystone.requests).toEqual([
      { methods: ['password'], status: 201 },
      { methods: ['token'], status: 201 },
    ]);
  });

  it('a revoked token (Swift answers 401) makes the client re-authenticate once and retry', async () => {
    const client = new SwiftClient({ auth: passwordAuth() });
    keystone.issueStaleTokenNext();
    const stale = (await client.currentSession()).token;
    expect(await roundTrip(client)).toBe('keystone ok');
    expect((await client.currentSession()).token).not.toBe(stale);
    expect(keystone.requests).toEqual([
      { methods: ['password'], status: 201 },
      { methods: ['password'], status: 201 },
    ]);
  });

  it('a wrong password is a 401 SwiftError from authenticate that does not echo the password', async () => {
    const client = new SwiftClient({
      auth: passwordAuth({
        method: { type: 'password', username: FAKE_USER.name, userDomain: { id: 'default' }, password: 'nope-secret' },
      }),
    });
    const error = await client.storageUrl().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwiftError);
    expect((error as SwiftError).status).toBe(401);
    expect((error as SwiftError).message).toBe(
      'swift authenticate keystone v3 password failed: 401 {"error":{"code":401,"title":"Unauthorized","message":"The request you have made requires authentication."}}',
    );
    expect((error as SwiftError).message).not.toContain('nope-secret');
  });

  it('a catalog without object-store in the wanted region is a clear error', async () => {
    const client = new SwiftClient({ auth: passwordAuth({ region: 'RegionTwo' }) });
    await expect(client.storageUrl()).rejects.toThrow(
      'swift authenticate keystone v3 password failed: 201 no object-store endpoint (interface public, region RegionTwo) in the catalog',
    );
    const regionOne = new SwiftClient({ auth: passwordAuth({ region: 'RegionOne', interface: 'internal' }) });
    expect(await regionOne.storageUrl()).toBe(services.swift.storageUrl);
  });

  it('password credentials from OS_* variables', async () => {
    const client = new SwiftClient({
      auth: swiftAuthFromEnv({
        OS_AUTH_URL: keystone.authUrl,
        OS_USERNAME: FAKE_USER.name,
        OS_PASSWORD: FAKE_USER.password,
        OS_USER_DOMAIN_NAME: 'Default',
        OS_PROJECT_NAME: FAKE_PROJECT.name,
        OS_PROJECT_DOMAIN_ID: FAKE_PROJECT.domainId,
        OS_REGION_NAME: 'RegionOne',
      }),
    });
    expect(await roundTrip(client)).toBe('keystone ok');
    expect(keystone.requests).toEqual([{ methods: ['password'], status: 201 }]);
  });
});
