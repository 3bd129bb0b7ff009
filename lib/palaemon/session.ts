/**
 * Palaemon / SCONE CAS session builders (protocols.md §4).
 * - `buildTutorialSession`: the tutorial's format (no `version:`, `digest: create`, `mrenclaves` per service and image).
 * - `buildSessionV03`: session language 0.3 (`version`, `secrets`, `security`, `access_policy`). MRENCLAVEs go in the
 *   service's `mrenclaves:` list, which every session-language version reads; the per-service `attestation:` section
 *   is a 0.3.7 feature (SCONE 5.4) that older CAS releases refuse, so it is never emitted.
 * - `buildRadiomicsSession`: this project's session, the batch key put in the environment (tutorial format)
 *   or as an ascii secret referenced as `$$SCONE::ENCRYPTION_KEY$$` (0.3).
 * `security.attestation.tolerate` and `ignore_advisories` are empty unless the operator lists them: the CAS then
 * accepts only production-mode enclaves on up-to-date platforms (sconedocs, session language 0.3).
 * Every input is validated; errors name the field and never echo a key or an environment value.
 */
import type { WorkerEnvName } from '#lib/contract.js';
import { Document } from 'yaml';
import { RejectedInput } from '#lib/errors.js';

export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_\-.~]{1,128}$/;
export const DEFAULT_SERVICE_NAME = 'radiomics';
export const DEFAULT_PWD = '/app';
export const ENCRYPTION_KEY_SECRET = 'ENCRYPTION_KEY' satisfies WorkerEnvName;

export type SessionInputReason =
  | 'invalid_session_name'
  | 'invalid_service_name'
  | 'invalid_mrenclave'
  | 'invalid_fspf_tag'
  | 'invalid_fspf_key'
  | 'invalid_fspf_path'
  | 'invalid_image_name'
  | 'invalid_command'
  | 'invalid_pwd'
  | 'invalid_environment'
  | 'invalid_secret'
  | 'invalid_predecessor'
  | 'invalid_encryption_key'
  | 'invalid_policy';

/** A session input that can never be accepted; `reason` is machine-readable. */
export class SessionInputError extends RejectedInput {
  constructor(reason: SessionInputReason, message: string) {
    super(reason, message);
  }
}

/** Facts of the enclave image build (`config.json` in the original). */
export interface EnclaveImage {
  /** One or more MRENCLAVE values, 64 hex characters each. */
  mrenclave: string | readonly string[];
  imageName: string;
  /** 32 hex characters. */
  fspfTag: string;
  /** 64 hex characters. Secret: never echoed. */
  fspfKey: string;
  fspfPath: string;
}

export interface ServiceInput {
  /** Default `radiomics`. */
  name?: string;
  image: EnclaveImage;
  command: string;
  /** Default `/app`. */
  pwd?: string;
  environment?: Readonly<Record<string, string>>;
}

export interface TutorialSessionInput {
  name: string;
  service: ServiceInput;
  /** Hash of the current session when updating; null or absent when creating. */
  predecessor?: string | null;
}

export interface SecretInput {
  name: string;
  /** `ascii`: the value as is. `binary`: the bytes as hex (the session language's encoding of binary values). */
  kind: 'ascii' | 'binary';
  value: string;
}

export interface AccessPolicy {
  read: readonly string[];
  update: readonly string[];
}

export interface SessionV03Input {
  name: string;
  /** Further services, e.g. a child program with its own MRENCLAVE and command. */
  childServices?: readonly ServiceInput[];
  /** The session-language version to declare, `0.3` (default) or an exact `0.3.N`. */
  version?: string;
  service: ServiceInput;
  secrets?: readonly SecretInput[];
  /** `hardware` (default) or `none` (simulation). */
  attestationMode?: 'hardware' | 'none';
  /** e.g. `debug-mode`, `hyperthreading`, `outdated-tcb`. Omitted when empty. */
  tolerate?: readonly string[];
  /** Intel security advisory ids (`INTEL-SA-00076`) the CAS may ignore, or `['*']`. Omitted when empty. */
  ignoreAdvisories?: readonly string[];
  /** Default `{read: [CREATOR], update: [CREATOR]}`. */
  accessPolicy?: AccessPolicy;
  predecessor?: string | null;
}

export interface RadiomicsSessionInput {
  format: 'tutorial' | '0.3';
  name: string;
  serviceName?: string;
  image: EnclaveImage;
  command: string;
  pwd?: string;
  /** The batch key, standard base64 of 16 bytes (24 characters). */
  encryptionKey: string;
  /** Plain settings such as ITEM_LEASE_SECS, OS_AUTH_URL, OS_PROJECT_NAME. */
  environment?: Readonly<Record<string, string>>;
  /** Credentials such as OS_AUTH_TOKEN: environment in the tutorial format, ascii secrets in 0.3. */
  secretEnvironment?: Readonly<Record<string, string>>;
  attestationMode?: 'hardware' | 'none';
  tolerate?: readonly string[];
  ignoreAdvisories?: readonly string[];
  /** 0.3 format only: further services (their environment is plain, no secrets). */
  childServices?: readonly ServiceInput[];
  /** 0.3 format only: the declared session-language version (default `0.3`). */
  version?: string;
  predecessor?: string | null;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]{0,254}$/;
