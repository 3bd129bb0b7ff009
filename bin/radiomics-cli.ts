/**
 * `radiomics <command> …`: each command lives in bin/commands/<command>.ts and exports
 * `run(args, env, out, err): Promise<number>`, the exit status.
 */
import { EXIT_USAGE, UsageError, commandHelp, defineCommand, runCommand, shown, type Out } from '#bin/support/command-line.js';

type CommandModule = { run(args: string[], env: Record<string, string | undefined>, out: Out, err: Out): Promise<number> };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  seal: () => import('#bin/commands/seal.js'),
  unseal: () => import('#bin/commands/unseal.js'),
  analyze: () => import('#bin/commands/analyze.js'),
  'generate-certificate': () => import('#bin/commands/generate-certificate.js'),
  'enclave-config': () => import('#bin/commands/enclave-config.js'),
  status: () => import('#bin/commands/status.js'),
  results: () => import('#bin/commands/results.js'),
};

export const RADIOMICS = defineCommand({
  program: 'radiomics',
  usage: `usage: radiomics <command> [options]
commands:
  seal --key <base64 16-byte key> IN OUT     encrypt IN to OUT as iv(12) | tag(16) | ciphertext
  unseal --key <base64 16-byte key> IN OUT   decrypt and verify; writes nothing on a wrong key or tampering
  analyze CLIP.mp4 [--json] [--anonymise DIR] run the radiomics pipeline on a plain clip
  generate-certificate [OUT] [--days N] [--key-type rsa|ec]
                                             CAS client certificate (OUT, default client.pem) + key OUT-key.pem (0600)
  enclave-config --keytag K --mrenclave M --image NAME [--out config.json]
                                             config.json of an enclave image build (see enclave/README.md)
  status [JOB_ID | --video ID | --source KEY | --sop UID] [--api URL] [--token T | --token-file F] [--json | --watch]
                                             jobs and progress, or one video and its upload, from the status API
  results (JOB_ID | --batch ID | --video ID | --source KEY | --sop UID) --out DIR [--api URL] [--token T | --token-file F]
                                             download a job's (or one clip's) results; write DIR/features.csv and
                                             DIR/report.html`,
  about:
    "The radiomics command-line tools. `radiomics <command> --help` tells a command's arguments, options, environment and exit statuses.",
  options: {},
  environment: "each command's own: see `radiomics <command> --help`",
  exitStatus: [
    [0, 'done'],
    [1, 'failed (each command says how)'],
    [2, 'usage error, no command or an unknown one'],
  ],
});

export async function main(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    out.write(`${commandHelp(RADIOMICS)}\n`);
    return EXIT_USAGE;
  }
  if (Object.hasOwn(COMMANDS, command)) return (await COMMANDS[command]()).run(rest, env, out, err);
  // Only -h/--help comes before a command; anything else there is an unknown option or command.
  return runCommand(RADIOMICS, [command], { out, err }, () => {
    throw new UsageError(`unknown command '${shown(command)}'`);
  });
}
