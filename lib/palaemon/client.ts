/**
 * `SessionAuthority`: what the batch function needs from a Palaemon / SCONE CAS, and `PalaemonClient`,
 * its HTTPS implementation (protocols.md §4). TLS verification is always on against a pinned CA; the
 * client authenticates with its certificate (mTLS), which is also what owns the sessions it creates.
 * - unreachable, timed out, 5xx → RetryableError
 * - 4xx → CasRequestError (kind: exists, predecessor_mismatch, not_found, forbidden, rejected)
 * - TLS handshake or certificate failures → ConfigError (a wrong CA, certificate or key does not heal by retrying)
 */
import { request as httpsRequest } from 'node:https';
import { parse as parseYaml } from 'yaml';
import { ConfigError, RetryableError } from '#lib/errors.js';
import type { Logger } from '#lib/log.js';
import { parseCasAddress } from './address.js';
import {
  CasRequestError,
  casErrorMessage,
  classifyCasError,
  parseCreateReply,
  scrub,
  sessionSensitiveValues,
  type CreatedSession,
} from './replies.js';
import { SessionInputError, validateSessionName } from './session.js';

export interface CallOptions {
  signal?: AbortSignal;
}

export interface StoredSession {
  /** The session YAML as the CAS returns it (normalised: it may add fields and reshape some). */
  session: string;
  /** Absent when the CAS does not say it (the docs do not promise it). */
  hash?: string;
}

export interface SessionAuthority {
  /** Resolves when the CAS answers its liveness probe (`GET /session` → 400 or 404). */
  check(options?: CallOptions): Promise<void>;
  create(yaml: string, options?: CallOptions): Promise<CreatedSession>;
  /** The session YAML (`GET /session/<name>`). */
  read(name: string, options?: CallOptions): Promise<string>;
  /** The session YAML and, when given, its hash (`GET /v1/sessions/<name>`, newer CAS versions). */
  readWithHash(name: string, options?: CallOptions): Promise<StoredSession>;
  /** POSTs a session YAML that carries `predecessor: <current hash>`. */
  update(yaml: string, options?: CallOptions): Promise<CreatedSession>;
}

export interface PalaemonTls {
  /** PEM of the CA (or CAs) that signed the CAS's server certificate. Pinned: the system store is not used. */
  ca: string | Buffer | ReadonlyArray<string | Buffer>;
  /** PEM client certificate; its owner owns the sessions it creates. */
  cert: string | Buffer;
  /** PEM private key of the client certificate. */
  key: string | Buffer;
  /** The name the CAS certificate carries when it differs from the address's host (commonly `cas`: the SCONE
   *  docs connect with `--connect-to cas:8081:$CAS_ADDR:8081`). Verified against the pinned CA. */
  servername?: string;
}

export interface PalaemonClientOptions {
  /** `host:restPort:attestationPort`; or give `baseUrl`. */
  casAddress?: string;
  /** e.g. `https://127.0.0.1:8081`. */
  baseUrl?: string;
  tls: PalaemonTls;
  /** Per request; default 10 000. */
  timeoutMs?: number;
  logger?: Logger;
}

interface Reply {
  status: number;
  body: string;
  contentType: string;
}

const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

function isTlsFailure(code: string | undefined): boolean {
  if (!code) return false;
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO';
}

export class PalaemonClient implements SessionAuthority {
  readonly baseUrl: string;
  private readonly tls: PalaemonTls;
  private readonly timeoutMs: number;
  private readonly logger?: Logger;

  constructor(options: PalaemonClientOptions) {
    if (options.baseUrl) {
      const url = new URL(options.baseUrl);
      if (url.protocol !== 'https:') throw new ConfigError('the CAS base URL must use https');
      this.baseUrl = url.origin;
    } else if (options.casAddress) {
      this.baseUrl = parseCasAddress(options.casAddress).restUrl;
    } else {
      throw new ConfigError('PalaemonClient needs casAddress (host:restPort:attestationPort) or baseUrl');
    }
    if (!options.tls?.ca || !options.tls.cert || !options.tls.key) {
      throw new ConfigError('PalaemonClient needs tls.ca, tls.cert and tls.key (mTLS with a pinned CA)');
    }
    this.tls = options.tls;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger;
  }

  async check(options: CallOptions = {}): Promise<void> {
    const reply = await this.send('GET', '/session', undefined, options);
    if (reply.status === 400 || reply.status === 404) return;
    throw new RetryableError(`CAS liveness check failed: GET /session answered ${reply.status} (expected 400 or 404)`);
  }

  async create(yaml: string, options: CallOptions = {}): Promise<CreatedSession> {
    return this.post(yaml, 'create', options);
  }

  async update(yaml: string, options: CallOptions = {}): Promise<CreatedSession> {
    let predecessor: unknown;
    try {
      predecessor = (parseYaml(yaml) as Record<string, unknown> | null)?.predecessor;
    } catch {
      predecessor = undefined;
    }
    if (typeof predecessor !== 'string' || predecessor.length === 0) {
      throw new SessionInputError('invalid_predecessor', 'an update must carry predecessor: <hash of the current session>');
    }
    return this.post(yaml, 'update', options);
  }

