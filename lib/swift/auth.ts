/**
 * Swift authentication: TempAuth (v1.0), Keystone v3 (password, application credential, existing token), or a
 * pre-authenticated token + storage URL. Each authenticator only knows how to obtain a session; caching, expiry and
 * the one re-authentication on 401 live in the client.
 * Errors: a definitive refusal (401/403 or a catalog without object-store) is a `SwiftError`; 5xx and network
 * failures are `SwiftUnavailableError`. Messages never include passwords, secrets or tokens.
 */
import { ConfigError } from '#lib/errors.js';
import { SwiftError, SwiftUnavailableError } from './errors.js';

export type FetchFn = typeof globalThis.fetch;

export interface SwiftSession {
  token: string;
  /** e.g. `http://127.0.0.1:18080/v1/AUTH_test` (no trailing slash). */
  storageUrl: string;
  /** Epoch ms after which the token is no longer valid; null when unknown. */
  expiresAtMs: number | null;
}

export interface AuthContext {
  fetch: FetchFn;
  signal: AbortSignal;
}

export interface SwiftAuthenticator {
  /** Short description for error messages (never secrets). */
  readonly kind: string;
  /** False for a fixed token: the client then cannot re-authenticate on 401. */
  readonly canReauthenticate: boolean;
  authenticate(ctx: AuthContext): Promise<SwiftSession>;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

async function authFetch(kind: string, ctx: AuthContext, url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await ctx.fetch(url, { ...init, signal: ctx.signal });
  } catch (error) {
    const reason = ctx.signal.reason as { name?: unknown } | undefined;
    if (ctx.signal.aborted && reason?.name === 'AbortError') throw ctx.signal.reason;
    const detail = ctx.signal.aborted ? 'timed out' : `network error: ${networkErrorCode(error)}`;
    throw new SwiftUnavailableError('authenticate', kind, 0, detail, { cause: error });
  }
  return res;
}

