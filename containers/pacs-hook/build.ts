/**
 * Bundles the PACS hook container's entry (main.ts) into one file, its npm dependencies included, so the image
 * needs no node_modules:
 *
 *   node --import tsx containers/pacs-hook/build.ts [OUT_DIR]    → OUT_DIR/server.mjs (default dist/pacs-hook)
 *
 * Beside it, a package.json with {"type": "module"}. The AWS SDK's CommonJS parts call `require` for node
 * built-ins, which an ESM bundle lacks: a banner defines it with createRequire (as enclave/build.ts does).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = join(HERE, '..', '..', 'dist', 'pacs-hook');

const BANNER = [
  "import { createRequire as __hookCreateRequire } from 'node:module';",
  "if (typeof globalThis.require === 'undefined') globalThis.require = __hookCreateRequire(import.meta.url);",
].join('\n');

/** `inputs`: the bundled files of this repository (the npm packages' left out), relative to it. */
export async function buildPacsHookBundle(outDir: string = DEFAULT_OUT_DIR): Promise<{ bundle: string; bytes: number; inputs: string[] }> {
  const dir = resolve(outDir);
  const bundle = join(dir, 'server.mjs');
  await mkdir(dir, { recursive: true });
  const result = await build({
    entryPoints: [join(HERE, 'main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    legalComments: 'none',
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'silent',
  });
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ type: 'module', private: true })}\n`);
  const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]]?.bytes ?? 0;
  return {
    bundle,
    bytes,
    inputs: Object.keys(result.metafile.inputs)
      .filter((input) => !input.includes('node_modules/'))
      .sort(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildPacsHookBundle(process.argv[2]);
  process.stdout.write(`${JSON.stringify({ bundle: built.bundle, bytes: built.bytes })}\n`);
}
