/**
 * `radiomics generate-certificate [OUT] [--days N] [--key-type rsa|ec] [--common-name CN]`: the CAS client
 * certificate, replacing the original's generate_certificate.sh (a self-signed RSA-4096 certificate, 365 days).
 * Writes OUT (default client.pem, the certificate, 0644) and its key beside it as `<OUT without .pem>-key.pem`
 * (0600), which is where `submit-job --cert OUT` looks for it. Refuses to overwrite either file: the CAS knows a
 * session's owner by this certificate, so losing the key loses the sessions.
 * Exit: 0 written, 1 failed (a file exists, openssl failed, cannot write), 2 usage error. The key is never printed.
 */
import { UsageError, scanArgs } from '#bin/support/args.js';
import { existsSync } from 'node:fs';
import { ConfigError } from '#lib/errors.js';
import { generateClientCertificate, validateCommonName, writeClientCertificate, type KeyType } from '#bin/support/certs.js';
import { siblingKeyPath } from '#bin/submit-job/inputs.js';

export const USAGE = 'usage: radiomics generate-certificate [OUT] [--days N] [--key-type rsa|ec] [--common-name CN]';
export const HELP = `${USAGE}

Make a self-signed CAS client certificate and key (like the original generate_certificate.sh).
  OUT                 certificate file (default: client.pem); the key goes to OUT-without-.pem + "-key.pem"
                      (client-key.pem), mode 0600. Existing files are never overwritten.
  --days N            validity in days, 1-3650 (default: 365)
  --key-type rsa|ec   RSA 4096 (default, like the original) or EC P-256
  --common-name CN    subject CN (default: trustworthy-radiomics)`;


interface Args {
  out: string;
  days: number;
  keyType: KeyType;
  commonName?: string;
}

export function parseGenerateCertificateArgs(argv: readonly string[]): Args | 'help' {
  const scanned = scanArgs(argv, { values: new Set(['--days', '--key-type', '--common-name']) });
  if (scanned === 'help') return 'help';
  const { positionals, values } = scanned;
  if (positionals.length > 1) throw new UsageError(`unrecognized arguments: ${positionals.slice(1).join(' ')}`);
  const daysText = values.get('--days') ?? '365';
  if (!/^[0-9]{1,4}$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 3650) {
    throw new UsageError(`argument --days: expected a whole number 1-3650, got '${daysText.slice(0, 40)}'`);
  }
  const keyType = values.get('--key-type') ?? 'rsa';
  if (keyType !== 'rsa' && keyType !== 'ec') throw new UsageError(`argument --key-type: expected rsa or ec, got '${keyType.slice(0, 40)}'`);
  const commonName = values.get('--common-name');
  if (commonName !== undefined) {
    try {
      validateCommonName(commonName);
    } catch (error) {
      throw new UsageError(`argument --common-name: ${(error as Error).message}`);
    }
  }
  return { out: positionals[0] ?? 'client.pem', days: Number(daysText), keyType, commonName };
}

export async function run(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseGenerateCertificateArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${USAGE}\nradiomics generate-certificate: error: ${error.message}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const fail = (message: string) => {
    process.stderr.write(`radiomics generate-certificate: error: ${message}\n`);
    return 1;
  };
  const keyPath = siblingKeyPath(args.out);
  if (existsSync(keyPath)) return fail(`refusing to overwrite the existing key file ${keyPath}`);
  if (existsSync(args.out)) return fail(`refusing to overwrite the existing file ${args.out}`);
  try {
    const certificate = await generateClientCertificate({ days: args.days, keyType: args.keyType, commonName: args.commonName });
    await writeClientCertificate(certificate, args.out, keyPath);
    process.stdout.write(
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
