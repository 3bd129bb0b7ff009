/**
 * Bundles the enclave worker into one file for the SCONE image (no npm install inside the image):
 *
 *   node --import tsx enclave/build.ts [OUT_DIR] [--target node20] [--minify]   → OUT_DIR/worker.mjs (default dist/enclave)
 *
 * Output:
 *   OUT_DIR/worker.mjs                     the worker, its code and its npm dependencies (ioredis, yazl), ESM
 *   OUT_DIR/radiomics/classifier.json      the shipped classifier: analyze-clip.ts loads it at run time with
 *                                          createRequire(import.meta.url), i.e. relative to worker.mjs
 *   OUT_DIR/package.json                   {"type": "module"} so `node worker.mjs` needs no flags
 * Everything in OUT_DIR is meant to be copied to /app and authenticated by the FSPF (enclave/fspf.sh), so the
 * code the enclave runs is measured even though node's MRENCLAVE only covers the interpreter.
 *
 * ioredis and yazl are CommonJS and call `require` for node built-ins; an ESM bundle has no `require`, so a
 * banner defines `globalThis.require` with createRequire (esbuild's require shim looks it up at run time).
 * The bundle needs Node ≥ 20.3 at run time (global fetch, AbortSignal.any in lib/swift): pick the SCONE curated
 * Node image accordingly and keep `--target` in step with it.
 */
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ENCLAVE_DIR = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = join(ENCLAVE_DIR, '..', 'dist', 'enclave');

export interface BuildOptions {
  outDir?: string;
  /** esbuild target, e.g. node20 (default) */
  target?: string;
  minify?: boolean;
}

export interface BuildResult {
  bundle: string;
  files: string[];
  bytes: number;
  /** Every source file in the bundle, relative to the repository (what the image's MRENCLAVE/FSPF will vouch for). */
  inputs: string[];
}

const BANNER = [
  "import { createRequire as __workerCreateRequire } from 'node:module';",
  "if (typeof globalThis.require === 'undefined') globalThis.require = __workerCreateRequire(import.meta.url);",
].join('\n');

export async function buildWorkerBundle(options: BuildOptions = {}): Promise<BuildResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_OUT_DIR);
  const bundle = join(outDir, 'worker.mjs');
  await mkdir(join(outDir, 'radiomics'), { recursive: true });
  const result = await build({
    entryPoints: [join(ENCLAVE_DIR, 'worker.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: options.target ?? 'node20',
    minify: options.minify ?? false,
    legalComments: 'none',
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'silent',
  });
  const classifier = join(outDir, 'radiomics', 'classifier.json');
  await rm(classifier, { force: true });
  await copyFile(join(ENCLAVE_DIR, 'radiomics', 'classifier.json'), classifier);
  await chmod(classifier, 0o644);
  const packageJson = join(outDir, 'package.json');
  await writeFile(packageJson, `${JSON.stringify({ type: 'module', private: true })}\n`);
  const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]]?.bytes ?? 0;
  return { bundle, files: [bundle, classifier, packageJson], bytes, inputs: Object.keys(result.metafile.inputs).sort() };
}

export const USAGE = 'usage: node --import tsx enclave/build.ts [OUT_DIR] [--target node20] [--minify]';

export const HELP = `${USAGE}

Bundle the enclave worker for the SCONE image (no npm install inside the image): OUT_DIR/worker.mjs, with
radiomics/classifier.json and a module package.json beside it. Prints {"bundle", "bytes", "files"} as one JSON line.

arguments:
  OUT_DIR                   where to write (default: dist/enclave)

options:
  -h, --help                show this help and exit
  --target TARGET           esbuild target; keep it in step with the SCONE Node image (default: node20)
  --minify                  minify the bundle

environment:
  none

exit status:
  0   written
  1   the build failed
  2   usage error`;

type Out = { write(text: string): unknown };

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { target: { type: 'string' }, minify: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
}

/** The command line (the same conventions as bin/support/command-line.ts, which enclave/ may not import). */
export async function main(argv: string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const usageError = (problem: string) => {
    err.write(`enclave/build.ts: ${problem}\n${USAGE}\n`);
    return 2;
  };
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    // node's first sentence names the option; the rest is advice about positionals
    return usageError((error as Error).message.split('. ')[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length > 1) return usageError(`expected at most one OUT_DIR, got ${positionals.length} arguments`);
  const built = await buildWorkerBundle({ outDir: positionals[0], target: values.target, minify: values.minify });
  out.write(`${JSON.stringify({ bundle: built.bundle, bytes: built.bytes, files: built.files })}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
