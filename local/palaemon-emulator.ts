/**
 * Palaemon / SCONE CAS emulator, for tests and the local stack. A record of what is documented about the CAS
 * (sconedocs: session language 0.2/0.3, CAS CLI intro, host arguments; protocols.md §4), what was inferred from
 * examples, and what is unknown. Product code (lib/palaemon) must cope with the real CAS, so where the real
 * behaviour is unknown the emulator takes the less convenient reading.
 *
 * Documented, emulated:
 * - `POST /session` with a session YAML (no version = 0.1, `0.2`, `0.3`, `0.3.N`). Predecessor rules: creating an
 *   existing name, or updating with a hash other than the current one, answers 400 text `Could not create successor
 *   session. Invalid previous session digest: Some("<current>") != None` (or `!= Some("<given>")`).
 * - Client identity: users present an X.509 certificate, commonly self-signed by the CLI (`scone self show`); the
 *   creator is identified by its public key (SHA-256 of the SubjectPublicKeyInfo here). Any client certificate is
 *   accepted at TLS level; a request without one answers 401.
 * - `access_policy` entries CREATOR, ANY and NONE (default `{read: [CREATOR], update: [CREATOR]}`); others 400.
 * - Secrets: `ascii` values are used as they are and take no encoding suffix (`$$SCONE::NAME:hex$$` on an ascii
 *   secret is refused); `binary` values are hex and are referenced as `$$SCONE::NAME:hex$$` or `:base64$$`.
 * - Host environment variables: an environment key `@@NAME` takes its value from the program's host environment
 *   (sconedocs "Host Program Arguments and Environment Variables"); the emulated attestation returns such keys as
 *   they are and the emulated runtime (local/scone-runtime.ts) fills them.
 *
 * Inferred from examples (issue 11, transcripts), emulated:
 * - Read-back is normalised: `GET /session/<name>` and `GET /v1/sessions/<name>` answer the stored session with
 *   `creator` (here the creator's key hash; the real value's shape is unknown), `persistency` (value unknown; here
 *   `None`), `predecessor: null` on a first version, and MRENCLAVEs moved from `mrenclaves:` into an
 *   `attestation: [{mrenclave: [...]}]` section. The text is therefore never the YAML that was posted.
 * - `GET /session` → 400 (the tutorial's liveness probe); errors are `{"msg": ["…"]}` JSON.
 * - `GET /v1/sessions/<name>` → `{"session", "hash"}` (newer CAS; older ones lack the endpoint: clients must not
 *   rely on it, nor on `hash`).
 *
 * Unknown, so not emulated: the real hash algorithm (SHA-256 of the posted bytes here); exact status codes of
 * digest errors (400 here); whether the CAS withholds secret values on read-back; which session-language version a
 * given CAS release accepts for which feature (the per-service `attestation:` section is 0.3.7/SCONE 5.4; `@@` host
 * variables are attributed to 0.3.8 in issue 11, unconfirmed); volumes, x509 secret generation, signer-based
 * attestation, LAS, quotes, and how a real platform's properties and advisories are determined (the emulated enclave
 * declares them; see below).
 *
 * EMULATED ATTESTATION (stands in for SGX attestation and proves NOTHING):
 * `GET /v1/attest/<session>/<service>` with header `X-Emulated-Mrenclave: <64 hex>` answers the service's
 * `{config_id, command, pwd, environment, fspf_path, fspf_key, fspf_tag}` with `$$SCONE::NAME$$` references
 * substituted, but only if the presented value is one of the service's MRENCLAVEs and every platform property
 * (`X-Emulated-Platform: debug-mode,hyperthreading,outdated-tcb`) and advisory (`X-Emulated-Advisories`) the
 * emulated enclave declares is in the session's `tolerate` / `ignore_advisories` (documented: nothing else passes). Any local process can present
 * any value. It is served on the main port and, if `attestationPort` is given, on a second HTTPS port that asks for
 * no client certificate, like a CAS's separate attestation port (SCONE_CAS_ADDR).
 * Sessions persist in `<stateDir>/palaemon-sessions.json` when `stateDir` is given.
 */
import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Document, parse as parseYaml } from 'yaml';
import { createLogger, type Logger } from '#lib/log.js';