function networkErrorCode(error: unknown): string {
  const e = error as { message?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return typeof e?.message === 'string' ? e.message : String(error);
}

async function failure(kind: string, res: Response): Promise<never> {
  const text = (await res.text().catch(() => ''))
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  if (res.status >= 500 || res.status === 429) throw new SwiftUnavailableError('authenticate', kind, res.status, text);
  throw new SwiftError('authenticate', kind, res.status, text);
}

// ---------------------------------------------------------------- TempAuth

export interface TempAuthOptions {
  /** e.g. `http://127.0.0.1:18080/auth/v1.0` */
  authUrl: string;
  /** `account:user`, e.g. `test:tester` */
  user: string;
  key: string;
}

export class TempAuth implements SwiftAuthenticator {
  readonly kind = 'tempauth';
  readonly canReauthenticate = true;
  constructor(private readonly options: TempAuthOptions) {}

  async authenticate(ctx: AuthContext): Promise<SwiftSession> {
    const res = await authFetch(this.kind, ctx, this.options.authUrl, {
      method: 'GET',
      headers: { 'X-Auth-User': this.options.user, 'X-Auth-Key': this.options.key },
    });
    if (res.status !== 200 && res.status !== 204) return failure(this.kind, res);
    await res.arrayBuffer().catch(() => undefined);
    const token = res.headers.get('x-auth-token') ?? res.headers.get('x-storage-token');
    const storageUrl = res.headers.get('x-storage-url');
    if (!token || !storageUrl) throw new SwiftError('authenticate', this.kind, res.status, 'no token or storage URL in the answer');
    const expiresSec = Number(res.headers.get('x-auth-token-expires'));
    return {
      token,
      storageUrl: trimSlash(storageUrl),
      expiresAtMs: Number.isFinite(expiresSec) && expiresSec > 0 ? Date.now() + expiresSec * 1000 : null,
    };
  }
}

// ---------------------------------------------------------------- pre-authenticated

/** A fixed token and storage URL (e.g. `OS_AUTH_TOKEN` + `OS_STORAGE_URL`). It cannot be refreshed. */
export class PreauthenticatedAuth implements SwiftAuthenticator {
  readonly kind = 'preauthenticated token';
  readonly canReauthenticate = false;
  constructor(private readonly session: { token: string; storageUrl: string; expiresAtMs?: number | null }) {}
  async authenticate(): Promise<SwiftSession> {
    return { token: this.session.token, storageUrl: trimSlash(this.session.storageUrl), expiresAtMs: this.session.expiresAtMs ?? null };
  }
}

// ---------------------------------------------------------------- Keystone v3

export interface DomainRef {
  id?: string;
  name?: string;
}

export type KeystoneMethod =
  | { type: 'password'; username?: string; userId?: string; userDomain?: DomainRef; password: string }
  | {
      type: 'application_credential';
      /** Either `id`, or `name` plus the owning user (`username` + `userDomain`, or `userId`). */
      id?: string;
      name?: string;
      username?: string;
      userId?: string;
      userDomain?: DomainRef;
      secret: string;
    }
  | { type: 'token'; token: string };

export interface KeystoneV3Options {
  /** `OS_AUTH_URL`, with or without the `/v3` suffix. */
  authUrl: string;
  method: KeystoneMethod;
  /** Project scope (`OS_PROJECT_NAME` + `OS_PROJECT_DOMAIN_ID`, or `OS_PROJECT_ID`). Not used for application credentials. */
  project?: { id?: string; name?: string; domain?: DomainRef };
  /** `OS_REGION_NAME`: pick the endpoint of this region. */
  region?: string;
  /** `OS_INTERFACE`: public (default), internal or admin. */
  interface?: 'public' | 'internal' | 'admin';
}

interface CatalogEndpoint {
  interface?: string;
  region?: string;
  region_id?: string;
  url?: string;
}

interface CatalogEntry {
  type?: string;
  endpoints?: CatalogEndpoint[];
}

function domainJson(d: DomainRef | undefined): { id: string } | { name: string } | undefined {
  if (!d) return undefined;
  if (d.id) return { id: d.id };
  if (d.name) return { name: d.name };
  return undefined;
}

function userJson(m: { username?: string; userId?: string; userDomain?: DomainRef }): Record<string, unknown> {
  if (m.userId) return { id: m.userId };
  if (!m.username) throw new ConfigError('Keystone: a user name (OS_USERNAME) or id (OS_USER_ID) is required');
  return { name: m.username, domain: domainJson(m.userDomain) ?? { id: 'default' } };
}

export function keystoneTokensUrl(authUrl: string): string {
  const base = trimSlash(authUrl);
  return /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
}

/** The `POST /v3/auth/tokens` body for the configured method and scope. */
export function keystoneAuthBody(options: KeystoneV3Options): unknown {
  const m = options.method;
  let identity: Record<string, unknown>;
  switch (m.type) {
    case 'password':
      identity = { methods: ['password'], password: { user: { ...userJson(m), password: m.password } } };
      break;
    case 'application_credential': {
      const cred: Record<string, unknown> = m.id ? { id: m.id } : { name: m.name, user: userJson(m) };
      if (!m.id && !m.name) throw new ConfigError('Keystone: an application credential id or name is required');
      identity = { methods: ['application_credential'], application_credential: { ...cred, secret: m.secret } };
      break;
    }
    case 'token':
      identity = { methods: ['token'], token: { id: m.token } };
      break;
  }
  const auth: Record<string, unknown> = { identity };
  // An application credential is already scoped; Keystone rejects an explicit scope with it.
  if (m.type !== 'application_credential' && options.project) {
    const p = options.project;
    if (p.id) auth.scope = { project: { id: p.id } };
    else if (p.name) auth.scope = { project: { name: p.name, domain: domainJson(p.domain) ?? { id: 'default' } } };
  }
  return { auth };
}

/** Finds the object-store endpoint in a v3 catalog by type, interface and (optionally) region. */
export function objectStoreEndpoint(catalog: unknown, wanted: { interface?: string; region?: string } = {}): string | null {
  if (!Array.isArray(catalog)) return null;
  const iface = wanted.interface ?? 'public';
  for (const entry of catalog as CatalogEntry[]) {
    if (entry?.type !== 'object-store' || !Array.isArray(entry.endpoints)) continue;
    const hit = entry.endpoints.find(
      (e) =>
        e.interface === iface &&
        typeof e.url === 'string' &&
        (!wanted.region || e.region_id === wanted.region || e.region === wanted.region),
    );
    if (hit?.url) return trimSlash(hit.url);
  }
  return null;
}

export class KeystoneV3Auth implements SwiftAuthenticator {
  readonly kind: string;
  readonly canReauthenticate = true;
  constructor(private readonly options: KeystoneV3Options) {
    this.kind = `keystone v3 ${options.method.type}`;
  }

  async authenticate(ctx: AuthContext): Promise<SwiftSession> {
    const res = await authFetch(this.kind, ctx, keystoneTokensUrl(this.options.authUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(keystoneAuthBody(this.options)),
    });
    if (res.status !== 201 && res.status !== 200) return failure(this.kind, res);
    const token = res.headers.get('x-subject-token');
    const body = (await res.json().catch(() => null)) as { token?: { catalog?: unknown; expires_at?: string } } | null;
    if (!token || !body?.token) throw new SwiftError('authenticate', this.kind, res.status, 'no X-Subject-Token or token body');
    const storageUrl = objectStoreEndpoint(body.token.catalog, { interface: this.options.interface, region: this.options.region });
    if (!storageUrl) {
      throw new SwiftError(
        'authenticate',
        this.kind,
        res.status,
        `no object-store endpoint (interface ${this.options.interface ?? 'public'}${this.options.region ? `, region ${this.options.region}` : ''}) in the catalog`,
      );
    }
    const expires = body.token.expires_at ? Date.parse(body.token.expires_at) : NaN;
    return { token, storageUrl, expiresAtMs: Number.isFinite(expires) ? expires : null };
  }
}

// ---------------------------------------------------------------- from the environment

/**
 * Picks the authenticator from the usual environment variables:
 * - Keystone v3 when `OS_AUTH_URL` is set: application credential (`OS_APPLICATION_CREDENTIAL_ID`/`_NAME` +
 *   `_SECRET`), else password (`OS_PASSWORD`), else token (`OS_AUTH_TOKEN` or `OS_TOKEN`); scope from
 *   `OS_PROJECT_ID` or `OS_PROJECT_NAME` + `OS_PROJECT_DOMAIN_ID`/`_NAME`; `OS_USER_DOMAIN_ID`/`_NAME`,
 *   `OS_REGION_NAME`, `OS_INTERFACE`. `OS_AUTH_TYPE` (v3password, v3applicationcredential, v3token) forces a method.
 * - Pre-authenticated when `OS_STORAGE_URL` and `OS_AUTH_TOKEN` are set without `OS_AUTH_URL`.
 * - TempAuth when `ST_AUTH`, `ST_USER` and `ST_KEY` are set.
 */
export function swiftAuthFromEnv(env: Record<string, string | undefined>): SwiftAuthenticator {
  const authUrl = env.OS_AUTH_URL;
  if (authUrl) {
    const userDomain: DomainRef = { id: env.OS_USER_DOMAIN_ID, name: env.OS_USER_DOMAIN_NAME };
    const token = env.OS_AUTH_TOKEN ?? env.OS_TOKEN;
    const type = env.OS_AUTH_TYPE?.toLowerCase();
    let method: KeystoneMethod;
    if (type === 'v3applicationcredential' || (!type && env.OS_APPLICATION_CREDENTIAL_SECRET)) {
      if (!env.OS_APPLICATION_CREDENTIAL_SECRET) throw new ConfigError('OS_APPLICATION_CREDENTIAL_SECRET is required');
      method = {
        type: 'application_credential',
        id: env.OS_APPLICATION_CREDENTIAL_ID,
        name: env.OS_APPLICATION_CREDENTIAL_NAME,
        username: env.OS_USERNAME,
        userId: env.OS_USER_ID,
        userDomain,
        secret: env.OS_APPLICATION_CREDENTIAL_SECRET,
      };
    } else if (type === 'v3password' || type === 'password' || (!type && env.OS_PASSWORD)) {
      if (!env.OS_PASSWORD) throw new ConfigError('OS_PASSWORD is required');
      method = { type: 'password', username: env.OS_USERNAME, userId: env.OS_USER_ID, userDomain, password: env.OS_PASSWORD };
    } else if (token) {
      method = { type: 'token', token };
    } else {
      throw new ConfigError('OS_AUTH_URL is set but none of OS_PASSWORD, OS_APPLICATION_CREDENTIAL_SECRET, OS_AUTH_TOKEN is');
    }
    const iface = env.OS_INTERFACE?.replace(/URL$/i, '').toLowerCase();
    return new KeystoneV3Auth({
      authUrl,
      method,
      project: {
        id: env.OS_PROJECT_ID ?? env.OS_TENANT_ID,
        name: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME,
        domain: { id: env.OS_PROJECT_DOMAIN_ID, name: env.OS_PROJECT_DOMAIN_NAME },
      },
      region: env.OS_REGION_NAME,
      interface: iface === 'internal' || iface === 'admin' ? iface : 'public',
    });
  }
  if (env.OS_STORAGE_URL && env.OS_AUTH_TOKEN) {
    return new PreauthenticatedAuth({ token: env.OS_AUTH_TOKEN, storageUrl: env.OS_STORAGE_URL });
  }
  if (env.ST_AUTH && env.ST_USER && env.ST_KEY) {
    return new TempAuth({ authUrl: env.ST_AUTH, user: env.ST_USER, key: env.ST_KEY });
  }
  throw new ConfigError('no Swift credentials: set OS_AUTH_URL (+ OS_* credentials), or ST_AUTH, ST_USER and ST_KEY');
}
