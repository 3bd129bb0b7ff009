/**
 * Idempotent session provisioning for the batch function: create the session; if it already exists
 * (a crash between create and recording the hash, then a retry), read it back and accept it when it
 * holds what we asked for. The read succeeds only for the creator (default policy), so "it is ours"
 * is proven by the CAS itself.
 */
import { parse as parseYaml } from 'yaml';
import type { CallOptions, SessionAuthority } from './client.js';
import { CasRequestError, SessionConflict } from './replies.js';
import { SessionInputError } from './session.js';

export interface EnsuredSession {
  name: string;
  hash: string;
  /** false when the session existed with the same content. */
  created: boolean;
}

/** Fields that differ between what is posted and what is stored without changing the content. */
const IGNORED_TOP_LEVEL = new Set(['predecessor', 'digest']);

/** True when every field we set is stored with the same value (a CAS may add defaults). */
export function sessionContains(stored: unknown, wanted: unknown): boolean {
  if (wanted === null || typeof wanted !== 'object') {
    if (typeof wanted === 'string' && typeof stored === 'string') return wanted === stored;
    return Object.is(wanted, stored) || String(wanted) === String(stored);
  }
  if (Array.isArray(wanted)) {
    return Array.isArray(stored) && stored.length === wanted.length && wanted.every((w, i) => sessionContains(stored[i], w));
  }
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return false;
  const s = stored as Record<string, unknown>;
  return Object.entries(wanted as Record<string, unknown>).every(([k, v]) => sessionContains(s[k], v));
}

function withoutIgnored(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !IGNORED_TOP_LEVEL.has(k)));
}

export async function ensureSession(authority: SessionAuthority, yaml: string, options: CallOptions = {}): Promise<EnsuredSession> {
  let wanted: Record<string, unknown>;
  try {
    wanted = parseYaml(yaml) as Record<string, unknown>;
  } catch {
    throw new SessionInputError('invalid_session_name', 'ensureSession: the session is not valid YAML');
  }
  const name = wanted?.name;
  if (typeof name !== 'string') throw new SessionInputError('invalid_session_name', 'ensureSession: the session has no name');
  try {
    const created = await authority.create(yaml, options);
    return { name, hash: created.hash, created: true };
  } catch (error) {
    if (!(error instanceof CasRequestError) || error.kind !== 'exists') throw error;
  }
  const stored = await authority.readWithHash(name, options);
  let storedDoc: unknown;
  try {
    storedDoc = parseYaml(stored.session);
  } catch {
    throw new SessionConflict(name, stored.hash);
  }
  if (!sessionContains(storedDoc, withoutIgnored(wanted))) throw new SessionConflict(name, stored.hash);
  return { name, hash: stored.hash, created: false };
}