export interface PalaemonEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Server certificate and key, and CA certificates the server offers (client certificates need not chain to them). */
  tls: { ca: string | Buffer | ReadonlyArray<string | Buffer>; cert: string | Buffer; key: string | Buffer };
  stateDir?: string;
  /** A second port serving only the emulated attestation, without client certificates. 0 picks a free port. */
  attestationPort?: number;
  logger?: Logger;
}

export interface PalaemonEmulator {
  /** e.g. `https://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Present when `attestationPort` was given. */
  attestationUrl?: string;
  /** `127.0.0.1:<port>:<attestation port or port>`, for clients that take a CAS address. */
  casAddress: string;
  /** Config ids (`<session>/<service>`) granted by the emulated attestation, in order. */
  attested: string[];
  close(): Promise<void>;
}

interface StoredSession {
  yaml: string;
  hash: string;
  creator: string;
}

interface SessionDoc {
  name?: unknown;
  version?: unknown;
  predecessor?: unknown;
  services?: unknown;
  secrets?: unknown;
  access_policy?: unknown;
}

const NAME = /^[A-Za-z0-9_\-.~]{1,128}$/;
const MAX_BODY = 1024 * 1024;
const REFERENCE = /\$\$SCONE::([A-Za-z0-9_]+)(?::([A-Za-z0-9_]+))?\$\$/g;
const HEX_BYTES = /^(?:[0-9a-fA-F]{2})+$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly text = false,
  ) {
    super(message);
  }
}

function stateFile(stateDir: string): string {
  return join(stateDir, 'palaemon-sessions.json');
}

function loadState(stateDir: string | undefined): Map<string, StoredSession> {
  const sessions = new Map<string, StoredSession>();
  if (!stateDir) return sessions;
  try {
    const json = JSON.parse(readFileSync(stateFile(stateDir), 'utf8')) as { sessions: Record<string, StoredSession> };
    for (const [name, s] of Object.entries(json.sessions ?? {})) sessions.set(name, s);
  } catch {
    // no state yet
  }
  return sessions;
}

