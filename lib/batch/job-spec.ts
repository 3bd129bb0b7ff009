/**
 * What a batch's job and (HW mode) Palaemon session carry, from the submission settings.
 * HW: the key and the worker's settings live only in the session; the job's env_vars hold SCONE settings only.
 * SIM: no CAS, so the key and the worker's settings travel in env_vars, exactly as the original --sgx-simulation.
 */
import type { WorkerEnv } from '#lib/contract.js';
import { DEFAULT_LAS_ADDRESS, SCONE_TUNING, buildJob, hwEnvironment, simEnvironment, type KubejobsJob } from '#lib/asperathos/index.js';
import {
  FFMPEG_SERVICE_NAME,
  FFMPEG_SESSION_COMMAND,
  FFMPEG_SESSION_ENV,
  SESSION_WORKER_COMMAND,
  SESSION_WORKER_ENV,
  ffmpegChildEnvironment,
} from '#lib/enclave-image/layout.js';
import { buildRadiomicsSession, parseCasAddress, type EnclaveImage, type ServiceInput } from '#lib/palaemon/index.js';

export interface SubmissionSettings {
  mode: 'HW' | 'SIM';
  /** CAS address `host:restPort:attestationPort` (HW). */
  casAddress?: string;
  sessionFormat: 'tutorial' | '0.3';
  enclave: EnclaveImage;
  /** The job's `cmd`, which replaces the image's ENTRYPOINT: `/entrypoint.sh` for the enclave image. */
  workerCmd: string[];
  /** HW: the session's `command`, the program SCONE attests (default `node /app/worker.mjs`). */
  sessionCommand?: string;
  /** HW, 0.3 format: the declared session-language version (default `0.3`). */
  sessionVersion?: string;
  /** HW: `security.attestation.tolerate` (default none). */
  tolerate?: readonly string[];
  /** HW: `security.attestation.ignore_advisories` (default none). */
  ignoreAdvisories?: readonly string[];
  initSize: number;
  expectedTimeSecs: number;
  /** plugin_info.job_resources_lifetime; default DEFAULT_JOB_RESOURCES_LIFETIME_SECS. */
  resourcesLifetimeSecs?: number;
  /** The manager's Grafana dashboard; absent = enable_visualizer false. */
  visualizer?: { username: string; password: string };
  itemLeaseSecs: number;
  verbosity: number;
  /** Non-secret settings the worker needs (e.g. ST_AUTH, ST_USER or OS_AUTH_URL, OS_PROJECT_NAME). */
  workerEnv: Record<string, string>;
  /** Credentials the worker needs (e.g. ST_KEY, OS_PASSWORD): session secrets in HW, env_vars in SIM. */
  workerSecretEnv: Record<string, string>;
}

function workerSettings(batchId: string, settings: SubmissionSettings): Record<string, string> {
  const worker: WorkerEnv = { JOB_NAME: batchId, ITEM_LEASE_SECS: String(settings.itemLeaseSecs) };
  return { ...worker, ...settings.workerEnv };
}

/** With two MRENCLAVEs (node, ffmpeg), ffmpeg is its own service and the worker passes it its config id (lib/enclave-image/layout.ts). */
function ffmpegService(
  batchId: string,
  settings: SubmissionSettings,
): { service: ServiceInput; workerEnv: Record<string, string> } | undefined {
  const mrenclaves = settings.enclave.mrenclave;
  if (settings.sessionFormat !== '0.3' || typeof mrenclaves === 'string' || mrenclaves.length < 2 || !settings.casAddress) return undefined;
  return {
    service: {
      name: FFMPEG_SERVICE_NAME,
      image: { ...settings.enclave, mrenclave: mrenclaves[1] },
      command: FFMPEG_SESSION_COMMAND,
      environment: { ...FFMPEG_SESSION_ENV },
    },
    workerEnv: ffmpegChildEnvironment({
      sessionName: batchId,
      casAttestationAddress: parseCasAddress(settings.casAddress).attestationAddress,
      lasAddress: DEFAULT_LAS_ADDRESS,
      heap: SCONE_TUNING.SCONE_HEAP,
      stack: SCONE_TUNING.SCONE_STACK,
    }),
  };
}

export function buildBatchSession(batchId: string, key: Buffer, settings: SubmissionSettings): string {
  const ffmpeg = ffmpegService(batchId, settings);
  const mrenclaves = settings.enclave.mrenclave;
  return buildRadiomicsSession({
    format: settings.sessionFormat,
    name: batchId,
    image: ffmpeg && typeof mrenclaves !== 'string' ? { ...settings.enclave, mrenclave: mrenclaves[0] } : settings.enclave,
    command: settings.sessionCommand ?? SESSION_WORKER_COMMAND,
    encryptionKey: key.toString('base64'),
    environment: { ...SESSION_WORKER_ENV, ...(ffmpeg?.workerEnv ?? {}), ...workerSettings(batchId, settings) },
    childServices: ffmpeg ? [ffmpeg.service] : undefined,
    tolerate: settings.tolerate,
    ignoreAdvisories: settings.ignoreAdvisories,
    version: settings.sessionVersion,
    secretEnvironment: settings.workerSecretEnv,
  });
}

export function buildBatchJob(batchId: string, workloadUrl: string, key: Buffer, settings: SubmissionSettings): KubejobsJob {
  const job: WorkerEnv = { JOB_NAME: batchId };
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
          ...job,
        };
  return buildJob({
    workloadUrl,
    image: settings.enclave.imageName,
    env,
    cmd: settings.workerCmd,
    initSize: settings.initSize,
    expectedTimeSecs: settings.expectedTimeSecs,
    resourcesLifetimeSecs: settings.resourcesLifetimeSecs,
    visualizer: settings.visualizer,
  });
}
