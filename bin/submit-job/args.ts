/**
 * `submit-job` arguments: the original Python CLI's flags (argparse semantics: `--opt VALUE` or `--opt=VALUE`,
 * two required mutually exclusive groups, one positional), plus `--cas-ca`, `--public` and `--tempurl-ttl`.
 * Parsing is pure: no file or network access. Every problem is a `UsageError` (exit 2).
 */
import { UsageError, commandHelp, defineCommand, parseCommand, shown, type ParsedArgs } from '#bin/support/command-line.js';
import { parseCasAddress } from '#lib/palaemon/address.js';
import type { ConfigError } from '#lib/errors.js';

export const DEFAULT_CONFIG = 'config.json';
export const DEFAULT_CERT = 'client.pem';
export const DEFAULT_EXPECTED_TIME_SECS = 200;
export const DEFAULT_ITEM_LEASE_SECS = 15;
export const DEFAULT_VERBOSITY = 3;
export const DEFAULT_TEMPURL_TTL_SECS = 7 * 24 * 3600;
export const DEFAULT_RESOURCES_LIFETIME_SECS = 300;

export type SubmitMode = { kind: 'HW'; casAddress: string; cert: string; casCa: string; serverName?: string } | { kind: 'SIM' };

export type SubmitOutput = { kind: 'json'; path: string } | { kind: 'submit'; submissionsUrl: string };

export interface SubmitJobArgs {
  dataPath: string;
  config: string;
  mode: SubmitMode;
  output: SubmitOutput;
  expectedTimeSecs: number;
  itemLeaseSecs: number;
  verbosity: number;
  links: { kind: 'tempurl'; ttlSecs: number } | { kind: 'public' };
  resourcesLifetimeSecs: number;
  /** plugin_info.enable_visualizer; the Grafana credentials come from GRAFANA_USER and GRAFANA_PASSWORD. */
  enableVisualizer: boolean;
}

