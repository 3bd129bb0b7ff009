/**
 * Every command's `--help` (usage first, then the environment it reads and its exit statuses) and its answer to
 * an unknown option (exit 2, naming the option). Run in process with captured output; nothing is executed.
 */
import { describe, expect, it } from '@jest/globals';
import { main as radiomics } from '#bin/radiomics-cli.js';
import { main as submitJob } from '#bin/submit-job-cli.js';
import { run as analyze } from '#bin/commands/analyze.js';
import { run as enclaveConfig } from '#bin/commands/enclave-config.js';
import { run as generateCertificate } from '#bin/commands/generate-certificate.js';
import { run as results } from '#bin/commands/results.js';
import { run as seal } from '#bin/commands/seal.js';
import { run as status } from '#bin/commands/status.js';
import { run as unseal } from '#bin/commands/unseal.js';

type Out = { write(text: string): unknown };
type Cli = (argv: string[], out: Out, err: Out) => Promise<number>;

interface Case {
  program: string;
  cli: Cli;
  usage: string;
  environment: string[];
  /** the stderr line naming an unknown option `--no-such-option` */
  unknownOption: string;
}

const command =
  (run: (args: string[], env: Record<string, string | undefined>, out: Out, err: Out) => Promise<number>): Cli =>
  (argv, out, err) =>
    run(argv, {}, out, err);

const CASES: Case[] = [
  {
    program: 'radiomics',
    cli: command(radiomics),
    usage: 'usage: radiomics <command> [options]',
    environment: [],
    unknownOption: "radiomics: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics seal',
    cli: command(seal),
    usage: 'usage: radiomics seal (--key <base64 16-byte key> | --key-file <path>) IN OUT',
    environment: [],
    unknownOption: "radiomics seal: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics unseal',
    cli: command(unseal),
    usage: 'usage: radiomics unseal (--key <base64 16-byte key> | --key-file <path>) IN OUT',
    environment: [],
    unknownOption: "radiomics unseal: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics analyze',
    cli: command(analyze),
    usage: 'usage: radiomics analyze CLIP [--json] [--anonymise DIR]',
    environment: ['FFMPEG_PATH'],
    unknownOption: "radiomics analyze: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics generate-certificate',
    cli: command(generateCertificate),
    usage: 'usage: radiomics generate-certificate [OUT] [--days N] [--key-type rsa|ec] [--common-name CN]',
    environment: ['OPENSSL_BIN'],
    unknownOption: 'radiomics generate-certificate: error: unrecognized argument: --no-such-option',
  },
  {
    program: 'radiomics enclave-config',
    cli: command(enclaveConfig),
    usage: 'usage: radiomics enclave-config --keytag FILE --mrenclave FILE --image NAME [--ffmpeg-mrenclave FILE] [--out config.json]',
    environment: [],
    unknownOption: "radiomics enclave-config: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics status',
    cli: command(status),
    usage: 'usage: radiomics status [JOB_ID] [--api URL] [--token TOKEN | --token-file PATH] [--json] [--watch [--interval SECS]]',
    environment: ['RADIOMICS_API_URL', 'RADIOMICS_TOKEN_FILE', 'RADIOMICS_TOKEN'],
    unknownOption: "radiomics status: unknown option '--no-such-option'",
  },
  {
    program: 'radiomics results',
    cli: command(results),
    usage: 'usage: radiomics results (JOB_ID | --batch BATCH_ID) --out DIR [--api URL] [--token TOKEN | --token-file PATH]',
    environment: ['RADIOMICS_API_URL', 'RADIOMICS_TOKEN_FILE', 'RADIOMICS_TOKEN'],
    unknownOption: "radiomics results: unknown option '--no-such-option'",
  },
  {
    program: 'submit-job',
    cli: (argv, out, err) => submitJob(argv, {}, { stdout: (text) => out.write(text), stderr: (text) => err.write(text) }),
    usage: 'usage: submit-job [-h] [--config CONFIG] [--cert CERT] [--cas-ca CA] [--cas-server-name NAME]',
    environment: ['OS_AUTH_URL', 'ST_AUTH', 'TEMPURL_KEY', 'GRAFANA_USER', 'GRAFANA_PASSWORD'],
    unknownOption: 'submit-job: error: unrecognized argument: --no-such-option',
  },
];

function capture() {
  const stream = {
    text: '',
    write(text: string) {
      stream.text += text;
      return true;
    },
  };
  return stream;
}

async function call(cli: Cli, argv: string[]) {
  const out = capture();
  const err = capture();
  const code = await cli(argv, out, err);
  return { code, stdout: out.text, stderr: err.text };
}

describe.each(CASES)('$program', ({ cli, usage, environment, unknownOption }) => {
  it('--help: the usage first, the environment it reads, the exit statuses; exit 0', async () => {
    const { code, stdout, stderr } = await call(cli, ['--help']);
    expect({ code, stderr, firstLine: stdout.split('\n')[0] }).toEqual({ code: 0, stderr: '', firstLine: usage });
    expect(stdout).toMatch(/\n\noptions:\n {2}-h, --help {16}show this help and exit\n/);
    const section = stdout.slice(stdout.indexOf('\n\nenvironment:\n'));
    expect(section).toMatch(/^\n\nenvironment:\n(.+\n)+\nexit status:\n {2}0 {3}.+\n(.+\n)* {2}2 {3}usage error/);
    for (const name of environment) expect(section.split('\n\nexit status:')[0]).toContain(name);
  });

  it('-h is the same as --help', async () => {
    expect(await call(cli, ['-h'])).toEqual(await call(cli, ['--help']));
  });

  it('an unknown option: exit 2, the option named, its value never echoed', async () => {
    const { code, stdout, stderr } = await call(cli, ['--no-such-option=s3cr3t']);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.split('\n')).toContain(unknownOption);
    expect(stderr).not.toContain('s3cr3t');
  });
});

describe('radiomics', () => {
  it('passes --help on to the command after it', async () => {
    const { code, stdout } = await call(command(radiomics), ['seal', 'in', 'out', '--help']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('usage: radiomics seal (--key <base64 16-byte key> | --key-file <path>) IN OUT');
  });

  it('an unknown command: exit 2, the command named, the commands listed', async () => {
    const { code, stdout, stderr } = await call(command(radiomics), ['frobnicate']);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.startsWith("radiomics: unknown command 'frobnicate'\nusage: radiomics <command> [options]\ncommands:\n  seal ")).toBe(
      true,
    );
  });

  it('no command: the help, exit 2', async () => {
    const { code, stdout } = await call(command(radiomics), []);
    expect(code).toBe(2);
    expect(stdout.split('\n')[0]).toBe('usage: radiomics <command> [options]');
  });
});
