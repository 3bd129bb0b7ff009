/**
 * argparse-style option scanning shared by the command-line tools: `--name value`, `--name=value`, flags,
 * `--` ending the options, `-` as a positional, `-h`/`--help` anywhere before `--`. Problems are UsageErrors
 * (exit 2) worded like Python's argparse, echoing at most a sanitised 40 characters of what was given.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What was given, safe to echo: printable ASCII only, at most 40 characters. */
export function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= 40 ? clean : `${clean.slice(0, 40)}…`;
}

export interface ScannedArgs {
  positionals: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

export function scanArgs(argv: readonly string[], options: { values: ReadonlySet<string>; flags?: ReadonlySet<string> }): ScannedArgs | 'help' {
  const flagNames = options.flags ?? new Set<string>();
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '-h' || arg === '--help')) return 'help';
  const scanned: ScannedArgs = { positionals: [], values: new Map(), flags: new Set() };
  let optionsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (optionsDone || arg === '-' || !arg.startsWith('-')) {
      scanned.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsDone = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    if (flagNames.has(name)) {
      if (eq >= 0) throw new UsageError(`argument ${name}: takes no value`);
      if (scanned.flags.has(name)) throw new UsageError(`argument ${name}: given more than once`);
      scanned.flags.add(name);
      continue;
    }
    if (!options.values.has(name)) throw new UsageError(`unrecognized argument: ${shown(name)}`);
    let value: string | undefined;
    const next = argv[i + 1];
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (next !== undefined && !options.values.has(next) && !flagNames.has(next) && next !== '--') value = argv[++i];
    if (value === undefined || value === '') throw new UsageError(`argument ${name}: expected one argument`);
    if (scanned.values.has(name)) throw new UsageError(`argument ${name}: given more than once`);
    scanned.values.set(name, value);
  }
  return scanned;
}