export const SUBMIT_JOB = defineCommand({
  program: 'submit-job',
  usage: `usage: submit-job [-h] [--config CONFIG] [--cert CERT] [--cas-ca CA] [--cas-server-name NAME]
                  [--expected-time SECS]
                  [--item-lease-secs SECS] [--verbosity N] [--public | --tempurl-ttl SECS]
                  [--job-resources-lifetime SECS] [--enable-visualizer]
                  (--cas-address HOST:REST:ATTEST | --sgx-simulation)
                  (--generate-json-only OUTPUT_JSON | --submissions-url URL)
                  data-path`,
  about: `Seal every .mp4 under data-path (recursively, any letter case) into a new Swift container, write its workload.txt, provision the Palaemon session (--cas-address), then write the Asperathos job JSON (--generate-json-only) or submit it (--submissions-url) and print the job id and URL.
Nothing is uploaded if a file is not a complete MP4: the bad files are listed and the run fails. The batch key is never printed.`,
  arguments: [['data-path', 'directory holding the videos']],
  options: {
    config: {
      type: 'string',
      value: 'CONFIG',
      help: 'enclave image facts: mrenclave, image-name, fspf-tag, fspf-key, fspf-path',
      default: DEFAULT_CONFIG,
    },
    cert: {
      type: 'string',
      value: 'CERT',
      help: 'CAS client certificate PEM. Its private key is read from the same file (the original\'s client.pem holds both) or, if the file has no key, from the sibling CERT-without-.pem + "-key.pem" (e.g. client-key.pem), as `radiomics generate-certificate` writes it',
      default: DEFAULT_CERT,
    },
    'cas-ca': {
      type: 'string',
      value: 'CA',
      help: "PEM of the CA that signed the CAS's TLS certificate (required with --cas-address; TLS verification is always on)",
    },
    'cas-server-name': {
      type: 'string',
      value: 'NAME',
      help: 'the name the CAS certificate carries, when it is not the host of --cas-address (commonly cas)',
    },
    'expected-time': {
      type: 'string',
      value: 'SECS',
      help: 'expected time to finish the job, monitor_info.expected_time',
      default: DEFAULT_EXPECTED_TIME_SECS,
    },
    'item-lease-secs': {
      type: 'string',
      value: 'SECS',
      help: 'expected time to process one video, ITEM_LEASE_SECS',
      default: DEFAULT_ITEM_LEASE_SECS,
    },
    verbosity: { type: 'string', value: 'N', help: 'SCONE log level 0-7, SCONE_LOG', default: DEFAULT_VERBOSITY },
    'cas-address': { type: 'string', value: 'HOST:REST:ATTEST', help: 'SCONE CAS address, e.g. 10.30.1.24:8081:18765 (SGX hardware mode)' },
    'sgx-simulation': {
      type: 'boolean',
      help: "SGX simulation mode: no CAS; the batch key travels in the job's env_vars (ENCRYPTION_KEY). Never use it for real patient data",
    },
    'generate-json-only': {
      type: 'string',
      value: 'OUTPUT_JSON',
      help: 'write the Asperathos job JSON to OUTPUT_JSON (mode 0600), do not submit',
    },
    'submissions-url': { type: 'string', value: 'URL', help: 'Asperathos submissions API, e.g. http://10.11.16.34:1500/submissions' },
    public: {
      type: 'boolean',
      help: 'make the container and its _segments container public-read and list plain object URLs, like the original (default: expiring TempURLs)',
    },
    'tempurl-ttl': { type: 'string', value: 'SECS', help: 'lifetime of the TempURLs in workload.txt', default: DEFAULT_TEMPURL_TTL_SECS },
    'job-resources-lifetime': {
      type: 'string',
      value: 'SECS',
      help: "seconds the manager keeps the job's Redis (and its failed-item list) after the end, plugin_info.job_resources_lifetime",
      default: DEFAULT_RESOURCES_LIFETIME_SECS,
    },
    'enable-visualizer': {
      type: 'boolean',
      help: "ask the manager for a Grafana dashboard (needs the cluster's visualizer and InfluxDB; without them the job goes to error). Credentials: GRAFANA_USER and GRAFANA_PASSWORD",
    },
  },
  environment: [
    [
      'OS_AUTH_URL, OS_*',
      'Swift credentials through Keystone v3 (OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ... or an application credential); OS_CLOUD picks a clouds.yaml entry (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/)',
    ],
    [
      'ST_AUTH, ST_USER, ST_KEY',
      'Swift credentials through TempAuth. The worker gets the same Swift variables (HW: inside the Palaemon session; SIM: in env_vars)',
    ],
    [
      'TEMPURL_KEY',
      "the account TempURL key (slot 2) to sign links with. Unset: the account's slot-2 key is reused, or a random one is set when there is none",
    ],
    ['GRAFANA_USER', 'with --enable-visualizer: the Grafana user (default: admin)'],
    ['GRAFANA_PASSWORD', 'with --enable-visualizer: the Grafana password (required then)'],
  ],
  exitStatus: [
    [0, 'done'],
    [1, 'failed (nothing submitted)'],
    [2, 'usage error'],
  ],
  argparse: true,
});

export const USAGE = SUBMIT_JOB.usage;
export const HELP = commandHelp(SUBMIT_JOB);

function wholeNumber(name: string, text: string, min: number, max: number, unit: string): number {
  const of = unit ? ` of ${unit}` : '';
  if (!/^[0-9]{1,9}$/.test(text)) throw new UsageError(`argument ${name}: expected a whole number${of}, got '${shown(text)}'`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`argument ${name}: must be ${min}-${max}${unit ? ` ${unit}` : ''}, got ${value}`);
  return value;
}

