/**
 * kubejobs job JSON for the Asperathos manager (protocols.md §5, architecture.md "Modes and configuration").
 * Every job starts from the tutorial's template (copied exactly) and fills cmd, img, init_size, redis_workload,
 * monitor_info.expected_time and env_vars. `hwEnvironment` / `simEnvironment` give env_vars by SGX mode.
 */
import { ConfigError, RejectedInput } from '#lib/errors.js';
import { parseCasAddress, type CasAddress } from '#lib/palaemon/address.js';
import { validateFspfKey, validateFspfTag } from '#lib/palaemon/session.js';

/** The tutorial's job, the base of every submission (architecture.md). Never mutated: builders deep-copy it. */
export const TUTORIAL_JOB_TEMPLATE = Object.freeze({
  plugin: 'kubejobs',
  enable_auth: false,
  plugin_info: {
    username: 'admin',
    password: '<grafana password>',
    cmd: [],
    img: '<image>',
    init_size: 1,
    redis_workload: '<workload.txt URL>',
    job_resources_lifetime: 30,
    k8s_resources_control: { limits: { memory: '4Gi', cpu: '2000m' }, requests: { memory: '3Gi', cpu: '1000m' } },
    control_plugin: 'kubejobs',
    control_parameters: {
      schedule_strategy: 'default',
      actuator: 'k8s_replicas',
      check_interval: 1,
      trigger_down: 0,
      trigger_up: 0,
      min_rep: 1,
      max_rep: 2,
      actuation_size: 1,
      metric_source: 'redis',
      heuristic_options: { proportional_gain: 0.1, derivative_gain: 0, integral_gain: 0 },
    },
    monitor_plugin: 'kubejobs',
    monitor_info: { expected_time: 180 },
    enable_visualizer: true,
    visualizer_plugin: 'k8s-grafana',
    visualizer_info: { datasource_type: 'influxdb' },
    env_vars: {},
  },
});

export const DEFAULT_EXPECTED_TIME_SECS = 200;
/**
 * plugin_info.job_resources_lifetime: seconds after the job ends before the manager deletes its Redis (and with
 * it `job:errors`) and the dashboard. The tutorial sent 30; sync-status runs each minute, so the default leaves
 * five ticks to read the failed items.
 */
export const DEFAULT_JOB_RESOURCES_LIFETIME_SECS = 300;
/** The enclave image's entry point: kubejobs' command replaces ENTRYPOINT, so the job runs it (lib/enclave-image/layout.ts). */
export const DEFAULT_WORKER_CMD: readonly string[] = Object.freeze(['/entrypoint.sh']);
export const DEFAULT_LAS_ADDRESS = '172.17.0.1:18766';
export const DEFAULT_SERVICE_NAME = 'radiomics';
export const DEFAULT_ITEM_LEASE_SECS = 15;
export const DEFAULT_VERBOSITY = 3;

/** SCONE tuning shared by both modes (the original's values). */
export const SCONE_TUNING = Object.freeze({
  SCONE_ALPINE: '1',
  SCONE_VERSION: '1',
  SCONE_HEAP: '3G',
  SCONE_STACK: '5M',
  SCONE_ALLOW_DLOPEN: '1',
});

export type Environment = Record<string, string>;

export interface PluginInfo {
  username: string;
  password: string;
  cmd: string[];
  img: string;
  init_size: number;
  redis_workload: string;
  job_resources_lifetime: number;
  k8s_resources_control: { limits: { memory: string; cpu: string }; requests: { memory: string; cpu: string } };
  control_plugin: string;
  control_parameters: Record<string, unknown> & { min_rep: number; max_rep: number };
  monitor_plugin: string;
  monitor_info: Record<string, unknown> & { expected_time: number };
  enable_visualizer: boolean;
  visualizer_plugin: string;
  visualizer_info: Record<string, unknown>;
  env_vars: Environment;
  [key: string]: unknown;
}

export interface KubejobsJob {
  plugin: string;
  enable_auth: boolean;
  /** API credentials, only with enable_auth. */
  username?: string;
  password?: string;
  plugin_info: PluginInfo;
}