/** A session hash: 32 bytes as hex. */
const PREDECESSOR = /^[0-9a-fA-F]{64}$/;
const KEY_B64 = /^[A-Za-z0-9+/]{22}==$/;
const HEX_BYTES = /^(?:[0-9a-fA-F]{2})+$/;
const SESSION_VERSION = /^0\.3(?:\.[0-9]{1,3})?$/;
const ADVISORY = /^(?:\*|[A-Z]+-SA-[0-9]{5})$/;
const POLICY_ENTRY = /^(CREATOR|ANY|NONE)$/;

function nameProblem(value: unknown): string {
  if (typeof value !== 'string') return 'it is not a string';
  if (value.length === 0) return 'it is empty';
  if (value.length > 128) return `it has ${value.length} characters`;
  const bad = [...value].findIndex((c) => !/[A-Za-z0-9_\-.~]/.test(c));
  return `character ${bad + 1} is not allowed`;
}

export function validateSessionName(name: unknown, what = 'session name'): asserts name is string {
  if (typeof name !== 'string' || !SESSION_NAME_PATTERN.test(name)) {
    throw new SessionInputError(
      what === 'session name' ? 'invalid_session_name' : 'invalid_service_name',
      `invalid ${what}: must be 1-128 characters of A-Z a-z 0-9 _ - . ~ (${nameProblem(name)})`,
    );
  }
}

function hexProblem(value: unknown, length: number): string {
  if (typeof value !== 'string') return 'it is not a string';
  if (value.length !== length) return `got ${value.length}`;
  return 'it contains a non-hex character';
}

export function validateMrenclave(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !HEX64.test(value)) {
    throw new SessionInputError('invalid_mrenclave', `invalid mrenclave: expected 64 hex characters, ${hexProblem(value, 64)}`);
  }
}

export function validateFspfTag(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !HEX32.test(value)) {
    throw new SessionInputError('invalid_fspf_tag', `invalid fspf tag: expected 32 hex characters, ${hexProblem(value, 32)}`);
  }
}

export function validateFspfKey(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !HEX64.test(value)) {
    throw new SessionInputError('invalid_fspf_key', `invalid fspf key: expected 64 hex characters, ${hexProblem(value, 64)}`);
  }
}

export function validateEncryptionKey(value: unknown): asserts value is string {
  if (typeof value !== 'string' || !KEY_B64.test(value)) {
    throw new SessionInputError(
      'invalid_encryption_key',
      'invalid encryption key: expected 16 bytes as standard base64 (24 characters ending in ==)',
    );
  }
}

/** A C0 control character (U+0000–U+001F) or DEL (U+007F). */
function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x1f || code === 0x7f) return true;
  }
  return false;
}

function validateAbsolutePath(value: unknown, reason: SessionInputReason, what: string): asserts value is string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 4096 || hasControl(value)) {
    throw new SessionInputError(reason, `invalid ${what}: expected an absolute path without control characters`);
  }
}

function validateEnvironment(env: Readonly<Record<string, string>>, what = 'environment'): void {
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      throw new SessionInputError(
        'invalid_environment',
        `invalid ${what}: variable name must match [A-Za-z_][A-Za-z0-9_]* (variable ${Object.keys(env).indexOf(name) + 1})`,
      );
    }
    if (typeof value !== 'string' || value.includes('\u0000')) {
      throw new SessionInputError('invalid_environment', `invalid ${what}: the value of ${name} must be a string without NUL characters`);
    }
  }
}

function validatePredecessor(value: unknown): asserts value is string | null | undefined {
  if (value === null || value === undefined) return;
  if (typeof value !== 'string' || !PREDECESSOR.test(value)) {
    throw new SessionInputError('invalid_predecessor', 'invalid predecessor: expected the current session hash (64 hex characters)');
  }
}

interface CheckedService {
  name: string;
  imageName: string;
  mrenclaves: string[];
  command: string;
  pwd: string;
  environment: Record<string, string>;
  fspfTag: string;
  fspfKey: string;
  fspfPath: string;
}

