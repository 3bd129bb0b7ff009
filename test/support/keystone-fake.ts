/**
 * A small Keystone v3 identity server for tests. Keystone has no local server here (no Debian package is set up for
 * it, and Swift All-In-One authenticates with TempAuth), so this fake stands in for `POST /v3/auth/tokens`.
 *
 * Emulates: the password, application_credential and token methods; project scope by id or name + domain;
 * `X-Subject-Token`; a token body with `expires_at` and a catalog whose `object-store` service points at the REAL
 * Swift storage URL. The token it hands out is a real TempAuth token fetched from Swift All-In-One, so Swift accepts
 * it exactly as it would accept a Keystone token through keystoneauth.
 * Does not emulate: token validation endpoints (GET/HEAD /v3/auth/tokens), domains, roles, catalogs beyond
 * identity and object-store, multi-factor rules, or Keystone's exact error texts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeUser {
  id: string;
  name: string;
  domainId: string;
  password: string;
}

export interface FakeApplicationCredential {
  id: string;
  name: string;
  secret: string;
  userId: string;
}

export interface KeystoneFakeOptions {
  /** Where real tokens come from: Swift's TempAuth. */
  swift: { authUrl: string; user: string; key: string };
  users?: FakeUser[];
  applicationCredentials?: FakeApplicationCredential[];
  project?: { id: string; name: string; domainId: string };
  region?: string;
  /** Override the object-store URL put in the catalog (default: TempAuth's X-Storage-Url). */
  storageUrl?: string;
  /** Leave object-store out of the catalog (to test the error). */
  omitObjectStore?: boolean;
}

export interface SeenAuth {
  methods: string[];
  status: number;
}

export interface KeystoneFake {
  /** `OS_AUTH_URL`, e.g. http://127.0.0.1:40125/v3 */
  readonly authUrl: string;
  readonly requests: SeenAuth[];
  /** The next issuance hands out a token Swift rejects (401), as if it had been revoked. */
  issueStaleTokenNext(): void;
  close(): Promise<void>;
}

export const FAKE_USER: FakeUser = { id: 'u-4b1d', name: 'radiomics', domainId: 'default', password: 'pw-not-secret' };
export const FAKE_APP_CRED: FakeApplicationCredential = {
  id: 'ac-77e1',
  name: 'radiomics-ci',
  secret: 'ac-secret-not-secret',
  userId: FAKE_USER.id,
};
export const FAKE_PROJECT = { id: 'p-9a2c', name: 'radiomics', domainId: 'default' };

/** A user, project or domain reference in a Keystone v3 request: by id, or by name (and domain). */
interface Reference {
  id?: string;
  name?: string;
  domain?: Reference;
}

/** The body of POST /v3/auth/tokens, as far as the fake reads it; clients send what they send, so every part is optional. */
interface AuthRequest {
  auth?: {
    identity?: {
      methods?: unknown;
      password?: { user?: Reference & { password?: string } };
      application_credential?: Reference & { secret?: string; user?: Reference };
      token?: { id?: string };
    };
    scope?: { project?: Reference };
  };
}

interface CatalogEntry {
  type: string;
  name: string;
  id: string;
  endpoints: { id: string; interface: string; region: string; region_id: string; url: string }[];
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function unauthorized(res: ServerResponse, message: string): void {
  send(res, 401, { error: { code: 401, title: 'Unauthorized', message } });
}

async function readAuthRequest(req: IncomingMessage): Promise<AuthRequest | null> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as AuthRequest;
  } catch {
    return null;
  }
}

function domainMatches(ref: Reference | undefined, domainId: string): boolean {
  if (!ref) return false;
  return ref.id === domainId || (domainId === 'default' && ref.name === 'Default');
}

