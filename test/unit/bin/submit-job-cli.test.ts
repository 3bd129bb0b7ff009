/** `submit-job` argument handling: the parser and `main` with captured output. No services, no files. */
import { describe, it, expect } from '@jest/globals';
import { main } from '#bin/submit-job-cli.js';
import { HELP, USAGE, parseSubmitJobArgs } from '#bin/submit-job/args.js';
import { UsageError } from '#bin/support/command-line.js';

const SIM_JSON = ['--sgx-simulation', '--generate-json-only', 'job.json'];
const HW_SUBMIT = [
  '--cas-address',
  'cas.example:8081:18765',
  '--cas-ca',
  'ca.pem',
  '--submissions-url',
  'http://asperathos:1500/submissions',
];

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {}, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function usageError(message: string) {
  return { code: 2, stdout: '', stderr: `${USAGE}\nsubmit-job: error: ${message}\n` };
}

describe('parseSubmitJobArgs', () => {
  it('SIM + --generate-json-only with the defaults of the original', () => {
    expect(parseSubmitJobArgs([...SIM_JSON, 'videos'])).toEqual({
      dataPath: 'videos',
      config: 'config.json',
      mode: { kind: 'SIM' },
      output: { kind: 'json', path: 'job.json' },
      expectedTimeSecs: 200,
      itemLeaseSecs: 15,
      verbosity: 3,
      links: { kind: 'tempurl', ttlSecs: 604800 },
      resourcesLifetimeSecs: 300,
      enableVisualizer: false,
    });
  });

  it('HW + --submissions-url, every option, in any order, with --opt=value too', () => {
    expect(
      parseSubmitJobArgs([
        'videos',
        '--config=conf.json',
        '--cert',
        'me.pem',
        '--expected-time',
        '300',
        '--item-lease-secs=30',
        '--verbosity',
        '0',
        '--public',
        '--job-resources-lifetime=900',
        '--enable-visualizer',
        ...HW_SUBMIT,
      ]),
    ).toEqual({
      dataPath: 'videos',
      config: 'conf.json',
      mode: { kind: 'HW', casAddress: 'cas.example:8081:18765', cert: 'me.pem', casCa: 'ca.pem' },
      output: { kind: 'submit', submissionsUrl: 'http://asperathos:1500/submissions' },
      expectedTimeSecs: 300,
      itemLeaseSecs: 30,
      verbosity: 0,
      links: { kind: 'public' },
      resourcesLifetimeSecs: 900,
      enableVisualizer: true,
    });
  });

  it('--cas-server-name sets the name checked on the CAS certificate', () => {
    expect(parseSubmitJobArgs(['videos', ...HW_SUBMIT, '--cas-server-name', 'cas'])).toMatchObject({
      mode: { kind: 'HW', casAddress: 'cas.example:8081:18765', cert: 'client.pem', casCa: 'ca.pem', serverName: 'cas' },
    });
  });

  it('--cert defaults to client.pem; --tempurl-ttl sets the link lifetime; -- ends the options', () => {
    const args = parseSubmitJobArgs([...HW_SUBMIT, '--tempurl-ttl', '3600', '--', '--odd-dir']);
    expect(args).toMatchObject({ dataPath: '--odd-dir', mode: { cert: 'client.pem' }, links: { kind: 'tempurl', ttlSecs: 3600 } });
  });

  it('-h and --help win over everything else', () => {
    expect(parseSubmitJobArgs(['--bogus', '-h'])).toBe('help');
    expect(parseSubmitJobArgs(['--help'])).toBe('help');
  });

  it('usage errors are UsageError', () => {
    expect(() => parseSubmitJobArgs([])).toThrow(UsageError);
  });
});

