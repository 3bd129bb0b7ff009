/**
 * `submit-job …`: the original Python CLI, ported (usage: bin/submit-job/args.ts SUBMIT_JOB; the work: lib/submit-job).
 * Exit: 0 done, 1 failed (nothing submitted), 2 usage error.
 */
import { runCommand } from '#bin/support/command-line.js';
import { SUBMIT_JOB, submitJobArgs } from '#bin/submit-job/args.js';
import { runSubmitJob, type SubmitJobIo } from '#bin/submit-job/run.js';

const processIo: SubmitJobIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function main(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: SubmitJobIo = processIo,
): Promise<number> {
  return runCommand(SUBMIT_JOB, argv, { out: { write: io.stdout }, err: { write: io.stderr } }, (parsed) =>
    runSubmitJob(submitJobArgs(parsed), env, io),
  );
}