function saveState(stateDir: string | undefined, sessions: Map<string, StoredSession>): void {
  if (!stateDir) return;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${stateFile(stateDir)}.${randomUUID()}.tmp`;
  writeFileSync(tmp, JSON.stringify({ sessions: Object.fromEntries(sessions) }, null, 1), { mode: 0o600 });
  renameSync(tmp, stateFile(stateDir));
}

function services(doc: SessionDoc): Array<Record<string, unknown>> {
  return Array.isArray(doc.services) ? (doc.services as Array<Record<string, unknown>>) : [];
}

function mrenclavesOf(service: Record<string, unknown>): string[] {
  const out: unknown[] = [];
  if (Array.isArray(service.mrenclaves)) out.push(...service.mrenclaves);
  const att = service.attestation;
  const entries = Array.isArray(att) ? att : att ? [att] : [];
  for (const entry of entries) {
    const m = (entry as Record<string, unknown>)?.mrenclave;
    if (Array.isArray(m)) out.push(...m);
    else if (typeof m === 'string') out.push(m);
  }
  return out.filter((m): m is string => typeof m === 'string').map((m) => m.toLowerCase());
}

function policyOf(doc: SessionDoc, which: 'read' | 'update'): string[] {
  const policy = doc.access_policy as Record<string, unknown> | undefined;
  const list = policy?.[which];
  return Array.isArray(list) ? list.map(String) : ['CREATOR'];
}

function allowed(session: StoredSession, which: 'read' | 'update', fingerprint: string): boolean {
  const doc = parseYaml(session.yaml) as SessionDoc;
  const policy = policyOf(doc, which);
  if (policy.includes('NONE')) return false;
  if (policy.includes('ANY')) return true;
  return policy.includes('CREATOR') && session.creator === fingerprint;
}

function secretsOf(doc: SessionDoc): Map<string, { kind: string; value: string }> {
  const out = new Map<string, { kind: string; value: string }>();
  if (!Array.isArray(doc.secrets)) return out;
  for (const s of doc.secrets as Array<Record<string, unknown>>) {
    if (typeof s?.name === 'string') out.set(s.name, { kind: String(s.kind ?? 'ascii'), value: String(s.value ?? '') });
  }
  return out;
}

function substitute(value: string, secrets: Map<string, { kind: string; value: string }>): string {
  return value.replace(REFERENCE, (_m, name: string, format: string | undefined) => {
    const secret = secrets.get(name);
    if (!secret) throw new HttpError(500, `undefined secret ${name}`);
    if (secret.kind === 'ascii') return secret.value;
    const bytes = Buffer.from(secret.value, 'hex');
    return format === 'base64' ? bytes.toString('base64') : bytes.toString('hex');
  });
}

/** What the CAS refuses in secrets and their references (documented: ascii takes no suffix, binary is hex). */
function checkSecretUse(service: string, value: string, secrets: Map<string, { kind: string; value: string }>): void {
  for (const match of value.matchAll(REFERENCE)) {
    const secret = secrets.get(match[1]);
    if (!secret) throw new HttpError(400, `service ${service}: environment references undefined secret ${match[1]}`);
    const format = match[2];
    if (secret.kind === 'ascii' && format !== undefined)
      throw new HttpError(400, `service ${service}: ascii secret ${match[1]} takes no encoding (:${format})`);
    if (secret.kind === 'binary' && format !== undefined && format !== 'hex' && format !== 'base64') {
      throw new HttpError(400, `service ${service}: unknown encoding :${format} of secret ${match[1]}`);
    }
  }
}

function validateSession(doc: SessionDoc): string {
  if (!doc || typeof doc !== 'object') throw new HttpError(400, 'the session must be a YAML mapping');
  if (typeof doc.name !== 'string' || !NAME.test(doc.name))
    throw new HttpError(400, 'invalid session name: expected [A-Za-z0-9_-.~]{1,128}');
  if (doc.version !== undefined && !/^0\.[123]$|^0\.3\.[0-9]{1,3}$/.test(String(doc.version))) {
    throw new HttpError(400, `unsupported session version ${String(doc.version)}`);
  }
  const list = services(doc);
  if (list.length === 0) throw new HttpError(400, 'the session has no services');
  const secrets = secretsOf(doc);
  for (const [name, secret] of secrets) {
    if (!['ascii', 'binary'].includes(secret.kind)) throw new HttpError(400, `secret ${name}: the emulator knows kinds ascii and binary`);
    if (secret.kind === 'binary' && !HEX_BYTES.test(secret.value)) throw new HttpError(400, `secret ${name}: a binary value must be hex`);
  }
  for (const service of list) {
    if (typeof service?.name !== 'string' || !NAME.test(service.name)) throw new HttpError(400, 'invalid service name');
    for (const m of mrenclavesOf(service)) {
      if (!/^[0-9a-f]{64}$/.test(m)) throw new HttpError(400, `service ${service.name}: mrenclave must be 64 hex characters`);
    }
    const env = service.environment;
    if (env !== undefined && (env === null || typeof env !== 'object' || Array.isArray(env))) {
      throw new HttpError(400, `service ${service.name}: environment must be a mapping`);
    }
    for (const value of Object.values((env ?? {}) as Record<string, unknown>)) checkSecretUse(service.name, String(value), secrets);
  }
  for (const which of ['read', 'update'] as const) {
    for (const entry of policyOf(doc, which)) {
      if (!['CREATOR', 'ANY', 'NONE'].includes(entry))
        throw new HttpError(400, `access_policy.${which}: unsupported entry (emulator knows CREATOR, ANY, NONE)`);
    }
  }
  return doc.name;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'session too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const listHeader = (req: IncomingMessage, name: string): string[] =>
  String(req.headers[name] ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** Documented: the CAS accepts only production-mode enclaves on trustworthy, up-to-date platforms unless the session's
 *  `security.attestation.tolerate` / `ignore_advisories` list the exception. The emulated enclave states its platform's
 *  properties (X-Emulated-Platform: debug-mode,hyperthreading,...) and advisories (X-Emulated-Advisories). */
function refuseUntolerated(doc: SessionDoc, req: IncomingMessage, configId: string): void {
  const attestation = ((doc as Record<string, unknown>).security as Record<string, Record<string, unknown>> | undefined)?.attestation ?? {};
  const tolerated = Array.isArray(attestation.tolerate) ? attestation.tolerate.map(String) : [];
  const ignored = Array.isArray(attestation.ignore_advisories)
    ? attestation.ignore_advisories.map(String)
    : attestation.ignore_advisories === '*'
      ? ['*']
      : [];
  const properties = listHeader(req, 'x-emulated-platform').filter((p) => !tolerated.includes(p));
  const advisories = ignored.includes('*') ? [] : listHeader(req, 'x-emulated-advisories').filter((a) => !ignored.includes(a));
  if (properties.length + advisories.length > 0) {
    throw new HttpError(403, `attestation refused for ${configId}: not tolerated: ${[...properties, ...advisories].join(', ')}`);
  }
}

/** The client's identity: SHA-256 of its certificate's public key (SubjectPublicKeyInfo, DER). */
function fingerprintOf(req: IncomingMessage): string | null {
  const socket = req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
  if (!peer?.raw) return null;
  const spki = new X509Certificate(peer.raw).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** The stored session as the CAS gives it back (see the header: inferred normalisation). */
function normalised(stored: StoredSession): string {
  const doc = parseYaml(stored.yaml) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...doc, predecessor: doc.predecessor ?? null, creator: stored.creator, persistency: 'None' };
  if (Array.isArray(doc.services)) {
    out.services = (doc.services as Array<Record<string, unknown>>).map((service) => {
      const { mrenclaves, ...rest } = service;
      return Array.isArray(mrenclaves) ? { ...rest, attestation: [{ mrenclave: mrenclaves }] } : service;
    });
  }
  return new Document(out).toString({ lineWidth: 0 });
}

export async function startPalaemonEmulator(options: PalaemonEmulatorOptions): Promise<PalaemonEmulator> {
  const log = options.logger ?? createLogger({ component: 'palaemon-emulator' }, { level: 'warn' });
  const sessions = loadState(options.stateDir);
  const attested: string[] = [];
  const host = options.host ?? '127.0.0.1';

  const send = (res: ServerResponse, status: number, body: string, type: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json');

  const attest = (res: ServerResponse, req: IncomingMessage, sessionName: string, serviceName: string) => {
    const presented = String(req.headers['x-emulated-mrenclave'] ?? '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(presented)) throw new HttpError(400, 'X-Emulated-Mrenclave header with 64 hex characters is required');
    const stored = sessions.get(sessionName);
    if (!stored) throw new HttpError(404, `session ${sessionName} not found`);
    const doc = parseYaml(stored.yaml) as SessionDoc;
    const service = services(doc).find((s) => s.name === serviceName);
    if (!service) throw new HttpError(404, `service ${serviceName} not found in session ${sessionName}`);
    if (!mrenclavesOf(service).includes(presented)) throw new HttpError(403, `mrenclave not permitted for ${sessionName}/${serviceName}`);
    refuseUntolerated(doc, req, `${sessionName}/${serviceName}`);
    const secrets = secretsOf(doc);
    const environment = Object.fromEntries(
      Object.entries((service.environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, substitute(String(v), secrets)]),
    );
    log.info('emulated attestation granted', { session: sessionName, service: serviceName });
    attested.push(`${sessionName}/${serviceName}`);
    sendJson(res, 200, {
      config_id: `${sessionName}/${serviceName}`,
      command: service.command ?? null,
      pwd: service.pwd ?? null,
      environment,
      fspf_path: service.fspf_path ?? null,
      fspf_key: service.fspf_key ?? null,
      fspf_tag: service.fspf_tag ?? null,
    });
  };

  const createOrUpdate = (res: ServerResponse, body: string, fingerprint: string) => {
    if (body.trim().length === 0) throw new HttpError(400, 'empty session');
    let doc: SessionDoc;
    try {
      doc = parseYaml(body) as SessionDoc;
    } catch (error) {
      const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
      throw new HttpError(400, `invalid session YAML${line ? ` at line ${line}` : ''}`);
    }
    const name = validateSession(doc);
    const existing = sessions.get(name);
    const given = typeof doc.predecessor === 'string' && doc.predecessor.length > 0 ? doc.predecessor : null;
    const current = existing ? `Some("${existing.hash}")` : 'None';
    const wanted = given ? `Some("${given}")` : 'None';
    if ((existing?.hash ?? null) !== given) {
      throw new HttpError(400, `Could not create successor session. Invalid previous session digest: ${current} != ${wanted}`, true);
    }
    if (existing && !allowed(existing, 'update', fingerprint)) {
      throw new HttpError(403, `access denied: this client certificate may not update session ${name}`);
    }
    const hash = createHash('sha256').update(body).digest('hex');
    sessions.set(name, { yaml: body, hash, creator: existing?.creator ?? fingerprint });
    saveState(options.stateDir, sessions);
    log.info(existing ? 'session updated' : 'session created', { session: name, hash });
    send(res, 201, `Created Session[id=${hash}, name=${name}, status=Pending]`, 'text/plain; charset=utf-8');
  };

  const readable = (name: string, fingerprint: string): StoredSession => {
    if (!NAME.test(name)) throw new HttpError(400, 'invalid session name');
    const stored = sessions.get(name);
    if (!stored) throw new HttpError(404, `session ${name} not found`);
    if (!allowed(stored, 'read', fingerprint))
      throw new HttpError(403, `access denied: this client certificate may not read session ${name}`);
    return stored;
  };

  const route = async (req: IncomingMessage, res: ServerResponse, attestationOnly: boolean) => {
    const url = new URL(req.url ?? '/', 'https://cas.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const attestMatch = /^\/v1\/attest\/([^/]+)\/([^/]+)$/.exec(path);
    if (attestMatch && method === 'GET') {
      return attest(res, req, decodeURIComponent(attestMatch[1]), decodeURIComponent(attestMatch[2]));
    }
    if (attestationOnly) throw new HttpError(404, 'not found');
    const fingerprint = fingerprintOf(req);
    if (!fingerprint) throw new HttpError(401, 'a client certificate is required');
    if (path === '/session' || path === '/session/') {
      if (method === 'POST') return createOrUpdate(res, await readBody(req), fingerprint);
      if (method === 'GET') throw new HttpError(400, 'no session name given');
      throw new HttpError(405, 'method not allowed');
    }
    const textRead = /^\/session\/([^/]+)$/.exec(path);
    if (textRead && method === 'GET') {
      const stored = readable(decodeURIComponent(textRead[1]), fingerprint);
      return send(res, 200, normalised(stored), 'application/x-yaml; charset=utf-8');
    }
    const jsonRead = /^\/v1\/sessions\/([^/]+)$/.exec(path);
    if (jsonRead && method === 'GET') {
      const stored = readable(decodeURIComponent(jsonRead[1]), fingerprint);
      return sendJson(res, 200, { session: normalised(stored), hash: stored.hash });
    }
    throw new HttpError(404, 'not found');
  };

  const handler = (attestationOnly: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    route(req, res, attestationOnly).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError) {
        if (error.text) return send(res, error.status, error.message, 'text/plain; charset=utf-8');
        return sendJson(res, error.status, { msg: [error.message] });
      }
      log.error('palaemon emulator failure', { error_message: error instanceof Error ? error.message : String(error) });
      sendJson(res, 500, { msg: ['internal error'] });
    });
  };

  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });

  const tls = { ca: options.tls.ca as string | Buffer | Array<string | Buffer>, cert: options.tls.cert, key: options.tls.key };
  const main = createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, handler(false));
  main.on('tlsClientError', () => undefined);
  const port = await listen(main, options.port ?? 0);
  let attestation: Server | undefined;
  let attestationPort: number | undefined;
  if (options.attestationPort !== undefined) {
    attestation = createServer({ ...tls, requestCert: false }, handler(true));
    attestation.on('tlsClientError', () => undefined);
    attestationPort = await listen(attestation, options.attestationPort);
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `https://${urlHost}:${port}`,
    port,
    attestationUrl: attestationPort !== undefined ? `https://${urlHost}:${attestationPort}` : undefined,
    casAddress: `${urlHost}:${port}:${attestationPort ?? port}`,
    attested,
    close: async () => {
      await Promise.all([close(main), ...(attestation ? [close(attestation)] : [])]);
    },
  };
}
