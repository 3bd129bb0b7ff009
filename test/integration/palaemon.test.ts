import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { X509Certificate, createHash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { generateTlsFixtures, type TlsFixtures } from '#local/tls-fixtures.js';
import { startPalaemonEmulator, type PalaemonEmulator } from '#local/palaemon-emulator.js';
import { attestWithEmulator } from '#local/emulated-attestation.js';
import {
  PalaemonClient,
  CasRequestError,
  SessionConflict,
  buildRadiomicsSession,
  buildTutorialSession,
  ensureSession,
  type RadiomicsSessionInput,
} from '#lib/palaemon/index.js';
import { ConfigError, RetryableError } from '#lib/errors.js';

/** The emulator's creator id: SHA-256 of the certificate's SubjectPublicKeyInfo. */
const keyHashOf = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');

/** What the CAS gives back for a posted session: creator, persistency, predecessor null, MRENCLAVEs reshaped. */
function normalisedShape(yaml: string, creatorPem: string): Record<string, unknown> {
  const doc = parseYaml(yaml) as Record<string, unknown>;
  const services = (doc.services as Array<Record<string, unknown>>).map(({ mrenclaves, ...rest }) => ({
    ...rest,
    attestation: [{ mrenclave: mrenclaves }],
  }));
  return { ...doc, services, predecessor: null, creator: keyHashOf(creatorPem), persistency: 'None' };
}

const MRENCLAVE = 'a'.repeat(64);
const KEY = Buffer.alloc(16, 7).toString('base64');
const image = {
  mrenclave: MRENCLAVE,
  imageName: 'registry.local/radiomics:1',
  fspfTag: 'b'.repeat(32),
  fspfKey: 'c'.repeat(64),
  fspfPath: '/fspf.pb',
};
const sessionInput = (name: string, extra: Partial<RadiomicsSessionInput> = {}): RadiomicsSessionInput => ({
  format: '0.3',
  name,
  image,
  command: 'node /app/worker.js',
  encryptionKey: KEY,
  environment: { ITEM_LEASE_SECS: '15' },
  secretEnvironment: { OS_AUTH_TOKEN: 'gAAAAtoken-value-1234' },
  ...extra,
});

let dir: string;
let fx: TlsFixtures;
let other: TlsFixtures;
let cas: PalaemonEmulator;
let alice: PalaemonClient;
let bob: PalaemonClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'palaemon-it-'));
  fx = await generateTlsFixtures(join(dir, 'tls'), { clients: ['alice', 'bob'] });
  other = await generateTlsFixtures(join(dir, 'other-tls'), { clients: ['mallory'] });
  cas = await startPalaemonEmulator({
    tls: { ca: fx.ca, cert: fx.server.cert, key: fx.server.key },
    stateDir: join(dir, 'state'),
    attestationPort: 0,
  });
  alice = new PalaemonClient({ casAddress: cas.casAddress, tls: { ca: fx.ca, cert: fx.clients.alice.cert, key: fx.clients.alice.key } });
  bob = new PalaemonClient({ baseUrl: cas.url, tls: { ca: fx.ca, cert: fx.clients.bob.cert, key: fx.clients.bob.key } });
});