function checkService(service: ServiceInput): CheckedService {
  const name = service.name ?? DEFAULT_SERVICE_NAME;
  validateSessionName(name, 'service name');
  const image = service.image;
  const mrenclaves = typeof image.mrenclave === 'string' ? [image.mrenclave] : [...image.mrenclave];
  if (mrenclaves.length === 0) {
    throw new SessionInputError('invalid_mrenclave', 'invalid mrenclave: at least one value is required');
  }
  mrenclaves.forEach(validateMrenclave);
  if (typeof image.imageName !== 'string' || !IMAGE_NAME.test(image.imageName)) {
    throw new SessionInputError(
      'invalid_image_name',
      'invalid image name: expected 1-255 characters of A-Z a-z 0-9 . _ - / : @, starting with a letter or digit',
    );
  }
  validateFspfTag(image.fspfTag);
  validateFspfKey(image.fspfKey);
  validateAbsolutePath(image.fspfPath, 'invalid_fspf_path', 'fspf path');
  if (typeof service.command !== 'string' || service.command.trim().length === 0 || hasControl(service.command)) {
    throw new SessionInputError('invalid_command', 'invalid command: expected a non-empty single-line string');
  }
  const pwd = service.pwd ?? DEFAULT_PWD;
  validateAbsolutePath(pwd, 'invalid_pwd', 'pwd');
  const environment = { ...(service.environment ?? {}) };
  validateEnvironment(environment);
  return {
    name,
    imageName: image.imageName,
    mrenclaves: mrenclaves.map((m) => m.toLowerCase()),
    command: service.command,
    pwd,
    environment,
    fspfTag: image.fspfTag.toLowerCase(),
    fspfKey: image.fspfKey.toLowerCase(),
    fspfPath: image.fspfPath,
  };
}

/** YAML text with safe quoting (values that would read as non-strings are quoted) and no line folding. */
export function toSessionYaml(value: unknown): string {
  return new Document(value, { aliasDuplicateObjects: false }).toString({ lineWidth: 0, minContentWidth: 0 });
}

export function buildTutorialSession(input: TutorialSessionInput): string {
  validateSessionName(input.name);
  validatePredecessor(input.predecessor);
  const s = checkService(input.service);
  return toSessionYaml({
    name: input.name,
    digest: 'create',
    predecessor: input.predecessor ?? null,
    services: [
      {
        name: s.name,
        image_name: s.imageName,
        mrenclaves: s.mrenclaves,
        command: s.command,
        pwd: s.pwd,
        environment: s.environment,
        tags: ['default'],
        fspf_tag: s.fspfTag,
        fspf_key: s.fspfKey,
        fspf_path: s.fspfPath,
      },
    ],
    images: [{ name: s.imageName, mrenclaves: s.mrenclaves, tags: ['default'] }],
  });
}

function checkSecrets(secrets: readonly SecretInput[]): SecretInput[] {
  const seen = new Set<string>();
  return secrets.map((secret, index) => {
    if (typeof secret.name !== 'string' || !ENV_NAME.test(secret.name) || secret.name.length > 128) {
      throw new SessionInputError('invalid_secret', `invalid secret ${index + 1}: name must match [A-Za-z_][A-Za-z0-9_]*`);
    }
    if (seen.has(secret.name)) {
      throw new SessionInputError('invalid_secret', `invalid secret ${secret.name}: the name is used twice`);
    }
    seen.add(secret.name);
    if (secret.kind !== 'ascii' && secret.kind !== 'binary') {
      throw new SessionInputError('invalid_secret', `invalid secret ${secret.name}: kind must be ascii or binary`);
    }
    if (typeof secret.value !== 'string' || secret.value.length === 0 || secret.value.includes('\u0000')) {
      throw new SessionInputError('invalid_secret', `invalid secret ${secret.name}: the value must be a non-empty string`);
    }
    if (secret.kind === 'binary' && !HEX_BYTES.test(secret.value)) {
      throw new SessionInputError('invalid_secret', `invalid secret ${secret.name}: a binary value must be hex`);
    }
    return { name: secret.name, kind: secret.kind, value: secret.value };
  });
}

