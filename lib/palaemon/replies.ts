/**
 * Parsing of CAS replies (protocols.md §4): create/update answers in text or JSON, and errors as
 * `{"msg": [...]}` JSON or plain text. Messages are cut to a readable length and scrubbed of
 * session values (a CAS may echo the YAML it rejected).
 */
import { parse as parseYaml } from 'yaml';
import { RadiomicsError } from '#lib/errors.js';

export type CasErrorKind =
  /** Creating a name that exists: `... Invalid previous session digest: Some("…") != None`. */
  | 'exists'
  /** An update whose predecessor is not the current hash. */
  | 'predecessor_mismatch'
  | 'not_found'
  | 'forbidden'
  | 'rejected';

/** A 4xx from the CAS: the request will not succeed when repeated. */
export class CasRequestError extends RadiomicsError {
  override readonly name = 'CasRequestError';
  constructor(
    status: number,
    readonly kind: CasErrorKind,
    /** The CAS's own words, scrubbed. */
    readonly casMessage: string,
    message: string,
  ) {
    super(status, `cas_${kind}`, message);
  }
}

/** The session exists with content other than what we asked for. */
export class SessionConflict extends RadiomicsError {
  override readonly name = 'SessionConflict';
  constructor(
    readonly sessionName: string,
    readonly hash: string,
  ) {
    super(409, 'session_conflict', `session ${sessionName} already exists with different content (hash ${hash})`);
  }
}

export interface CreatedSession {
  hash: string;
  /** Present when the CAS says it (text replies carry it). */
  name?: string;
  /** Present when the CAS says it, e.g. `Pending`. */
  status?: string;
}

const CREATED = /Created Session\[id=([^,\]\s]+),\s*name=([^,\]]*),\s*status=([^\]]*)\]/;
const MAX_MESSAGE = 400;

/** `Created Session[id=<hash>, name=<name>, status=Pending]` or `{"hash": "..."}`; null when neither. */
export function parseCreateReply(body: string): CreatedSession | null {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      if (typeof json.hash === 'string' && json.hash.length > 0) {
        const out: CreatedSession = { hash: json.hash };
        if (typeof json.name === 'string') out.name = json.name;
        if (typeof json.status === 'string') out.status = json.status;
        return out;
      }
    } catch {
      return null;
    }
    return null;
  }
  const m = CREATED.exec(text);
  if (!m) return null;
  return { hash: m[1], name: m[2].trim(), status: m[3].trim() };
}

/** The CAS's message from an error body: `{"msg": [...]}` joined with `; `, other JSON's `msg`/`message`/`error`, or the text. */
export function casErrorMessage(body: string): string {
  const text = body.trim();
  let message = text;
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      const msg = json.msg ?? json.message ?? json.error;
      if (Array.isArray(msg)) message = msg.map(String).join('; ');
      else if (typeof msg === 'string') message = msg;
    } catch {
      // not JSON after all: keep the text
    }
  }
  message = message.replace(/\s+/g, ' ').trim();
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE)}…`;
  return message;
}

export function classifyCasError(status: number, message: string): CasErrorKind {
  const digest = /Invalid previous session digest:\s*(Some\("?([^")]*)"?\)|None)\s*!=\s*(Some\("?([^")]*)"?\)|None)/.exec(message);
  if (digest) {
    if (digest[1] !== 'None' && digest[3] === 'None') return 'exists';
    return 'predecessor_mismatch';
  }
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'forbidden';
  return 'rejected';
}

/** String values of a session that must not appear in messages: environment values and secret values. */
export function sessionSensitiveValues(yaml: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(yaml);
  } catch {
    return [];
  }
  const out: string[] = [];
  const root = (doc ?? {}) as Record<string, unknown>;
  const services = Array.isArray(root.services) ? root.services : [];
  for (const service of services) {
    const env = (service as Record<string, unknown>)?.environment;
    if (env && typeof env === 'object') {
      for (const v of Object.values(env)) if (typeof v === 'string') out.push(v);
    }
    const key = (service as Record<string, unknown>)?.fspf_key;
    if (typeof key === 'string') out.push(key);
  }
  const secrets = Array.isArray(root.secrets) ? root.secrets : [];
  for (const secret of secrets) {
    const v = (secret as Record<string, unknown>)?.value;
    if (typeof v === 'string') out.push(v);
  }
  return out.filter((v) => v.length >= 6 && !/^\$\$SCONE::[A-Za-z0-9_:]+\$\$$/.test(v));
}

export function scrub(message: string, sensitive: readonly string[]): string {
  let out = message;
  for (const value of [...sensitive].sort((a, b) => b.length - a.length)) {
    if (value.length > 0) out = out.split(value).join('[redacted]');
  }
  return out;
}