export async function startKeystoneFake(options: KeystoneFakeOptions): Promise<KeystoneFake> {
  const users = options.users ?? [FAKE_USER];
  const appCreds = options.applicationCredentials ?? [FAKE_APP_CRED];
  const project = options.project ?? FAKE_PROJECT;
  const region = options.region ?? 'RegionOne';
  const requests: SeenAuth[] = [];
  const issued = new Set<string>();
  let staleNext = false;
  const sockets = new Set<Socket>();

  const findUser = (u: Reference | undefined): FakeUser | undefined => {
    if (!u) return undefined;
    if (u.id) return users.find((x) => x.id === u.id);
    return users.find((x) => x.name === u.name && domainMatches(u.domain, x.domainId));
  };

  const realSwiftToken = async (): Promise<{ token: string; storageUrl: string }> => {
    const res = await fetch(options.swift.authUrl, {
      headers: { 'X-Auth-User': options.swift.user, 'X-Auth-Key': options.swift.key },
    });
    await res.arrayBuffer();
    const token = res.headers.get('x-auth-token');
    const storageUrl = res.headers.get('x-storage-url');
    if (res.status !== 200 || !token || !storageUrl) throw new Error(`TempAuth answered ${res.status}`);
    return { token, storageUrl };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || path !== '/v3/auth/tokens') {
      send(res, 404, { error: { code: 404, title: 'Not Found', message: 'not emulated' } });
      return;
    }
    const body = await readAuthRequest(req);
    const identity = body?.auth?.identity;
    const methods: string[] = Array.isArray(identity?.methods) ? identity.methods : [];
    const seen: SeenAuth = { methods, status: 401 };
    requests.push(seen);
    if (!identity || methods.length !== 1) return unauthorized(res, 'exactly one auth method expected');
    const scope = body?.auth?.scope;
    let user: FakeUser | undefined;
    let scoped: boolean;
    switch (methods[0]) {
      case 'password': {
        user = findUser(identity.password?.user);
        if (!user || identity.password?.user?.password !== user.password)
          return unauthorized(res, 'The request you have made requires authentication.');
        scoped = true;
        break;
      }
      case 'application_credential': {
        const ac = identity.application_credential;
        const cred = ac?.id
          ? appCreds.find((c) => c.id === ac.id)
          : appCreds.find((c) => c.name === ac?.name && findUser(ac?.user)?.id === c.userId);
        if (!cred || ac?.secret !== cred.secret) return unauthorized(res, 'The request you have made requires authentication.');
        if (scope) return unauthorized(res, 'Application credentials cannot request a scope.');
        user = users.find((u) => u.id === cred.userId);
        scoped = false;
        break;
      }
      case 'token': {
        const tokenId = identity.token?.id;
        if (tokenId === undefined || !issued.has(tokenId)) return unauthorized(res, 'Could not find token.');
        user = users[0];
        scoped = true;
        break;
      }
      default:
        return unauthorized(res, `method ${methods[0]} is not emulated`);
    }
    if (scoped) {
      const p = scope?.project;
      const ok = p && (p.id === project.id || (p.name === project.name && domainMatches(p.domain, project.domainId)));
      if (!ok) return unauthorized(res, 'a project scope this user has a role on is required');
    }
    const real = await realSwiftToken();
    let token = real.token;
    if (staleNext) {
      staleNext = false;
      token = `AUTH_tk${'0'.repeat(32)}`; // well-formed, unknown to TempAuth: Swift answers 401
    }
    issued.add(token);
    const storageUrl = options.storageUrl ?? real.storageUrl;
    const catalog: CatalogEntry[] = [
      {
        type: 'identity',
        name: 'keystone',
        id: 'svc-identity',
        endpoints: [{ id: 'ep-id', interface: 'public', region, region_id: region, url: `http://127.0.0.1:${port}/v3` }],
      },
    ];
    if (!options.omitObjectStore) {
      catalog.push({
        type: 'object-store',
        name: 'swift',
        id: 'svc-swift',
        endpoints: ['public', 'internal', 'admin'].map((iface) => ({
          id: `ep-swift-${iface}`,
          interface: iface,
          region,
          region_id: region,
          url: storageUrl,
        })),
      });
    }
    seen.status = 201;
    send(
      res,
      201,
      {
        token: {
          methods,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          issued_at: new Date().toISOString(),
          user: { id: user?.id, name: user?.name, domain: { id: user?.domainId ?? 'default', name: 'Default' } },
          ...(scoped ? { project: { id: project.id, name: project.name, domain: { id: project.domainId, name: 'Default' } } } : {}),
          catalog,
        },
      },
      { 'X-Subject-Token': token },
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { code: 500, title: 'Internal Server Error', message: String(error) } });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    authUrl: `http://127.0.0.1:${port}/v3`,
    requests,
    issueStaleTokenNext() {
      staleNext = true;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
