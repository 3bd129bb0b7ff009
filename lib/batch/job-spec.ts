/**
 * What a batch's job and (HW mode) Palaemon session carry, from the submission settings.
 * HW: the key and the worker's settings live only in the session; the job's env_vars hold SCONE settings only.
 * SIM: no CAS, so the key and the worker's settings travel in env_vars, exactly as the original --sgx-simulation.
 */
import { buildJob, hwEnvironment, simEnvironment, type KubejobsJob } from '../asperathos/index.js';
import { buildRadiomicsSession, type EnclaveImage } from '../palaemon/index.js';

export interface SubmissionSettings {
  mode: 'HW' | 'SIM';
  /** CAS address `host:restPort:attestationPort` (HW). */
  casAddress?: string;
  sessionFormat: 'tutorial' | '0.3';
  enclave: EnclaveImage;
  /** The worker command as the job's `cmd`, and (HW) the session's `command`. */
  workerCmd: string[];
  initSize: number;
  expectedTimeSecs: number;
  itemLeaseSecs: number;
  verbosity: number;
  /** Non-secret settings the worker needs (e.g. ST_AUTH, ST_USER or OS_AUTH_URL, OS_PROJECT_NAME). */
  workerEnv: Record<string, string>;
  /** Credentials the worker needs (e.g. ST_KEY, OS_PASSWORD): session secrets in HW, env_vars in SIM. */
  workerSecretEnv: Record<string, string>;
}

function workerSettings(batchId: string, settings: SubmissionSettings): Record<string, string> {
  return { JOB_NAME: batchId, ITEM_LEASE_SECS: String(settings.itemLeaseSecs), ...settings.workerEnv };
}

export function buildBatchSession(batchId: string, key: Buffer, settings: SubmissionSettings): string {
  return buildRadiomicsSession({
    format: settings.sessionFormat,
    name: batchId,
    image: settings.enclave,
    command: settings.workerCmd.join(' '),
    encryptionKey: key.toString('base64'),
    environment: workerSettings(batchId, settings),
    secretEnvironment: settings.workerSecretEnv,
  });
}

export function buildBatchJob(batchId: string, workloadUrl: string, key: Buffer, settings: SubmissionSettings): KubejobsJob {
  const env =
    settings.mode === 'HW'
      ? hwEnvironment({ sessionName: batchId, cas: settings.casAddress ?? '', verbosity: settings.verbosity })
      : {
          ...simEnvironment({
            fspf: { path: settings.enclave.fspfPath, key: settings.enclave.fspfKey, tag: settings.enclave.fspfTag },
            encryptionKey: key.toString('base64'),
            itemLeaseSecs: settings.itemLeaseSecs,
            verbosity: settings.verbosity,
            swift: { ...settings.workerEnv, ...settings.workerSecretEnv },
          }),
          JOB_NAME: batchId,
        };
  return buildJob({
    workloadUrl,
    image: settings.enclave.imageName,
    env,
    cmd: settings.workerCmd,
    initSize: settings.initSize,
    expectedTimeSecs: settings.expectedTimeSecs,
  });
}