export interface JobInput {
  /** URL of workload.txt (one URL per line, trailing newline). */
  workloadUrl: string;
  /** Container image of the worker. */
  image: string;
  /** env_vars, from `hwEnvironment` or `simEnvironment`. */
  env: Readonly<Environment>;
  /** Default DEFAULT_WORKER_CMD. */
  cmd?: readonly string[];
  /** Number of workers to start; default 1. */
  initSize?: number;
  /** monitor_info.expected_time in seconds; default 200. */
  expectedTimeSecs?: number;
  /** control_parameters.max_rep; default the template's 2 (raised to initSize when smaller). */
  maxReplicas?: number;
  /** Default DEFAULT_JOB_RESOURCES_LIFETIME_SECS. */
  resourcesLifetimeSecs?: number;
  /**
   * The manager's Grafana dashboard (enable_visualizer). Off by default: a cluster without the visualizer
   * service and InfluxDB puts the job in `error` ("Creating InfluxDB Service... (404)").
   */
  visualizer?: { username: string; password: string };
  /** API auth (enable_auth: true with top-level username/password). */
  auth?: { username: string; password: string };
}

export class JobInputError extends RejectedInput {
  constructor(reason: string, message: string) {
    super(reason, message);
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function positiveInteger(value: unknown, reason: string, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new JobInputError(reason, `invalid ${what}: expected an integer > 0`);
  }
  return value;
}

function validateEnv(env: Readonly<Environment>): Environment {
  const out: Environment = {};
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw new JobInputError('invalid_env', 'invalid env_vars: a variable name must match [A-Za-z_][A-Za-z0-9_]*');
    if (typeof value !== 'string') throw new JobInputError('invalid_env', `invalid env_vars: the value of ${name} must be a string`);
    out[name] = value;
  }
  return out;
}

