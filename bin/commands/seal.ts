/**
 * `radiomics seal (--key B64 | --key-file PATH) IN OUT`: encrypt IN to OUT as iv(12) | tag(16) | ciphertext.
 *
 * Exit codes: 0 done, 1 the operation failed (missing input, I/O error; for unseal: wrong key or
 * tampered data), 2 usage error (missing or unknown arguments, malformed key).
 * The key is never printed, and neither is any argument that might be one.
 *
 * This module also holds the argument parsing and error reporting shared with `unseal`.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '#lib/errors.js';
import { UnsealError, parseKeyBase64, sealFile } from '#lib/seal/cipher.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type KeyedCommand = 'seal' | 'unseal';

export function usageLine(command: KeyedCommand): string {
  return `usage: radiomics ${command} (--key <base64 16-byte key> | --key-file <path>) IN OUT`;
}

class UsageError extends Error {}

export interface KeyedArgs {
  key?: string;
  keyFile?: string;
  input: string;
  output: string;
}

function isOwnOption(arg: string): boolean {
  return arg === '--' || arg === '-h' || arg === '--help' || /^--key(-file)?(=|$)/.test(arg);
}

/** Parse `--key B64 | --key=B64 | --key-file PATH | --key-file=PATH`, `--`, and exactly two positionals. */
export function parseKeyedArgs(args: string[]): KeyedArgs | 'help' {
  let key: string | undefined;
  let keyFile: string | undefined;
  const positionals: string[] = [];
  let optionsDone = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (optionsDone || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsDone = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (name !== '--key' && name !== '--key-file') {
      // Only the option name is echoed: whatever follows it might be a key.
      throw new UsageError(`unknown option '${name.length <= 32 ? name : name.slice(0, 32) + '…'}'`);
    }
    let value: string | undefined;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      // The next argument is the value unless it is itself an option of ours: a url-safe key may start with '-'.
      const next = args[i + 1];
      if (next !== undefined && !isOwnOption(next)) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
    if (name === '--key') {
      if (key !== undefined) throw new UsageError('--key given more than once');
      key = value;
    } else {
      if (keyFile !== undefined) throw new UsageError('--key-file given more than once');
      keyFile = value;
    }
  }
  if (key === undefined && keyFile === undefined) throw new UsageError('a key is required: --key or --key-file');
  if (key !== undefined && keyFile !== undefined) throw new UsageError('give --key or --key-file, not both');
  if (positionals.length !== 2) throw new UsageError(`expected IN and OUT, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
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
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'a parent is not a directory';
    case 'ENOSPC': return 'no space left on device';
    default: return code ?? 'error';
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
): Promise<number> {
  const fail = (message: string, code: number) => {
    process.stderr.write(`radiomics ${command}: ${message}\n`);
    if (code === EXIT_USAGE) process.stderr.write(usageLine(command) + '\n');
    return code;
  };
  let args: KeyedArgs;
  let key: Buffer;
  try {
    const parsed = parseKeyedArgs(argv);
    if (parsed === 'help') {
      process.stdout.write(usageLine(command) + '\n');
      return EXIT_OK;
    }
    args = parsed;
    key = await resolveKey(args);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) return fail(error.message, EXIT_USAGE);
    throw error;
  }
  try {
    await operation(key, args.input, args.output);
    return EXIT_OK;
  } catch (error) {
    return fail(describeFailure(error, args), EXIT_FAILED);
  } finally {
    key.fill(0);
  }
}

export async function run(args: string[]): Promise<number> {
  return runKeyedCommand('seal', args, (key, input, output) => sealFile(key, input, output));
}