afterAll(async () => {
  await cas?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('PalaemonClient against the CAS emulator over mTLS', () => {
  it('the liveness check passes (GET /session answers 400)', async () => {
    await expect(alice.check()).resolves.toBeUndefined();
  });

  it('creates a session and reads it back as YAML and as JSON with the same hash', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-create'));
    const created = await alice.create(yaml);
    expect(created.name).toBe('batch-create');
    expect(created.status).toBe('Pending');
    expect(created.hash).toMatch(/^[0-9a-f]{64}$/);
    const readBack = await alice.read('batch-create');
    expect(parseYaml(readBack)).toEqual(normalisedShape(yaml, fx.clients.alice.cert));
    expect(await alice.readWithHash('batch-create')).toEqual({ session: readBack, hash: created.hash });
  });

  it('a second create of the same name fails with the exact digest text, kind exists', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-twice'));
    const { hash } = await alice.create(yaml);
    const error = await alice.create(yaml).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CasRequestError);
    expect((error as CasRequestError).status).toBe(400);
    expect((error as CasRequestError).kind).toBe('exists');
    expect((error as CasRequestError).casMessage).toBe(
      `Could not create successor session. Invalid previous session digest: Some("${hash}") != None`,
    );
    expect((error as Error).message).toBe(
      `CAS refused to create session batch-twice: 400: Could not create successor session. Invalid previous session digest: Some("${hash}") != None`,
    );
  });

  it('updates with the current hash as predecessor, and refuses a stale one', async () => {
    const first = await alice.create(buildRadiomicsSession(sessionInput('batch-update')));
    const second = await alice.update(
      buildRadiomicsSession(sessionInput('batch-update', { environment: { ITEM_LEASE_SECS: '30' }, predecessor: first.hash })),
    );
    expect(second.hash).not.toBe(first.hash);
    expect((await alice.readWithHash('batch-update')).hash).toBe(second.hash);
    const stale = await alice
      .update(buildRadiomicsSession(sessionInput('batch-update', { environment: { ITEM_LEASE_SECS: '45' }, predecessor: first.hash })))
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(CasRequestError);
    expect((stale as CasRequestError).kind).toBe('predecessor_mismatch');
    expect((stale as CasRequestError).casMessage).toBe(
      `Could not create successor session. Invalid previous session digest: Some("${second.hash}") != Some("${first.hash}")`,
    );
  });

  it('an update of a missing session is refused with None != Some(...)', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-missing', { predecessor: 'd'.repeat(64) }));
    const error = (await alice.update(yaml).catch((e: unknown) => e)) as CasRequestError;
    expect(error.kind).toBe('predecessor_mismatch');
    expect(error.casMessage).toBe(`Could not create successor session. Invalid previous session digest: None != Some("${'d'.repeat(64)}")`);
  });

  it('only the creator certificate may read or update (default policy)', async () => {
    const { hash } = await alice.create(buildRadiomicsSession(sessionInput('batch-owned')));
    const read = (await bob.read('batch-owned').catch((e: unknown) => e)) as CasRequestError;
    expect(read).toBeInstanceOf(CasRequestError);
    expect([read.status, read.kind, read.casMessage]).toEqual([
      403,
      'forbidden',
      'access denied: this client certificate may not read session batch-owned',
    ]);
    const update = (await bob
      .update(buildRadiomicsSession(sessionInput('batch-owned', { predecessor: hash })))
      .catch((e: unknown) => e)) as CasRequestError;
    expect([update.status, update.kind, update.casMessage]).toEqual([
      403,
      'forbidden',
      'access denied: this client certificate may not update session batch-owned',
    ]);
  });

  it('reading an unknown session gives 404 from {"msg": [...]}', async () => {
    const error = (await alice.readWithHash('no-such-session').catch((e: unknown) => e)) as CasRequestError;
    expect(error).toBeInstanceOf(CasRequestError);
    expect([error.status, error.kind, error.message]).toEqual([
      404,
      'not_found',
      'CAS refused to read session no-such-session: 404: session no-such-session not found',
    ]);
  });

  it('an update without predecessor is refused before any request', async () => {
    await expect(alice.update(buildRadiomicsSession(sessionInput('batch-nopred')))).rejects.toThrow(
      'an update must carry predecessor: <hash of the current session>',
    );
  });

  it('a body that is not YAML is refused before sending, without echoing it', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-leak')).replace('node /app/worker.js', 'node /app/worker.js\nbroken: [');
    const error = (await alice.create(yaml).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('cannot create session: the body is not valid YAML');
  });

  it('a session the CAS rejects gives CasRequestError kind rejected with the CAS message', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-badref')).replace(
      'ITEM_LEASE_SECS: "15"',
      () => 'ITEM_LEASE_SECS: $$SCONE::NOPE$$',
    );
    const error = (await alice.create(yaml).catch((e: unknown) => e)) as CasRequestError;
    expect(error).toBeInstanceOf(CasRequestError);
    expect([error.status, error.kind, error.message]).toEqual([
      400,
      'rejected',
      'CAS refused to create session batch-badref: 400: service radiomics: environment references undefined secret NOPE',
    ]);
  });

  it('ensureSession creates once, then accepts the same content without re-creating', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-ensure'));
    const first = await ensureSession(alice, yaml);
    expect(first.created).toBe(true);
    const again = await ensureSession(alice, yaml);
    expect(again).toEqual({ name: 'batch-ensure', hash: first.hash, created: false });
  });

  it('ensureSession refuses a same-named session with other content, and one owned by another certificate', async () => {
    await ensureSession(alice, buildRadiomicsSession(sessionInput('batch-conflict')));
    const changed = buildRadiomicsSession(sessionInput('batch-conflict', { environment: { ITEM_LEASE_SECS: '99' } }));
    await expect(ensureSession(alice, changed)).rejects.toBeInstanceOf(SessionConflict);
    const foreign = (await ensureSession(bob, buildRadiomicsSession(sessionInput('batch-conflict'))).catch(
      (e: unknown) => e,
    )) as CasRequestError;
    expect([foreign.status, foreign.kind]).toEqual([403, 'forbidden']);
  });

  it('ensureSession reuses our session without relying on the error wording or GET /v1/sessions (older CAS)', async () => {
    const yaml = buildRadiomicsSession(sessionInput('batch-older-cas'));
    await alice.create(yaml);
    const olderCas = {
      check: () => alice.check(),
      read: (name: string) => alice.read(name),
      update: (y: string) => alice.update(y),
      create: async (y: string) => {
        await alice.create(y).catch(() => undefined);
        throw new CasRequestError(409, 'rejected', 'session already exists', 'CAS refused to create session batch-older-cas: 409');
      },
      readWithHash: async () => {
        throw new CasRequestError(404, 'not_found', 'not found', 'CAS refused to read session batch-older-cas: 404');
      },
    };
    expect(await ensureSession(olderCas, yaml)).toEqual({ name: 'batch-older-cas', created: false });
    const changed = buildRadiomicsSession(sessionInput('batch-older-cas', { environment: { ITEM_LEASE_SECS: '16' } }));
    await expect(ensureSession(olderCas, changed)).rejects.toBeInstanceOf(SessionConflict);
  });

  it('ensureSession re-raises the create error when the session does not exist', async () => {
    const refused = new CasRequestError(400, 'rejected', 'bad session', 'CAS refused to create session batch-never: 400: bad session');
    const failing = {
      check: () => alice.check(),
      update: (y: string) => alice.update(y),
      read: (name: string) => alice.read(name),
      readWithHash: (name: string) => alice.readWithHash(name),
      create: async () => Promise.reject(refused),
    };
    await expect(ensureSession(failing, buildRadiomicsSession(sessionInput('batch-never')))).rejects.toBe(refused);
  });

  it('the CAS refuses an ascii secret with an encoding suffix and a binary secret not in hex', async () => {
    const session = (secret: string, reference: string) =>
      `name: batch-secrets\nversion: "0.3"\nservices:\n  - name: s\n    mrenclaves: [${MRENCLAVE}]\n    command: c\n    environment: {K: "${reference}"}\nsecrets:\n  - ${secret}\n`;
    const refusal = async (yaml: string) => ((await alice.create(yaml).catch((e: unknown) => e)) as CasRequestError).message;
    expect(await refusal(session('{name: K, kind: ascii, value: v}', '$$SCONE::K:hex$$'))).toBe(
      'CAS refused to create session batch-secrets: 400: service s: ascii secret K takes no encoding (:hex)',
    );
    expect(await refusal(session('{name: K, kind: binary, value: "AAE="}', '$$SCONE::K:hex$$'))).toBe(
      'CAS refused to create session batch-secrets: 400: secret K: a binary value must be hex',
    );
    expect((await alice.create(session('{name: K, kind: binary, value: "000102"}', '$$SCONE::K:hex$$'))).name).toBe('batch-secrets');
  });

  it('emulated attestation returns the environment with secrets substituted only for a listed mrenclave', async () => {
    await alice.create(buildRadiomicsSession(sessionInput('batch-attest')));
    const attest = (mrenclave: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          `${cas.attestationUrl}/v1/attest/batch-attest/radiomics`,
          { ca: fx.ca, agent: false, headers: { 'x-emulated-mrenclave': mrenclave } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const ok = await attest(MRENCLAVE);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({
      config_id: 'batch-attest/radiomics',
      command: 'node /app/worker.js',
      pwd: '/app',
      environment: { ENCRYPTION_KEY: KEY, OS_AUTH_TOKEN: 'gAAAAtoken-value-1234', ITEM_LEASE_SECS: '15' },
      fspf_path: '/fspf.pb',
      fspf_key: 'c'.repeat(64),
      fspf_tag: 'b'.repeat(32),
    });
    const denied = await attest('e'.repeat(64));
    expect(denied).toEqual({ status: 403, body: '{"msg":["mrenclave not permitted for batch-attest/radiomics"]}' });
  });

  it('emulated attestation refuses a debug-mode enclave unless the session tolerates it', async () => {
    await alice.create(buildRadiomicsSession(sessionInput('batch-strict')));
    await alice.create(buildRadiomicsSession(sessionInput('batch-tolerant', { tolerate: ['debug-mode'] })));
    const request = {
      casAddress: `127.0.0.1:${new URL(cas.attestationUrl!).port}`,
      caFile: fx.caPath,
      mrenclave: MRENCLAVE,
      platform: ['debug-mode'],
    };
    const refused = (await attestWithEmulator({ ...request, configId: 'batch-strict/radiomics' }).catch((e: unknown) => e)) as Error;
    expect(refused.message).toBe('emulated attestation refused (403)');
    expect((await attestWithEmulator({ ...request, configId: 'batch-tolerant/radiomics' })).environment.ITEM_LEASE_SECS).toBe('15');
    expect((await attestWithEmulator({ ...request, platform: [], configId: 'batch-strict/radiomics' })).command).toBe(
      'node /app/worker.js',
    );
  });

  it('the tutorial format is accepted too', async () => {
    const yaml = buildTutorialSession({
      name: 'batch-tutorial',
      service: { image, command: 'python3 worker.py', environment: { ENCRYPTION_KEY: KEY } },
    });
    const created = await alice.create(yaml);
    const stored = await alice.readWithHash('batch-tutorial');
    expect([parseYaml(stored.session), stored.hash]).toEqual([normalisedShape(yaml, fx.clients.alice.cert), created.hash]);
  });

  it('sessions survive an emulator restart with the same state dir', async () => {
    const { hash } = await alice.create(buildRadiomicsSession(sessionInput('batch-persist')));
    const again = await startPalaemonEmulator({
      tls: { ca: fx.ca, cert: fx.server.cert, key: fx.server.key },
      stateDir: join(dir, 'state'),
    });
    try {
      const client = new PalaemonClient({ baseUrl: again.url, tls: { ca: fx.ca, cert: fx.clients.alice.cert, key: fx.clients.alice.key } });
      expect((await client.readWithHash('batch-persist')).hash).toBe(hash);
    } finally {
      await again.close();
    }
  });
});