export function buildSessionV03(input: SessionV03Input): string {
  validateSessionName(input.name);
  validatePredecessor(input.predecessor);
  const s = checkService(input.service);
  const children = (input.childServices ?? []).map(checkService);
  const secrets = checkSecrets(input.secrets ?? []);
  const policy = input.accessPolicy ?? { read: ['CREATOR'], update: ['CREATOR'] };
  for (const entry of [...policy.read, ...policy.update]) {
    if (typeof entry !== 'string' || !POLICY_ENTRY.test(entry)) {
      throw new SessionInputError('invalid_policy', 'invalid access policy: entries must be CREATOR, ANY or NONE');
    }
  }
  const mode = input.attestationMode ?? 'hardware';
  if (mode !== 'hardware' && mode !== 'none') {
    throw new SessionInputError('invalid_policy', 'invalid attestation mode: expected hardware or none');
  }
  for (const tolerated of input.tolerate ?? []) {
    if (typeof tolerated !== 'string' || !/^[a-z0-9-]{1,64}$/.test(tolerated)) {
      throw new SessionInputError('invalid_policy', 'invalid attestation tolerate entry: expected lower-case words joined by -');
    }
  }
  for (const advisory of input.ignoreAdvisories ?? []) {
    if (typeof advisory !== 'string' || !ADVISORY.test(advisory)) {
      throw new SessionInputError(
        'invalid_policy',
        'invalid ignore_advisories entry: expected an advisory id such as INTEL-SA-00076, or *',
      );
    }
  }
  const version = input.version ?? '0.3';
  if (typeof version !== 'string' || !SESSION_VERSION.test(version)) {
    throw new SessionInputError('invalid_policy', 'invalid session version: expected 0.3 or 0.3.N');
  }
  const session: Record<string, unknown> = { name: input.name, version };
  if (input.predecessor) session.predecessor = input.predecessor;
  session.access_policy = { read: [...policy.read], update: [...policy.update] };
  const all = [s, ...children];
  if (new Set(all.map((c) => c.name)).size !== all.length) {
    throw new SessionInputError('invalid_service_name', 'invalid service name: each service needs its own name');
  }
  session.services = all.map((c) => ({
    name: c.name,
    image_name: c.imageName,
    mrenclaves: c.mrenclaves,
    command: c.command,
    pwd: c.pwd,
    environment: c.environment,
    fspf_tag: c.fspfTag,
    fspf_key: c.fspfKey,
    fspf_path: c.fspfPath,
  }));
  if (secrets.length > 0) session.secrets = secrets;
  session.images = [...new Set(all.map((c) => c.imageName))].map((name) => ({ name }));
  const attestation: Record<string, unknown> = { mode };
  if (input.tolerate && input.tolerate.length > 0) attestation.tolerate = [...input.tolerate];
  if (input.ignoreAdvisories && input.ignoreAdvisories.length > 0) attestation.ignore_advisories = [...input.ignoreAdvisories];
  session.security = { attestation };
  return toSessionYaml(session);
}

/** This project's session: the worker service with the batch key and the Swift settings it needs. */
export function buildRadiomicsSession(input: RadiomicsSessionInput): string {
  validateEncryptionKey(input.encryptionKey);
  const environment = { ...(input.environment ?? {}) };
  const secretEnvironment = { ...(input.secretEnvironment ?? {}) };
  validateEnvironment(environment);
  validateEnvironment(secretEnvironment, 'secret environment');
  for (const name of [ENCRYPTION_KEY_SECRET, ...Object.keys(secretEnvironment)]) {
    if (name in environment) {
      throw new SessionInputError(
        'invalid_environment',
        `invalid environment: ${name} is set by the session builder and must not be given as plain environment`,
      );
    }
  }
  if (ENCRYPTION_KEY_SECRET in secretEnvironment) {
    throw new SessionInputError('invalid_environment', `invalid secret environment: ${ENCRYPTION_KEY_SECRET} is set from encryptionKey`);
  }
  const serviceBase = {
    name: input.serviceName,
    image: input.image,
    command: input.command,
    pwd: input.pwd,
  };
  if (input.format === 'tutorial') {
    if (
      (input.tolerate?.length ?? 0) > 0 ||
      (input.ignoreAdvisories?.length ?? 0) > 0 ||
      input.version !== undefined ||
      (input.childServices?.length ?? 0) > 0
    ) {
      throw new SessionInputError(
        'invalid_policy',
        'invalid session format: tolerate, ignore_advisories, version and child services need the 0.3 format',
      );
    }
    return buildTutorialSession({
      name: input.name,
      predecessor: input.predecessor,
      service: { ...serviceBase, environment: { [ENCRYPTION_KEY_SECRET]: input.encryptionKey, ...environment, ...secretEnvironment } },
    });
  }
  if (input.format !== '0.3') {
    throw new SessionInputError('invalid_policy', 'invalid session format: expected tutorial or 0.3');
  }
  const secretNames = [ENCRYPTION_KEY_SECRET, ...Object.keys(secretEnvironment)];
  const references = Object.fromEntries(secretNames.map((n) => [n, `$$SCONE::${n}$$`]));
  return buildSessionV03({
    name: input.name,
    predecessor: input.predecessor,
    attestationMode: input.attestationMode,
    tolerate: input.tolerate,
    ignoreAdvisories: input.ignoreAdvisories,
    version: input.version,
    childServices: input.childServices,
    service: { ...serviceBase, environment: { ...references, ...environment } },
    secrets: [
      { name: ENCRYPTION_KEY_SECRET, kind: 'ascii', value: input.encryptionKey },
      ...Object.entries(secretEnvironment).map(([name, value]) => ({ name, kind: 'ascii' as const, value })),
    ],
  });
}
