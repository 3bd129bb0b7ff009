/** `radiomics <command> …`: each command lives in bin/commands/<command>.ts and exports `run(args): Promise<number>`. */
const COMMANDS: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  seal: () => import('#bin/commands/seal.js'),
  unseal: () => import('#bin/commands/unseal.js'),
  analyze: () => import('#bin/commands/analyze.js'),
  'generate-certificate': () => import('#bin/commands/generate-certificate.js'),
  'enclave-config': () => import('#bin/commands/enclave-config.js'),
  status: () => import('#bin/commands/status.js'),
  results: () => import('#bin/commands/results.js'),
};

const USAGE = `usage: radiomics <command> [options]
commands:
  seal --key <base64 16-byte key> IN OUT     encrypt IN to OUT as iv(12) | tag(16) | ciphertext
  unseal --key <base64 16-byte key> IN OUT   decrypt and verify; writes nothing on a wrong key or tampering
  analyze CLIP.mp4 [--json] [--anonymise DIR] run the radiomics pipeline on a plain clip
  generate-certificate [OUT] [--days N] [--key-type rsa|ec]
                                             CAS client certificate (OUT, default client.pem) + key OUT-key.pem (0600)
  enclave-config --keytag K --mrenclave M --image NAME [--out config.json]
                                             config.json of an enclave image build (see enclave/README.md)
  status [JOB_ID] [--api URL] [--token T | --token-file F] [--json]
                                             jobs and progress from the status API
  results (JOB_ID | --batch ID) --out DIR [--api URL] [--token T | --token-file F]
                                             download a job's results; write DIR/features.csv and DIR/report.html`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`radiomics: unknown command '${command}'\n${USAGE}\n`);
    return 2;
  }
  return (await load()).run(rest);
}