describe('TLS failures and an unreachable CAS', () => {
  it('a client without a certificate is answered 401', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${cas.url}/session`, { ca: fx.ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({ status: 401, body: '{"msg":["a client certificate is required"]}' });
  });

  it('a client certificate of any issuer is accepted, and its key is another creator', async () => {
    await alice.create(buildRadiomicsSession(sessionInput('batch-mallory')));
    const mallory = new PalaemonClient({
      baseUrl: cas.url,
      tls: { ca: fx.ca, cert: other.clients.mallory.cert, key: other.clients.mallory.key },
    });
    await expect(mallory.check()).resolves.toBeUndefined();
    const error = (await mallory.read('batch-mallory').catch((e: unknown) => e)) as CasRequestError;
    expect([error.status, error.kind]).toEqual([403, 'forbidden']);
  });

  it('the TLS server name is a setting: a CAS certificate naming only cas is verified as cas', async () => {
    const named = await generateTlsFixtures(join(dir, 'named-tls'), { clients: ['alice'], serverNames: ['DNS:cas'] });
    const namedCas = await startPalaemonEmulator({ tls: { ca: named.ca, cert: named.server.cert, key: named.server.key } });
    try {
      const tls = { ca: named.ca, cert: named.clients.alice.cert, key: named.clients.alice.key };
      await expect(new PalaemonClient({ baseUrl: namedCas.url, tls: { ...tls, servername: 'cas' } }).check()).resolves.toBeUndefined();
      const wrong = (await new PalaemonClient({ baseUrl: namedCas.url, tls: { ...tls, servername: 'cas.other' } })
        .check()
        .catch((e: unknown) => e)) as Error;
      expect(wrong).toBeInstanceOf(ConfigError);
      expect(wrong.message.startsWith(`TLS with the CAS at ${namedCas.url} failed (ERR_TLS_CERT_ALTNAME_INVALID)`)).toBe(true);
    } finally {
      await namedCas.close();
    }
  });

  it('a client trusting a different CA refuses the server: ConfigError', async () => {
    const client = new PalaemonClient({ baseUrl: cas.url, tls: { ca: other.ca, cert: fx.clients.alice.cert, key: fx.clients.alice.key } });
    const error = (await client.check().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `TLS with the CAS at ${cas.url} failed (SELF_SIGNED_CERT_IN_CHAIN): self-signed certificate in certificate chain. Check the pinned CA and the client certificate and key`,
    );
  });

  it('a CAS that is down gives RetryableError', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const client = new PalaemonClient({
      casAddress: `127.0.0.1:${port}:${port}`,
      tls: { ca: fx.ca, cert: fx.clients.alice.cert, key: fx.clients.alice.key },
    });
    const error = (await client.check().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toMatch(new RegExp(`^CAS at https://127\\.0\\.0\\.1:${port} is unreachable \\(ECONNREFUSED\\)`));
  });

  it('a timeout gives RetryableError', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((socket) => sockets.add(socket));
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    try {
      const client = new PalaemonClient({
        baseUrl: `https://127.0.0.1:${port}`,
        timeoutMs: 200,
        tls: { ca: fx.ca, cert: fx.clients.alice.cert, key: fx.clients.alice.key },
      });
      const error = (await client.check().catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toBe('CAS request GET /session timed out after 200 ms');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a caller abort gives RetryableError naming the abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = (await alice.check({ signal: controller.signal }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('CAS request GET /session was aborted');
  });
});