export function buildJob(input: JobInput): KubejobsJob {
  let url: URL;
  try {
    url = new URL(input.workloadUrl);
  } catch {
    throw new JobInputError('invalid_workload_url', 'invalid redis_workload: not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new JobInputError('invalid_workload_url', 'invalid redis_workload: expected an http or https URL');
  }
  if (typeof input.image !== 'string' || input.image.trim().length === 0)
    throw new JobInputError('invalid_image', 'invalid img: expected a non-empty image name');
  const cmd = [...(input.cmd ?? DEFAULT_WORKER_CMD)];
  if (cmd.length === 0 || cmd.some((part) => typeof part !== 'string' || part.length === 0)) {
    throw new JobInputError('invalid_cmd', 'invalid cmd: expected a non-empty list of non-empty strings');
  }
  const initSize = positiveInteger(input.initSize ?? 1, 'invalid_init_size', 'init_size');
  const expected = positiveInteger(input.expectedTimeSecs ?? DEFAULT_EXPECTED_TIME_SECS, 'invalid_expected_time', 'expected time');
  const job = structuredClone(TUTORIAL_JOB_TEMPLATE) as unknown as KubejobsJob;
  const info = job.plugin_info;
  info.cmd = cmd;
  info.img = input.image;
  info.init_size = initSize;
  info.redis_workload = input.workloadUrl;
  info.monitor_info.expected_time = expected;
  info.env_vars = validateEnv(input.env);
  const maxRep =
    input.maxReplicas !== undefined
      ? positiveInteger(input.maxReplicas, 'invalid_max_replicas', 'max replicas')
      : info.control_parameters.max_rep;
  info.control_parameters.max_rep = Math.max(maxRep, initSize);
  info.job_resources_lifetime = positiveInteger(
    input.resourcesLifetimeSecs ?? DEFAULT_JOB_RESOURCES_LIFETIME_SECS,
    'invalid_resources_lifetime',
    'job_resources_lifetime',
  );
  info.enable_visualizer = input.visualizer !== undefined;
  info.username = input.visualizer?.username ?? 'admin';
  info.password = input.visualizer?.password ?? '';
  if (input.visualizer && (!input.visualizer.username || !input.visualizer.password)) {
    throw new JobInputError('invalid_visualizer', 'invalid visualizer: the Grafana username and password are both required');
  }
  if (input.auth) {
    if (!input.auth.username || !input.auth.password)
      throw new JobInputError('invalid_auth', 'invalid auth: username and password are both required');
    job.enable_auth = true;
    job.username = input.auth.username;
    job.password = input.auth.password;
  }
  return job;
}

/** `--verbosity N` (0-7) becomes `SCONE_LOG=N`. */
export function sconeLog(verbosity: number = DEFAULT_VERBOSITY): string {
  if (!Number.isInteger(verbosity) || verbosity < 0 || verbosity > 7) throw new ConfigError('verbosity must be an integer 0-7');
  return String(verbosity);
}

export interface HwEnvironmentInput {
  /** The Palaemon session (the batch id). */
  sessionName: string;
  /** Default `radiomics`. */
  serviceName?: string;
  /** `host:restPort:attestationPort` or a parsed address. */
  cas: string | CasAddress;
  /** Default 172.17.0.1:18766. */
  lasAddress?: string;
  verbosity?: number;
}

/** HW mode: the key and the worker's settings come from the Palaemon session, so env_vars carry none. */
export function hwEnvironment(input: HwEnvironmentInput): Environment {
  const cas = typeof input.cas === 'string' ? parseCasAddress(input.cas) : input.cas;
  return {
    SCONE_CONFIG_ID: `${input.sessionName}/${input.serviceName ?? DEFAULT_SERVICE_NAME}`,
    SCONE_CAS_ADDR: cas.attestationAddress,
    SCONE_LAS_ADDR: input.lasAddress ?? DEFAULT_LAS_ADDRESS,
    SCONE_ALPINE: SCONE_TUNING.SCONE_ALPINE,
    SCONE_VERSION: SCONE_TUNING.SCONE_VERSION,
    SCONE_MODE: 'HW',
    SCONE_LOG: sconeLog(input.verbosity),
    SCONE_HEAP: SCONE_TUNING.SCONE_HEAP,
    SCONE_STACK: SCONE_TUNING.SCONE_STACK,
    SCONE_ALLOW_DLOPEN: SCONE_TUNING.SCONE_ALLOW_DLOPEN,
  };
}

export interface SimEnvironmentInput {
  fspf: { path: string; key: string; tag: string };
  /** The batch key, standard base64. Travels in env_vars: SIM mode only, never for real patient data. */
  encryptionKey: string;
  itemLeaseSecs?: number;
  verbosity?: number;
  /** What the worker needs to reach Swift, e.g. OS_AUTH_URL, OS_AUTH_TOKEN, OS_PROJECT_NAME, OS_PROJECT_DOMAIN_ID. */
  swift?: Readonly<Environment>;
}

export function simEnvironment(input: SimEnvironmentInput): Environment {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(input.encryptionKey)) {
    throw new JobInputError(
      'invalid_encryption_key',
      'invalid encryption key: expected 16 bytes as standard base64 (24 characters ending in ==)',
    );
  }
  validateFspfTag(input.fspf.tag);
  validateFspfKey(input.fspf.key);
  if (typeof input.fspf.path !== 'string' || !input.fspf.path.startsWith('/')) {
    throw new JobInputError('invalid_fspf_path', 'invalid fspf path: expected an absolute path');
  }
  const lease = positiveInteger(input.itemLeaseSecs ?? DEFAULT_ITEM_LEASE_SECS, 'invalid_item_lease_secs', 'ITEM_LEASE_SECS');
  const swift = validateEnv(input.swift ?? {});
  return {
    SCONE_FSPF: input.fspf.path,
    SCONE_FSPF_KEY: input.fspf.key,
    SCONE_FSPF_TAG: input.fspf.tag,
    ENCRYPTION_KEY: input.encryptionKey,
    SCONE_MODE: 'SIM',
    SCONE_ALPINE: SCONE_TUNING.SCONE_ALPINE,
    SCONE_VERSION: SCONE_TUNING.SCONE_VERSION,
    SCONE_LOG: sconeLog(input.verbosity),
    SCONE_HEAP: SCONE_TUNING.SCONE_HEAP,
    SCONE_STACK: SCONE_TUNING.SCONE_STACK,
    SCONE_ALLOW_DLOPEN: SCONE_TUNING.SCONE_ALLOW_DLOPEN,
    ITEM_LEASE_SECS: String(lease),
    ...swift,
  };
}
