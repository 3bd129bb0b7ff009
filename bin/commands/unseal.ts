/**
 * `radiomics unseal (--key B64 | --key-file PATH) IN OUT`: decrypt and verify a sealed file.
 * On a wrong key, tampered data or a truncated file it exits 1 and writes no output file
 * (plaintext is staged in a temp file beside OUT and renamed only after the tag verifies).
 * Arguments, exit codes and messages are shared with `seal` (see ./seal.ts).
 */
import type { Out } from '#bin/support/command-line.js';
import { unsealFile } from '#lib/seal/cipher.js';
import { runKeyedCommand } from './seal.js';

export async function run(
  args: string[],
  _env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runKeyedCommand('unseal', args, (key, input, output) => unsealFile(key, input, output), { out, err });
}