function httpUrl(name: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`argument ${name}: not a URL: '${shown(text)}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`argument ${name}: expected an http or https URL`);
  if (url.username || url.password) throw new UsageError(`argument ${name}: credentials in the URL are not supported`);
  return text;
}

/** Parses argv (without `node` and the script). Returns 'help' for -h/--help. */
export function parseSubmitJobArgs(argv: readonly string[]): SubmitJobArgs | 'help' {
  const parsed = parseCommand(SUBMIT_JOB, argv);
  return parsed === 'help' ? 'help' : submitJobArgs(parsed);
}

/** The arguments checked against each other and against their ranges. */
export function submitJobArgs({ values, positionals }: ParsedArgs<typeof SUBMIT_JOB.options>): SubmitJobArgs {
  const cas = values['cas-address'];
  const sim = values['sgx-simulation'] === true;
  if (cas !== undefined && sim) throw new UsageError('argument --sgx-simulation: not allowed with argument --cas-address');
  if (cas === undefined && !sim) throw new UsageError('one of the arguments --cas-address --sgx-simulation is required');
  const jsonPath = values['generate-json-only'];
  const submissionsUrl = values['submissions-url'];
  if (jsonPath !== undefined && submissionsUrl !== undefined) {
    throw new UsageError('argument --submissions-url: not allowed with argument --generate-json-only');
  }
  if (jsonPath === undefined && submissionsUrl === undefined) {
    throw new UsageError('one of the arguments --generate-json-only --submissions-url is required');
  }
  if (values.public && values['tempurl-ttl'] !== undefined)
    throw new UsageError('argument --tempurl-ttl: not allowed with argument --public');
  if (positionals.length === 0) throw new UsageError('the following arguments are required: data-path');
  if (positionals.length > 1) throw new UsageError(`unrecognized arguments: ${positionals.slice(1).map(shown).join(' ')}`);

  let mode: SubmitMode = { kind: 'SIM' };
  if (cas !== undefined) {
    try {
      parseCasAddress(cas);
    } catch (error) {
      throw new UsageError(`argument --cas-address: ${(error as ConfigError).message}`);
    }
    const casCa = values['cas-ca'];
    if (casCa === undefined)
      throw new UsageError('argument --cas-ca: required with --cas-address (the CA that signed the CAS certificate)');
    const serverName = values['cas-server-name'];
    mode = { kind: 'HW', casAddress: cas, cert: values.cert ?? DEFAULT_CERT, casCa, ...(serverName === undefined ? {} : { serverName }) };
  }
  const output: SubmitOutput =
    jsonPath !== undefined
      ? { kind: 'json', path: jsonPath }
      : { kind: 'submit', submissionsUrl: httpUrl('--submissions-url', submissionsUrl!) };
  const num = (
    name: 'expected-time' | 'item-lease-secs' | 'verbosity' | 'tempurl-ttl' | 'job-resources-lifetime',
    fallback: number,
    min: number,
    max: number,
    unit: string,
  ) => {
    const text = values[name];
    return text === undefined ? fallback : wholeNumber(`--${name}`, text, min, max, unit);
  };
  return {
    dataPath: positionals[0],
    config: values.config ?? DEFAULT_CONFIG,
    mode,
    output,
    expectedTimeSecs: num('expected-time', DEFAULT_EXPECTED_TIME_SECS, 1, 31_536_000, 'seconds'),
    itemLeaseSecs: num('item-lease-secs', DEFAULT_ITEM_LEASE_SECS, 1, 86_400, 'seconds'),
    verbosity: num('verbosity', DEFAULT_VERBOSITY, 0, 7, ''),
    links: values.public
      ? { kind: 'public' }
      : { kind: 'tempurl', ttlSecs: num('tempurl-ttl', DEFAULT_TEMPURL_TTL_SECS, 60, 31_536_000, 'seconds') },
    resourcesLifetimeSecs: num('job-resources-lifetime', DEFAULT_RESOURCES_LIFETIME_SECS, 1, 31_536_000, 'seconds'),
    enableVisualizer: values['enable-visualizer'] === true,
  };
}
