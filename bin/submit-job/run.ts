/**
 * `submit-job` from parsed arguments to an exit status: reads and checks the local inputs, builds the clients
 * (Swift from the environment, the CAS with mTLS, Asperathos), runs `submitJob` and reports.
 * stdout: the job id and URL (--submissions-url); nothing else. stderr: progress, warnings and errors.
 * Exit: 0 done, 1 failed. Errors are one line (`submit-job: error: …`), never a stack trace, never the key.
 */
import { AsperathosClient } from '#lib/asperathos/index.js';
import type { SubmissionSettings } from '#lib/batch/job-spec.js';
import { ConfigError, RejectedInput, RetryableError } from '#lib/errors.js';
import { CasRequestError, PalaemonClient } from '#lib/palaemon/index.js';
import { SwiftClient, isSwiftFailure, swiftAuthFromEnv, type SwiftAuthenticator } from '#lib/swift/index.js';
import { withCloudsYaml } from '#lib/swift/clouds-yaml.js';
import type { SubmitJobArgs } from './args.js';
import { SubmitJobError, checkVideos, findVideos, readCasTls, readEnclaveConfig, workerSwiftEnv } from './inputs.js';
import { WORKER_CMD, checkJsonOutput, submitJob } from './submit.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

export interface SubmitJobIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const SIM_WARNING = [
  '[WARNING] ************************************************************************',
  "[WARNING] SGX SIMULATION MODE: the batch key travels in the job's env_vars as",
  '[WARNING] ENCRYPTION_KEY, readable by anyone who can read the job. No enclave, no',
  '[WARNING] attestation. Never use --sgx-simulation for real patient data.',
  '[WARNING] ************************************************************************',
].join('\n');

/** A fetch that remembers the status of the last answer (0 while a request is out or after it failed). */
function statusRecordingFetch(): { fetch: typeof fetch; lastStatus: () => number } {
  let status = 0;
  return {
    fetch: async (input, init) => {
      status = 0;
      const res = await fetch(input, init);
      status = res.status;
      return res;
    },
    lastStatus: () => status,
  };
}

/** --enable-visualizer: the Grafana credentials, from the environment only (never argv, never printed). */
function grafanaCredentials(env: Record<string, string | undefined>): { username: string; password: string } {
  if (!env.GRAFANA_PASSWORD) throw new SubmitJobError('--enable-visualizer needs GRAFANA_PASSWORD in the environment');
  return { username: env.GRAFANA_USER || 'admin', password: env.GRAFANA_PASSWORD };
}

function describe(error: unknown): string {
  if (error instanceof SubmitJobError || error instanceof ConfigError || error instanceof CasRequestError) return error.message;
  if (isSwiftFailure(error)) return `Swift: ${error.message}`;
  if (error instanceof RetryableError || error instanceof RejectedInput) return error.message;
  return `unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
}

export async function runSubmitJob(args: SubmitJobArgs, env: Record<string, string | undefined>, io: SubmitJobIo): Promise<number> {
  const report = (line: string) => io.stderr(`${line}\n`);
  try {
    if (args.mode.kind === 'SIM') report(SIM_WARNING);
    const videos = await findVideos(args.dataPath);
    const enclave = await readEnclaveConfig(args.config);
    const tls = args.mode.kind === 'HW' ? await readCasTls(args.mode.cert, args.mode.casCa) : undefined;
    let swiftAuth: SwiftAuthenticator;
    try {
      swiftAuth = swiftAuthFromEnv(await withCloudsYaml(env));
    } catch (error) {
      const message = (error as Error).message;
      throw new SubmitJobError(message.startsWith('no Swift credentials') ? message : `Swift credentials: ${message}`);
    }
    if (args.output.kind === 'json') await checkJsonOutput(args.output.path);
    report(`[INFO] Checking ${videos.length} video${videos.length === 1 ? '' : 's'} under ${args.dataPath}`);
    const problems = await checkVideos(videos);
    if (problems.length > 0) {
      throw new SubmitJobError(
        `${problems.length} of ${videos.length} files are not complete MP4 videos; nothing was uploaded or submitted:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      );
    }

    const worker = workerSwiftEnv(env);
    const settings: SubmissionSettings = {
      mode: args.mode.kind,
      casAddress: args.mode.kind === 'HW' ? args.mode.casAddress : undefined,
      sessionFormat: '0.3',
      enclave,
      workerCmd: [...WORKER_CMD],
      initSize: 1,
      expectedTimeSecs: args.expectedTimeSecs,
      resourcesLifetimeSecs: args.resourcesLifetimeSecs,
      visualizer: args.enableVisualizer ? grafanaCredentials(env) : undefined,
      itemLeaseSecs: args.itemLeaseSecs,
      verbosity: args.verbosity,
      workerEnv: worker.settings,
      workerSecretEnv: worker.secrets,
    };
    const recorder = statusRecordingFetch();
    const result = await submitJob(
      { args, videos, settings },
      {
        swift: new SwiftClient({ auth: swiftAuth }),
        sessions:
          args.mode.kind === 'HW' && tls
            ? new PalaemonClient({
                casAddress: args.mode.casAddress,
                tls: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: args.mode.serverName },
              })
            : undefined,
        jobs:
          args.output.kind === 'submit'
            ? new AsperathosClient({ submissionsUrl: args.output.submissionsUrl, fetch: recorder.fetch })
            : undefined,
        jobsLastStatus: recorder.lastStatus,
        tempUrlKey: env.TEMPURL_KEY || undefined,
        report,
      },
    );
    if (result.jobId !== undefined) {
      report(`[INFO] Job submitted: ${result.items} video${result.items === 1 ? '' : 's'} in container '${result.container}'`);
      io.stdout(`Job ID: ${result.jobId}\nJob URL: ${result.jobUrl}\n`);
    }
    return EXIT_OK;
  } catch (error) {
    io.stderr(`submit-job: error: ${describe(error)}\n`);
    return EXIT_FAILED;
  }
}
