/**
 * `radiomics enclave-config --keytag FILE --mrenclave FILE --image NAME [--ffmpeg-mrenclave FILE] [--out config.json]`:
 * writes the enclave image facts (mrenclave, image-name, fspf-tag, fspf-key, fspf-path) from the image build's
 * output (enclave/build-image.sh runs it). What the files hold and how they are read: enclave/build-config.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError, defineCommand, runCommand, shown, type Out } from '#bin/support/command-line.js';
import { buildEnclaveConfig, type EnclaveImageConfig } from '#enclave/build-config.js';
import { ConfigError } from '#lib/errors.js';

export const ENCLAVE_CONFIG = defineCommand({
  program: 'radiomics enclave-config',
  usage: 'usage: radiomics enclave-config --keytag FILE --mrenclave FILE --image NAME [--ffmpeg-mrenclave FILE] [--out config.json]',
  about:
    "Write config.json (mrenclave, image-name, fspf-tag, fspf-key, fspf-path) from the enclave image build's output, as the original build_image.sh did. A FILE of - reads stdin. The FSPF key is never printed.",
  options: {
    keytag: { type: 'string', value: 'FILE', help: 'the output of `scone fspf encrypt` (required)' },
    mrenclave: {
      type: 'string',
      value: 'FILE',
      help: 'the worker interpreter\'s MRENCLAVE: SCONE_HASH=1 output, "Enclave hash: <hex>" or "MRENCLAVE: <hex>" (required)',
    },
    image: {
      type: 'string',
      value: 'NAME',
      help: 'the image reference the job runs, e.g. registry.example.org/radiomics/worker:1.4.0 (required)',
    },
    'ffmpeg-mrenclave': {
      type: 'string',
      value: 'FILE',
      help: "the sconified ffmpeg's MRENCLAVE, written as mrenclaves: [worker, ffmpeg]",
    },
    out: { type: 'string', value: 'PATH', help: 'where to write config.json (mode 0600: it holds the FSPF key)', default: 'stdout' },
  },
  environment: [],
  exitStatus: [
    [0, 'written'],
    [1, 'the build output is invalid or a FILE does not exist'],
    [2, 'usage error'],
  ],
});

export async function run(
  args: string[],
  _env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
  io: { stdin?: () => string } = {},
): Promise<number> {
  return runCommand(ENCLAVE_CONFIG, args, { out, err }, ({ values, positionals }) => {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${shown(positionals[0])}'`);
    const { keytag, mrenclave, image } = values;
    if (keytag === undefined) throw new UsageError('--keytag is required');
    if (mrenclave === undefined) throw new UsageError('--mrenclave is required');
    if (image === undefined) throw new UsageError('--image is required');
    const readInput = (file: string) => (file === '-' ? (io.stdin ?? (() => readFileSync(0, 'utf8')))() : readFileSync(file, 'utf8'));
    let config: EnclaveImageConfig;
    try {
      config = buildEnclaveConfig({
        keytag: readInput(keytag),
        mrenclave: readInput(mrenclave),
        imageName: image,
        ffmpegMrenclave: values['ffmpeg-mrenclave'] === undefined ? undefined : readInput(values['ffmpeg-mrenclave']),
      });
    } catch (error) {
      if (error instanceof ConfigError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
        err.write(`radiomics enclave-config: ${(error as Error).message}\n`);
        return 1;
      }
      throw error;
    }
    const json = `${JSON.stringify(config, null, 2)}\n`;
    if (values.out) writeFileSync(values.out, json, { mode: 0o600 });
    else out.write(json);
    return 0;
  });
}
