/**
 * LOCAL RUNS ONLY — stands in for the SCONE runtime and proves nothing about the code that runs.
 * In HW mode the real runtime attests the enclave (MRENCLAVE) to the CAS named by SCONE_CAS_ADDR and replaces
 * the process environment with the environment of the session service SCONE_CONFIG_ID; the key arrives that
 * way and never through the job. Here, when LOCAL_CAS_ATTESTATION_URL is set (the local stack sets it), the
 * worker asks the Palaemon emulator's emulated-attestation endpoint for that environment, presenting the
 * MRENCLAVE in LOCAL_EMULATED_MRENCLAVE, over TLS pinned to LOCAL_CAS_CA_FILE. As with SCONE, the session's
 * environment replaces the job's, except the REDIS_* settings kubejobs gives the pod (enclave/entrypoint.sh
 * keeps those through /env files in the real image).
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { ConfigError } from '../lib/errors.js';

type Env = Record<string, string | undefined>;

function getJson(url: URL, ca: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca, headers, timeout: 10_000 }, (res) => {
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

/** The environment the worker runs with: the session's (emulated attestation) when configured, else `env`. */
export async function attestedEnvironment(env: Env): Promise<Env> {
  const base = env.LOCAL_CAS_ATTESTATION_URL;
  if (!base) return env;
  const configId = env.SCONE_CONFIG_ID ?? '';
  const [session, service, extra] = configId.split('/');
  if (!session || !service || extra !== undefined) throw new ConfigError('SCONE_CONFIG_ID must be <session>/<service>');
  if (!env.LOCAL_CAS_CA_FILE || !env.LOCAL_EMULATED_MRENCLAVE) {
    throw new ConfigError('emulated attestation needs LOCAL_CAS_CA_FILE and LOCAL_EMULATED_MRENCLAVE');
  }
  const url = new URL(`/v1/attest/${encodeURIComponent(session)}/${encodeURIComponent(service)}`, base);
  let answer: { status: number; body: string };
  try {
    answer = await getJson(url, await readFile(env.LOCAL_CAS_CA_FILE), { 'X-Emulated-Mrenclave': env.LOCAL_EMULATED_MRENCLAVE });
  } catch (error) {
    throw new ConfigError(`emulated attestation failed: ${(error as Error).message}`);
  }
  if (answer.status !== 200) throw new ConfigError(`emulated attestation refused (${answer.status})`);
  const granted = (JSON.parse(answer.body) as { environment?: Record<string, string> }).environment ?? {};
  const kept = Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('REDIS_') || name === 'PATH' || name === 'HOME'));
  return { ...kept, ...granted };
}
