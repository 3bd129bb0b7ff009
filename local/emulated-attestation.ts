/**
 * LOCAL RUNS ONLY: asks the Palaemon emulator (local/palaemon-emulator.ts) for a service's configuration, as the
 * SCONE runtime asks the CAS after attesting the enclave. Proves nothing: any local process can present any
 * MRENCLAVE. Never imported by enclave/ (test/unit/enclave/build.test.ts checks the bundle).
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';

export interface AttestationRequest {
  /** SCONE_CONFIG_ID: `<session>/<service>`. */
  configId: string;
  /** SCONE_CAS_ADDR: `<host>:<attestation port>` of the emulator's attestation port. */
  casAddress: string;
  /** PEM file of the CA that signed the emulator's certificate. */
  caFile: string;
  /** The MRENCLAVE this "enclave" claims (64 hex). */
  mrenclave: string;
  /** Platform properties the CAS must tolerate, e.g. ['debug-mode'] (default none: a production enclave). */
  platform?: readonly string[];
}

export interface ServiceConfiguration {
  command: string;
  pwd: string | null;
  /** After `$$SCONE::…$$` substitution; `@@NAME` keys are left for the runtime to fill from the host. */
  environment: Record<string, string>;
}

export class AttestationError extends Error {
  override readonly name = 'AttestationError';
}

function getText(url: URL, ca: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function attestWithEmulator(input: AttestationRequest): Promise<ServiceConfiguration> {
  const [session, service, extra] = input.configId.split('/');
  if (!session || !service || extra !== undefined) throw new AttestationError('SCONE_CONFIG_ID must be <session>/<service>');
  const url = new URL(`/v1/attest/${encodeURIComponent(session)}/${encodeURIComponent(service)}`, `https://${input.casAddress}`);
  let answer: { status: number; body: string };
  try {
    const headers: Record<string, string> = { 'X-Emulated-Mrenclave': input.mrenclave };
    if (input.platform && input.platform.length > 0) headers['X-Emulated-Platform'] = input.platform.join(',');
    answer = await getText(url, await readFile(input.caFile), headers);
  } catch (error) {
    throw new AttestationError(`emulated attestation failed: ${(error as Error).message}`);
  }
  if (answer.status !== 200) throw new AttestationError(`emulated attestation refused (${answer.status})`);
  const granted = JSON.parse(answer.body) as { command?: unknown; pwd?: unknown; environment?: Record<string, string> };
  if (typeof granted.command !== 'string') throw new AttestationError('the session service has no command');
  return { command: granted.command, pwd: typeof granted.pwd === 'string' ? granted.pwd : null, environment: granted.environment ?? {} };
}