describe('submit-job main: usage errors exit 2 with the usage and one error line', () => {
  it.each([
    ['no arguments', [], 'one of the arguments --cas-address --sgx-simulation is required'],
    ['neither mode', ['--generate-json-only', 'j.json', 'videos'], 'one of the arguments --cas-address --sgx-simulation is required'],
    [
      'both modes',
      ['--sgx-simulation', '--cas-address', 'h:1:2', '--cas-ca', 'ca.pem', '--generate-json-only', 'j', 'v'],
      'argument --sgx-simulation: not allowed with argument --cas-address',
    ],
    ['neither output', ['--sgx-simulation', 'videos'], 'one of the arguments --generate-json-only --submissions-url is required'],
    [
      'both outputs',
      ['--sgx-simulation', '--generate-json-only', 'j', '--submissions-url', 'http://a/submissions', 'v'],
      'argument --submissions-url: not allowed with argument --generate-json-only',
    ],
    ['no data path', [...SIM_JSON], 'the following arguments are required: data-path'],
    ['two data paths', [...SIM_JSON, 'a', 'b'], 'unrecognized arguments: b'],
    ['an unknown flag', [...SIM_JSON, '--fast', 'v'], 'unrecognized argument: --fast'],
    ['a single-dash unknown flag', [...SIM_JSON, '-x', 'v'], 'unrecognized argument: -x'],
    ['an option without its value', [...SIM_JSON, 'v', '--config'], 'argument --config: expected one argument'],
    [
      'an option followed by another option',
      ['--config', '--sgx-simulation', '--generate-json-only', 'j', 'v'],
      'argument --config: expected one argument',
    ],
    ['an empty value', [...SIM_JSON, '--config=', 'v'], 'argument --config: expected one argument'],
    ['a repeated option', [...SIM_JSON, '--config', 'a', '--config', 'b', 'v'], 'argument --config: given more than once'],
    ['a repeated flag', [...SIM_JSON, '--sgx-simulation', 'v'], 'argument --sgx-simulation: given more than once'],
    ['a value given to a flag', ['--sgx-simulation=yes', '--generate-json-only', 'j', 'v'], 'argument --sgx-simulation: takes no value'],
    [
      'a non-integer expected time',
      [...SIM_JSON, '--expected-time', '2.5', 'v'],
      "argument --expected-time: expected a whole number of seconds, got '2.5'",
    ],
    [
      'a negative expected time',
      [...SIM_JSON, '--expected-time=-5', 'v'],
      "argument --expected-time: expected a whole number of seconds, got '-5'",
    ],
    ['a zero expected time', [...SIM_JSON, '--expected-time', '0', 'v'], 'argument --expected-time: must be 1-31536000 seconds, got 0'],
    [
      'a word as lease',
      [...SIM_JSON, '--item-lease-secs', 'ten', 'v'],
      "argument --item-lease-secs: expected a whole number of seconds, got 'ten'",
    ],
    ['a verbosity above 7', [...SIM_JSON, '--verbosity', '8', 'v'], 'argument --verbosity: must be 0-7, got 8'],
    [
      'a zero resources lifetime',
      [...SIM_JSON, '--job-resources-lifetime', '0', 'v'],
      'argument --job-resources-lifetime: must be 1-31536000 seconds, got 0',
    ],
    [
      'a word as resources lifetime',
      [...SIM_JSON, '--job-resources-lifetime=long', 'v'],
      "argument --job-resources-lifetime: expected a whole number of seconds, got 'long'",
    ],
    ['a non-integer verbosity', [...SIM_JSON, '--verbosity', '1e1', 'v'], "argument --verbosity: expected a whole number, got '1e1'"],
    [
      'a too short TempURL lifetime',
      [...SIM_JSON, '--tempurl-ttl', '10', 'v'],
      'argument --tempurl-ttl: must be 60-31536000 seconds, got 10',
    ],
    [
      '--tempurl-ttl with --public',
      [...SIM_JSON, '--public', '--tempurl-ttl', '600', 'v'],
      'argument --tempurl-ttl: not allowed with argument --public',
    ],
    [
      'a CAS address without ports',
      ['--cas-address', 'cas.example', '--cas-ca', 'c', '--generate-json-only', 'j', 'v'],
      'argument --cas-address: malformed CAS address "cas.example": expected host:restPort:attestationPort, e.g. cas.example:8081:18765',
    ],
    [
      'a CAS address with a word port',
      ['--cas-address', 'cas.example:rest:18765', '--cas-ca', 'c', '--generate-json-only', 'j', 'v'],
      'argument --cas-address: malformed CAS address "cas.example:rest:18765": REST port must be a number (expected host:restPort:attestationPort)',
    ],
    [
      'a CAS address with a port out of range',
      ['--cas-address', 'cas.example:8081:70000', '--cas-ca', 'c', '--generate-json-only', 'j', 'v'],
      'argument --cas-address: malformed CAS address "cas.example:8081:70000": attestation port 70000 is outside 1-65535',
    ],
    [
      'HW without --cas-ca',
      ['--cas-address', 'cas.example:8081:18765', '--generate-json-only', 'j', 'v'],
      'argument --cas-ca: required with --cas-address (the CA that signed the CAS certificate)',
    ],
    [
      'a submissions URL that is not a URL',
      ['--sgx-simulation', '--submissions-url', 'asperathos:1500', 'v'],
      'argument --submissions-url: expected an http or https URL',
    ],
    [
      'a submissions URL without a scheme',
      ['--sgx-simulation', '--submissions-url', 'just words', 'v'],
      "argument --submissions-url: not a URL: 'just words'",
    ],
    [
      'a submissions URL with credentials',
      ['--sgx-simulation', '--submissions-url', 'http://u:p@a/submissions', 'v'],
      'argument --submissions-url: credentials in the URL are not supported',
    ],
  ])('%s', async (_label, argv, message) => {
    expect(await run(argv)).toEqual(usageError(message));
  });

  it('an unknown option is named without any value glued to it', async () => {
    const result = await run([...SIM_JSON, '--key=jw5qHSw7SllodoaVpLPC0Q==', 'v']);
    expect(result).toEqual(usageError('unrecognized argument: --key'));
  });

  it('--help prints the help on stdout and exits 0', async () => {
    const result = await run(['--help']);
    expect(result).toEqual({ code: 0, stdout: `${HELP}\n`, stderr: '' });
    expect(HELP.startsWith(USAGE)).toBe(true);
    for (const option of [
      '--config',
      '--cert',
      '--cas-ca',
      '--expected-time',
      '--item-lease-secs',
      '--verbosity',
      '--cas-address',
      '--sgx-simulation',
      '--generate-json-only',
      '--submissions-url',
      '--public',
      '--tempurl-ttl',
    ]) {
      expect(HELP).toContain(`  ${option} `);
    }
  });
});
