/**
 * The one way the command-line tools read their arguments: node:util parseArgs (`--name value`, `--name=value`,
 * flags, `--` ending the options, `-` as a positional), then checked here so that every problem is a UsageError
 * (exit 2) that names the option and never echoes a value (a value may be a key). `-h`/`--help` anywhere before
 * `--` asks for the help, which is written from the same description: usage, arguments, options with their
 * defaults, the environment variables read, and the exit statuses.
 *
 * A value may start with '-' (a url-safe base64 key does), unless it is `--`, `-h`, `--help` or one of the
 * command's own options: then the option is missing its value.
 */
import { parseArgs } from 'node:util';

export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What was given, safe to echo: printable ASCII only, at most 40 characters. */
export function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= 40 ? clean : `${clean.slice(0, 40)}…`;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** the value's name in the help (string options), e.g. SECS */
  value?: string;
  help: string;
  /** shown in the help as `(default: …)` */
  default?: string | number;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type Entries = ReadonlyArray<readonly [string, string]>;

export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** how messages name the program: `radiomics seal`, `submit-job` */
  program: string;
  /** the usage line(s), starting with `usage: ` */
  usage: string;
  /** what the command does, in a sentence or a paragraph */
  about: string;
  commands?: Entries;
  arguments?: Entries;
  options: O;
  /** every environment variable the command reads (none: []), or a sentence where a list does not fit */
  environment: Entries | string;
  exitStatus: ReadonlyArray<readonly [number, string]>;
  /**
   * Mirrors a Python argparse CLI: a problem is written as the usage then `<program>: error: <problem>`, in
   * argparse's words (`unrecognized argument: --x`, `argument --x: expected one argument`).
   */
  argparse?: boolean;
}

export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O]?: O[K]['type'] extends 'boolean' ? true : string };

export interface ParsedArgs<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: string[];
}

/** Keeps the option specs' literal types, so that `values` knows flags from strings. */
export function defineCommand<const O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}

const HELP_OPTION = '--help';
const COLUMN = 28;
const WIDTH = 110;

function wrapped(text: string, indent: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line && indent + line.length + 1 + word.length > WIDTH) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

function twoColumns(entries: Entries, column = COLUMN): string {
  const out: string[] = [];
  for (const [label, text] of entries) {
    const lines = wrapped(text, column);
    const head = `  ${label}`;
    if (head.length < column - 1) out.push(head.padEnd(column) + lines[0]);
    else out.push(head, ' '.repeat(column) + lines[0]);
    for (const line of lines.slice(1)) out.push(' '.repeat(column) + line);
  }
  return out.join('\n');
}

function optionLabel(name: string, spec: OptionSpec): string {
  return spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}` : `--${name}`;
}

export function commandHelp(command: Command): string {
  const options: Array<readonly [string, string]> = [['-h, --help', 'show this help and exit']];
  for (const [name, spec] of Object.entries(command.options)) {
    options.push([optionLabel(name, spec), spec.default === undefined ? spec.help : `${spec.help} (default: ${spec.default})`]);
  }
  const sections = [command.usage, wrapped(command.about, 0).join('\n')];
  if (command.commands?.length) sections.push(`commands:\n${twoColumns(command.commands)}`);
  if (command.arguments?.length) sections.push(`arguments:\n${twoColumns(command.arguments)}`);
  sections.push(`options:\n${twoColumns(options)}`);
  const environment =
    typeof command.environment === 'string'
      ? `  ${command.environment}`
      : command.environment.length
        ? twoColumns(command.environment)
        : '  none';
  sections.push(`environment:\n${environment}`);
  sections.push(
    `exit status:\n${twoColumns(
      command.exitStatus.map(([code, text]) => [String(code), text]),
      6,
    )}`,
  );
  return sections.join('\n\n');
}

/** The usage line(s) and the problem, as written to stderr. */
export function usageFailure(command: Command, problem: string): string {
  return command.argparse
    ? `${command.usage}\n${command.program}: error: ${problem}\n`
    : `${command.program}: ${problem}\n${command.usage}\n`;
}

function problems(command: Command) {
  return command.argparse
    ? {
        unknown: (option: string) => `unrecognized argument: ${shown(option)}`,
        missingValue: (option: string) => `argument ${option}: expected one argument`,
        repeated: (option: string) => `argument ${option}: given more than once`,
        takesNoValue: (option: string) => `argument ${option}: takes no value`,
      }
    : {
        unknown: (option: string) => `unknown option '${shown(option)}'`,
        missingValue: (option: string) => `${option} needs a value`,
        repeated: (option: string) => `${option} given more than once`,
        takesNoValue: (option: string) => `${option} takes no value`,
      };
}

/** The options and positionals in `argv`, or 'help'. Throws a UsageError naming the first problem. */
export function parseCommand<O extends OptionSpecs>(command: Command<O>, argv: readonly string[]): ParsedArgs<O> | 'help' {
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '-h' || arg === HELP_OPTION)) return 'help';
  const specs: OptionSpecs = command.options;
  const say = problems(command);
  const isOwnOption = (arg: string) =>
    arg === '--' ||
    arg === '-h' ||
    (arg.startsWith('--') && (Object.hasOwn(specs, arg.slice(2).split('=')[0]) || arg.split('=')[0] === HELP_OPTION));
  const { tokens } = parseArgs({
    args: [...argv],
    options: {
      ...Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type }])),
      help: { type: 'boolean', short: 'h' },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    if (token.name === 'help') return 'help';
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    if (!spec) throw new UsageError(say.unknown(token.rawName));
    if (Object.hasOwn(values, token.name)) throw new UsageError(say.repeated(token.rawName));
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(say.takesNoValue(token.rawName));
      values[token.name] = true;
    } else {
      if (!token.value || (!token.inlineValue && isOwnOption(token.value))) throw new UsageError(say.missingValue(token.rawName));
      values[token.name] = token.value;
    }
  }
  return { values: values as OptionValues<O>, positionals };
}

export type Out = { write(text: string): unknown; isTTY?: boolean };

/**
 * Parses `argv` and runs `body` with the result. `--help` writes the help to `out` (exit 0); a UsageError, from
 * parsing or thrown by `body` while it checks the arguments, writes the usage and the problem to `err` (exit 2).
 */
export async function runCommand<O extends OptionSpecs>(
  command: Command<O>,
  argv: readonly string[],
  io: { out: Out; err: Out },
  body: (args: ParsedArgs<O>) => Promise<number> | number,
): Promise<number> {
  try {
    const parsed = parseCommand(command, argv);
    if (parsed === 'help') {
      io.out.write(`${commandHelp(command)}\n`);
      return 0;
    }
    return await body(parsed);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err.write(usageFailure(command, error.message));
    return EXIT_USAGE;
  }
}
