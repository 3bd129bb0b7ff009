/**
 * Palaemon / SCONE CAS emulator, for tests and the local stack.
 *
 * Emulates (protocols.md §4), over HTTPS with a REQUIRED client certificate signed by the local CA:
 * - `POST /session` with a session YAML (tutorial format or `version: "0.3"`). Replies
 *   `201 Created Session[id=<sha256 hex of the body>, name=<name>, status=Pending]` (text/plain).
 *   Predecessor rules: creating an existing name, or updating with a hash other than the current one, answers
 *   400 text `Could not create successor session. Invalid previous session digest: Some("<current>") != None`
 *   (or `!= Some("<given>")`; `None != Some("<given>")` for an update of a missing session).
 * - Ownership: the creator is the SHA-256 fingerprint of the client certificate. `access_policy` entries
 *   CREATOR, ANY and NONE are honoured (default `{read: [CREATOR], update: [CREATOR]}`); others answer 403.
 * - `GET /session` → 400 (the tutorial's liveness probe), `GET /session/<name>` → the YAML as posted,
 *   `GET /v1/sessions/<name>` → `{"session", "hash"}`. Errors are `{"msg": ["…"]}` JSON (404, 403, 400).
 * - Sessions persist in `<stateDir>/palaemon-sessions.json` when `stateDir` is given.
 *
 * EMULATED ATTESTATION (stands in for SGX attestation and proves NOTHING):
 * `GET /v1/attest/<session>/<service>` with header `X-Emulated-Mrenclave: <64 hex>` answers the service's
 * `{config_id, command, pwd, environment, fspf_path, fspf_key, fspf_tag}` with `$$SCONE::NAME$$` secret references
 * substituted (`$$SCONE::NAME:hex$$` and `:base64$$` too; a binary secret without a suffix gives its base64),
 * but only if the presented value is in the service's MRENCLAVE list. Any local process can present any
 * value: this only lets local SIM/HW-emulation runs exercise the same session and configuration path.
 * It is served on the main port (client certificate required) and, if `attestationPort` is given, on a second
 * HTTPS port that asks for no client certificate, like a CAS's separate attestation port.
 *
 * Not emulated: the real CAS's session language checks beyond the above, volumes, x509 secret generation,
 * signer-based attestation, LAS, quotes, TCB policies, exact status codes of the real CAS for digest errors
 * (unconfirmed; 400 here) and the real hash algorithm (SHA-256 of the posted bytes here).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createLogger, type Logger } from '../lib/log.js';

export interface PalaemonEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Server certificate and key, and the CA (or CAs) whose client certificates are accepted. */
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
const REFERENCE = /\$\$SCONE::([A-Za-z0-9_]+)(?::(hex|base64))?\$\$/g;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly text = false) {
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
    const bytes = secret.kind === 'binary' ? Buffer.from(secret.value, 'base64') : Buffer.from(secret.value, 'utf8');
    if (format === 'hex') return bytes.toString('hex');
    if (format === 'base64') return bytes.toString('base64');
    return secret.kind === 'binary' ? bytes.toString('base64') : secret.value;
  });
}

function validateSession(doc: SessionDoc): string {
  if (!doc || typeof doc !== 'object') throw new HttpError(400, 'the session must be a YAML mapping');
  if (typeof doc.name !== 'string' || !NAME.test(doc.name)) throw new HttpError(400, 'invalid session name: expected [A-Za-z0-9_-.~]{1,128}');
  if (doc.version !== undefined && !['0.1', '0.2', '0.3'].includes(String(doc.version))) {
    throw new HttpError(400, `unsupported session version ${String(doc.version)}`);
  }
  const list = services(doc);
  if (list.length === 0) throw new HttpError(400, 'the session has no services');
  const secrets = secretsOf(doc);
  for (const service of list) {
    if (typeof service?.name !== 'string' || !NAME.test(service.name)) throw new HttpError(400, 'invalid service name');
    for (const m of mrenclavesOf(service)) {
      if (!/^[0-9a-f]{64}$/.test(m)) throw new HttpError(400, `service ${service.name}: mrenclave must be 64 hex characters`);
    }
    const env = service.environment;
    if (env !== undefined && (env === null || typeof env !== 'object' || Array.isArray(env))) {
      throw new HttpError(400, `service ${service.name}: environment must be a mapping`);
    }
    for (const value of Object.values((env ?? {}) as Record<string, unknown>)) {
      for (const match of String(value).matchAll(REFERENCE)) {
        if (!secrets.has(match[1])) throw new HttpError(400, `service ${service.name}: environment references undefined secret ${match[1]}`);
      }
    }
  }
  for (const which of ['read', 'update'] as const) {
    for (const entry of policyOf(doc, which)) {
      if (!['CREATOR', 'ANY', 'NONE'].includes(entry)) throw new HttpError(400, `access_policy.${which}: unsupported entry (emulator knows CREATOR, ANY, NONE)`);
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

function fingerprintOf(req: IncomingMessage): string | null {
  const socket = req.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
  if (!peer || !peer.fingerprint256) return null;
  return peer.fingerprint256.replace(/:/g, '').toLowerCase();
}

export async function startPalaemonEmulator(options: PalaemonEmulatorOptions): Promise<PalaemonEmulator> {
  const log = options.logger ?? createLogger({ component: 'palaemon-emulator' }, { level: 'warn' });
  const sessions = loadState(options.stateDir);
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
    const secrets = secretsOf(doc);
    const environment = Object.fromEntries(
      Object.entries((service.environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, substitute(String(v), secrets)]),
    );
    log.info('emulated attestation granted', { session: sessionName, service: serviceName });
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
    if (!allowed(stored, 'read', fingerprint)) throw new HttpError(403, `access denied: this client certificate may not read session ${name}`);
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
      return send(res, 200, stored.yaml, 'application/x-yaml; charset=utf-8');
    }
    const jsonRead = /^\/v1\/sessions\/([^/]+)$/.exec(path);
    if (jsonRead && method === 'GET') {
      const stored = readable(decodeURIComponent(jsonRead[1]), fingerprint);
      return sendJson(res, 200, { session: stored.yaml, hash: stored.hash });
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
  const main = createServer({ ...tls, requestCert: true, rejectUnauthorized: true }, handler(false));
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
    close: async () => {
      await Promise.all([close(main), ...(attestation ? [close(attestation)] : [])]);
    },
  };
}
