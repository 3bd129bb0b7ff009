/**
 * Idempotent session provisioning for the batch function: create the session; if the CAS refuses (a crash between
 * create and recording the hash, then a retry), read it back and accept it when it holds what we asked for. The
 * read succeeds only for the creator (default policy), so "it is ours" is proven by the CAS itself.
 *
 * Nothing here relies on what the SCONE docs do not promise:
 * - the wording of the "already exists" error: any refused create is followed by a read-back, and a session that
 *   cannot be found re-raises the create's own error;
 * - a `hash` field in `GET /v1/sessions/<name>` (newer CAS only): without it, or without that endpoint, the session
 *   is read from `GET /session/<name>` and the hash is taken from the create error's digest text when it has one;
 * - the read-back's shape: the CAS normalises the stored session (adds `creator`, `persistency`, `predecessor: null`,
 *   may move MRENCLAVEs into an `attestation` section, may withhold secret values), so only the fields this project
 *   sets are compared, in a canonical form.
 */
import { parse as parseYaml } from 'yaml';
import { RetryableError } from '#lib/errors.js';
import type { CallOptions, SessionAuthority, StoredSession } from './client.js';
import { CasRequestError, SessionConflict } from './replies.js';
import { SessionInputError } from './session.js';

export interface EnsuredSession {
  name: string;
  /** The session hash, when the CAS told it (always on create). */
  hash?: string;
  /** false when the session existed with the same content. */
  created: boolean;
}

type Doc = Record<string, unknown>;

const asDoc = (value: unknown): Doc => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Doc) : {});
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]);
const text = (value: unknown): string | undefined => (value === undefined || value === null ? undefined : String(value));
const sortedStrings = (values: unknown[]): string[] => values.map((v) => String(v).toLowerCase()).sort();

/** MRENCLAVEs from `mrenclaves: [...]` and from an `attestation` section (a map or a list of maps). */
function mrenclavesOf(service: Doc): string[] {
  const found: unknown[] = [...asList(service.mrenclaves)];
  for (const entry of asList(service.attestation)) found.push(...asList(asDoc(entry).mrenclave));
  return sortedStrings(found);
}

function serviceFields(service: Doc): Doc {
  const environment = Object.fromEntries(
    Object.entries(asDoc(service.environment))
      .map(([k, v]) => [k, String(v)])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return {
    name: text(service.name),
    image_name: text(service.image_name),
    mrenclaves: mrenclavesOf(service),
    command: text(service.command),
    pwd: text(service.pwd),
    environment,
    fspf_tag: text(service.fspf_tag)?.toLowerCase(),
    fspf_key: text(service.fspf_key)?.toLowerCase(),
    fspf_path: text(service.fspf_path),
  };
}

/** The fields this project sets, canonical: what a CAS adds or reshapes on read-back does not count. */
export function projectFields(doc: unknown, withSecretValues = true): Doc {
  const d = asDoc(doc);
  const attestation = asDoc(asDoc(d.security).attestation);
  return {
    name: text(d.name),
    services: asList(d.services).map((s) => serviceFields(asDoc(s))),
    secrets: asList(d.secrets)
      .map((s) => asDoc(s))
      .map((s) => ({ name: text(s.name), kind: text(s.kind), ...(withSecretValues ? { value: text(s.value) } : {}) }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    attestation_mode: text(attestation.mode) ?? 'hardware',
    tolerate: sortedStrings(asList(attestation.tolerate)),
    ignore_advisories: sortedStrings(asList(attestation.ignore_advisories)),
  };
}

/** True when the stored session holds every field we set with the same value. Secret values are compared only
 *  when the CAS returns them. */
export function sameSession(stored: unknown, wanted: unknown): boolean {
  const storedSecrets = asList(asDoc(stored).secrets).map(asDoc);
  const valuesShown = storedSecrets.length > 0 && storedSecrets.every((s) => s.value !== undefined);
  // canonical JSON: the projections are built key by key in one order (and structural, whatever realm made them)
  return JSON.stringify(projectFields(stored, valuesShown)) === JSON.stringify(projectFields(wanted, valuesShown));
}

function digestOf(error: CasRequestError): string | undefined {
  return /Some\("?([0-9A-Za-z]+)"?\)\s*!=\s*None/.exec(error.casMessage)?.[1];
}

async function readBack(authority: SessionAuthority, name: string, refused: CasRequestError, options: CallOptions): Promise<StoredSession> {
  try {
    return await authority.readWithHash(name, options);
  } catch (error) {
    const endpointMissing = error instanceof CasRequestError && error.status === 404;
    const notJson = error instanceof RetryableError && /not JSON|without string field/.test(error.message);
    if (!endpointMissing && !notJson) throw error;
  }
  let session: string;
  try {
    session = await authority.read(name, options);
  } catch (error) {
    if (error instanceof CasRequestError && error.status === 404) throw refused;
    throw error;
  }
  return { session, hash: digestOf(refused) };
}

export async function ensureSession(authority: SessionAuthority, yaml: string, options: CallOptions = {}): Promise<EnsuredSession> {
  let wanted: Doc;
  try {
    wanted = asDoc(parseYaml(yaml));
  } catch {
    throw new SessionInputError('invalid_session_name', 'ensureSession: the session is not valid YAML');
  }
  const name = wanted.name;
  if (typeof name !== 'string') throw new SessionInputError('invalid_session_name', 'ensureSession: the session has no name');
  let refused: CasRequestError;
  try {
    const created = await authority.create(yaml, options);
    return { name, hash: created.hash, created: true };
  } catch (error) {
    if (!(error instanceof CasRequestError)) throw error;
    refused = error;
  }
  const stored = await readBack(authority, name, refused, options);
  let storedDoc: unknown;
  try {
    storedDoc = parseYaml(stored.session);
  } catch {
    throw new SessionConflict(name, stored.hash ?? 'unknown');
  }
  if (!sameSession(storedDoc, wanted)) throw new SessionConflict(name, stored.hash ?? 'unknown');
  return stored.hash === undefined ? { name, created: false } : { name, hash: stored.hash, created: false };
}