  async read(name: string, options: CallOptions = {}): Promise<string> {
    validateSessionName(name);
    const reply = await this.send('GET', `/session/${encodeURIComponent(name)}`, undefined, options);
    this.throwUnlessOk(reply, `read session ${name}`, []);
    return reply.body;
  }

  async readWithHash(name: string, options: CallOptions = {}): Promise<StoredSession> {
    validateSessionName(name);
    const reply = await this.send('GET', `/v1/sessions/${encodeURIComponent(name)}`, undefined, options);
    this.throwUnlessOk(reply, `read session ${name}`, []);
    let json: unknown;
    try {
      json = JSON.parse(reply.body);
    } catch {
      throw new RetryableError(`CAS answered GET /v1/sessions/${name} with a body that is not JSON`);
    }
    const { session, hash } = (json ?? {}) as Record<string, unknown>;
    if (typeof session !== 'string') {
      throw new RetryableError(`CAS answered GET /v1/sessions/${name} without string field session`);
    }
    return typeof hash === 'string' && hash.length > 0 ? { session, hash } : { session };
  }

  private async post(yaml: string, action: 'create' | 'update', options: CallOptions): Promise<CreatedSession> {
    let name = '(unnamed)';
    try {
      const parsed = parseYaml(yaml) as Record<string, unknown> | null;
      if (typeof parsed?.name === 'string') name = parsed.name;
    } catch {
      throw new SessionInputError('invalid_session_name', `cannot ${action} session: the body is not valid YAML`);
    }
    const reply = await this.send('POST', '/session', yaml, options, 'application/x-yaml');
    this.throwUnlessOk(reply, `${action} session ${name}`, sessionSensitiveValues(yaml));
    const created = parseCreateReply(reply.body);
    if (!created) {
      throw new RetryableError(`CAS accepted ${action} of session ${name} (status ${reply.status}) but the reply carries no hash`);
    }
    this.logger?.info('cas session stored', { action, session: name, hash: created.hash });
    return created;
  }

  private throwUnlessOk(reply: Reply, what: string, sensitive: readonly string[]): void {
    if (reply.status === 200 || reply.status === 201) return;
    const casMessage = scrub(casErrorMessage(reply.body), sensitive);
    const detail = casMessage ? `: ${casMessage}` : '';
    if (reply.status >= 500) {
      throw new RetryableError(`CAS failed to ${what}: ${reply.status}${detail}`);
    }
    if (reply.status >= 400) {
      const kind = classifyCasError(reply.status, casMessage);
      throw new CasRequestError(reply.status, kind, casMessage, `CAS refused to ${what}: ${reply.status}${detail}`);
    }
    throw new RetryableError(`CAS answered ${what} with unexpected status ${reply.status}`);
  }

  private send(method: string, path: string, body: string | undefined, options: CallOptions, contentType?: string): Promise<Reply> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const url = new URL(path, this.baseUrl);
    return new Promise<Reply>((resolve, reject) => {
      if (signal.aborted) {
        reject(this.abortError(signal, options.signal, method, path));
        return;
      }
      const headers: Record<string, string> = { accept: 'application/json, text/plain, */*' };
      if (body !== undefined) {
        headers['content-type'] = contentType ?? 'text/plain';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const req = httpsRequest(
        url,
        {
          method,
          headers,
          ca: this.tls.ca as string | Buffer | Array<string | Buffer>,
          cert: this.tls.cert,
          key: this.tls.key,
          servername: this.tls.servername,
          rejectUnauthorized: true,
          agent: false,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_REPLY_BYTES) {
              req.destroy(new RetryableError(`CAS reply to ${method} ${path} exceeds ${MAX_REPLY_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              contentType: String(res.headers['content-type'] ?? ''),
            }),
          );
          res.on('error', (error) => reject(this.mapError(error, signal, options.signal, method, path)));
        },
      );
      req.on('error', (error) => reject(this.mapError(error, signal, options.signal, method, path)));
      req.end(body);
    });
  }

  private abortError(signal: AbortSignal, caller: AbortSignal | undefined, method: string, path: string): Error {
    if (caller?.aborted) {
      return new RetryableError(`CAS request ${method} ${path} was aborted`, { cause: caller.reason });
    }
    return new RetryableError(`CAS request ${method} ${path} timed out after ${this.timeoutMs} ms`, { cause: signal.reason });
  }

  private mapError(error: unknown, signal: AbortSignal, caller: AbortSignal | undefined, method: string, path: string): Error {
    if (error instanceof RetryableError) return error;
    if (signal.aborted) return this.abortError(signal, caller, method, path);
    const code = (error as NodeJS.ErrnoException)?.code;
    const text = typeof (error as Error)?.message === 'string' ? (error as Error).message : String(error);
    if (isTlsFailure(code)) {
      return new ConfigError(
        `TLS with the CAS at ${this.baseUrl} failed (${code}): ${text}. Check the pinned CA and the client certificate and key`,
      );
    }
    return new RetryableError(`CAS at ${this.baseUrl} is unreachable (${code ?? 'error'}): ${text}`, { cause: error });
  }
}
