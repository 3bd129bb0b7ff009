/**
 * `radiomics generate-certificate [OUT] [--days N] [--key-type rsa|ec] [--common-name CN]`: the CAS client
 * certificate, replacing the original's generate_certificate.sh (a self-signed RSA-4096 certificate, 365 days).
 * Writes OUT (default client.pem, the certificate, 0644) and its key beside it as `<OUT without .pem>-key.pem`
 * (0600), which is where `submit-job --cert OUT` looks for it. Refuses to overwrite either file: the CAS knows a
 * session's owner by this certificate, so losing the key loses the sessions.
 * Exit: 0 written, 1 failed (a file exists, openssl failed, cannot write), 2 usage error. The key is never printed.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '#lib/errors.js';
import {
  UsageError,
  commandHelp,
  defineCommand,
  parseCommand,
  runCommand,
  shown,
  type Out,
  type ParsedArgs,
} from '#bin/support/command-line.js';
import { generateClientCertificate, validateCommonName, writeClientCertificate, type KeyType } from '#bin/support/certs.js';
import { siblingKeyPath } from '#bin/submit-job/inputs.js';

export const GENERATE_CERTIFICATE = defineCommand({
  program: 'radiomics generate-certificate',
  usage: 'usage: radiomics generate-certificate [OUT] [--days N] [--key-type rsa|ec] [--common-name CN]',
  about: 'Make a self-signed CAS client certificate and key (like the original generate_certificate.sh). The key is never printed.',
  arguments: [
    [
      'OUT',
      'certificate file (default: client.pem); the key goes to OUT-without-.pem + "-key.pem" (client-key.pem), mode 0600. Existing files are never overwritten.',
    ],
  ],
  options: {
    days: { type: 'string', value: 'N', help: 'validity in days, 1-3650', default: 365 },
    'key-type': { type: 'string', value: 'rsa|ec', help: 'RSA 4096 (like the original) or EC P-256', default: 'rsa' },
    'common-name': { type: 'string', value: 'CN', help: 'subject CN', default: 'trustworthy-radiomics' },
  },
  environment: [['OPENSSL_BIN', 'the openssl that makes the key and certificate (default: /usr/bin/openssl)']],
  exitStatus: [
    [0, 'written'],
    [1, 'failed: a file exists, openssl failed, a file cannot be written'],
    [2, 'usage error'],
  ],
  argparse: true,
});

export const USAGE = GENERATE_CERTIFICATE.usage;
export const HELP = commandHelp(GENERATE_CERTIFICATE);

interface Args {
  out: string;
  days: number;
  keyType: KeyType;
  commonName?: string;
}

export function parseGenerateCertificateArgs(argv: readonly string[]): Args | 'help' {
  const parsed = parseCommand(GENERATE_CERTIFICATE, argv);
  return parsed === 'help' ? 'help' : certificateArgs(parsed);
}

function certificateArgs({ positionals, values }: ParsedArgs<typeof GENERATE_CERTIFICATE.options>): Args {
  if (positionals.length > 1) throw new UsageError(`unrecognized arguments: ${positionals.slice(1).map(shown).join(' ')}`);
  const daysText = values.days ?? '365';
  if (!/^[0-9]{1,4}$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 3650) {
    throw new UsageError(`argument --days: expected a whole number 1-3650, got '${shown(daysText)}'`);
  }
  const keyType = values['key-type'] ?? 'rsa';
  if (keyType !== 'rsa' && keyType !== 'ec') throw new UsageError(`argument --key-type: expected rsa or ec, got '${shown(keyType)}'`);
  const commonName = values['common-name'];
  if (commonName !== undefined) {
    try {
      validateCommonName(commonName);
    } catch (error) {
      throw new UsageError(`argument --common-name: ${(error as Error).message}`);
    }
  }
  return { out: positionals[0] ?? 'client.pem', days: Number(daysText), keyType, commonName };
}

export async function run(
  argv: string[],
  _env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runCommand(GENERATE_CERTIFICATE, argv, { out, err }, (parsed) => generate(certificateArgs(parsed), out, err));
}

async function generate(args: Args, out: Out, err: Out): Promise<number> {
  const fail = (message: string) => {
    err.write(`radiomics generate-certificate: error: ${message}\n`);
    return 1;
  };
  const keyPath = siblingKeyPath(args.out);
  if (existsSync(keyPath)) return fail(`refusing to overwrite the existing key file ${keyPath}`);
  if (existsSync(args.out)) return fail(`refusing to overwrite the existing file ${args.out}`);
  try {
    const certificate = await generateClientCertificate({ days: args.days, keyType: args.keyType, commonName: args.commonName });
    await writeClientCertificate(certificate, args.out, keyPath);
    out.write(
      `Certificate: ${args.out}\n` +
        `Private key: ${keyPath} (mode 0600; keep it: the CAS sessions you create belong to it)\n` +
        `SHA-256 fingerprint: ${certificate.fingerprintSha256}\n` +
        `Valid until: ${certificate.notAfter.toISOString()}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    const code = (error as NodeJS.ErrnoException)?.code;
    if (typeof code === 'string') return fail(`cannot write ${(error as NodeJS.ErrnoException).path ?? args.out}: ${code}`);
    return fail(error instanceof Error ? error.message : String(error));
  }
}
