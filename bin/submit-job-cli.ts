/**
 * `submit-job …`: the original Python CLI, ported (usage: bin/submit-job/args.ts HELP; the work: lib/submit-job).
 * Exit: 0 done, 1 failed (nothing submitted), 2 usage error.
 */
import { HELP, USAGE, UsageError, parseSubmitJobArgs } from '#bin/submit-job/args.js';
import { EXIT_OK, EXIT_USAGE, runSubmitJob, type SubmitJobIo } from '#bin/submit-job/run.js';

const processIo: SubmitJobIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function main(argv: string[], env: Record<string, string | undefined> = process.env, io: SubmitJobIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseSubmitJobArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`${USAGE}\nsubmit-job: error: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (parsed === 'help') {
    io.stdout(HELP + '\n');
    return EXIT_OK;
  }
  return runSubmitJob(parsed, env, io);
}
