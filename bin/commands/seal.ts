/**
 * `radiomics seal (--key B64 | --key-file PATH) IN OUT`: encrypt IN to OUT as iv(12) | tag(16) | ciphertext.
 * Usage, options and exit statuses: KEYED_COMMANDS below (`--help`). The key is never printed, and neither is
 * any argument that might be one.
 *
 * This module also holds the arguments and error reporting shared with `unseal`.
 */
import { readFile } from 'node:fs/promises';
import { UsageError, defineCommand, runCommand, type Out, type ParsedArgs } from '#bin/support/command-line.js';
import { ConfigError } from '#lib/errors.js';
import { UnsealError, parseKeyBase64, sealFile } from '#lib/seal/cipher.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;

export type KeyedCommand = 'seal' | 'unseal';

const KEY_OPTIONS = {
  key: { type: 'string', value: 'B64', help: "the 16-byte key in standard base64: 24 characters ending in '=='" },
  'key-file': { type: 'string', value: 'PATH', help: 'a file holding the key in base64 (one trailing newline allowed)' },
} as const;

const USAGE_ERROR = 'usage error: missing or unknown arguments, a malformed key, a key file that cannot be read';

export const KEYED_COMMANDS = {
  seal: defineCommand({
    program: 'radiomics seal',
    usage: 'usage: radiomics seal (--key <base64 16-byte key> | --key-file <path>) IN OUT',
    about: 'Encrypt IN to OUT with AES-128-GCM as iv(12) | tag(16) | ciphertext, the form the worker decrypts. The key is never printed.',
    arguments: [
      ['IN', 'the file to seal'],
      ['OUT', 'the sealed file to write'],
    ],
    options: KEY_OPTIONS,
    environment: [],
    exitStatus: [
      [0, 'sealed'],
      [1, 'failed: IN cannot be read or OUT cannot be written'],
      [2, USAGE_ERROR],
    ],
  }),
  unseal: defineCommand({
    program: 'radiomics unseal',
    usage: 'usage: radiomics unseal (--key <base64 16-byte key> | --key-file <path>) IN OUT',
    about:
      'Decrypt and verify a sealed file (iv(12) | tag(16) | ciphertext). OUT appears only once the tag verifies: on a wrong key, tampered or truncated data nothing is written. The key is never printed.',
    arguments: [
      ['IN', 'the sealed file'],
      ['OUT', 'the plain file to write'],
    ],
    options: KEY_OPTIONS,
    environment: [],
    exitStatus: [
      [0, 'unsealed and verified'],
      [1, 'failed: wrong key, tampered or truncated data (no output written), IN cannot be read, OUT cannot be written'],
      [2, USAGE_ERROR],
    ],
  }),
};

export interface KeyedArgs {
  key?: string;
  keyFile?: string;
  input: string;
  output: string;
}

function keyedArgs({ values, positionals }: ParsedArgs<typeof KEY_OPTIONS>): KeyedArgs {
  const { key, 'key-file': keyFile } = values;
  if (key === undefined && keyFile === undefined) throw new UsageError('a key is required: --key or --key-file');
  if (key !== undefined && keyFile !== undefined) throw new UsageError('give --key or --key-file, not both');
  if (positionals.length !== 2)
    throw new UsageError(`expected IN and OUT, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  return { key, keyFile, input: positionals[0], output: positionals[1] };
}

/** Read the key from `--key` or `--key-file` (a single trailing newline in the file is allowed). */
async function resolveKey(args: KeyedArgs): Promise<Buffer> {
  if (args.key !== undefined) return parseKeyBase64(args.key);
  let text: string;
  try {
    text = await readFile(args.keyFile!, 'latin1');
  } catch (error) {
    throw new UsageError(`cannot read key file ${args.keyFile}: ${fsReason(error)}`);
  }
  return parseKeyBase64(text.replace(/\r?\n$/, ''));
}

function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return code ?? 'error';
  }
}

/** A one-line description of a failure, naming which file (IN or OUT) it concerns. Never includes a key. */
function describeFailure(error: unknown, args: KeyedArgs): string {
  if (error instanceof UnsealError) return `${error.message}; no output written`;
  const fsError = error as NodeJS.ErrnoException;
  if (typeof fsError?.code === 'string' && typeof fsError.syscall === 'string') {
    if (fsError.path === args.input) return `cannot read input ${args.input}: ${fsReason(error)}`;
    return `cannot write output ${args.output}: ${fsReason(error)}`;
  }
  return error instanceof Error ? error.message : 'unexpected failure';
}

export async function runKeyedCommand(
  command: KeyedCommand,
  argv: string[],
  operation: (key: Buffer, input: string, output: string) => Promise<unknown>,
  io: { out: Out; err: Out } = { out: process.stdout, err: process.stderr },
): Promise<number> {
  return runCommand(KEYED_COMMANDS[command], argv, io, async (parsed) => {
    const args = keyedArgs(parsed);
    let key: Buffer;
    try {
      key = await resolveKey(args);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(error.message);
      throw error;
    }
    try {
      await operation(key, args.input, args.output);
      return EXIT_OK;
    } catch (error) {
      io.err.write(`radiomics ${command}: ${describeFailure(error, args)}\n`);
      return EXIT_FAILED;
    } finally {
      key.fill(0);
    }
  });
}

export async function run(
  args: string[],
  _env: Record<string, string | undefined> = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  return runKeyedCommand('seal', args, (key, input, output) => sealFile(key, input, output), { out, err });
}
