/** bin/support/command-line.ts: the one argument reader of the command-line tools, and the help it writes. */
import { describe, expect, it } from '@jest/globals';
import { UsageError, commandHelp, defineCommand, parseCommand, runCommand, usageFailure } from '#bin/support/command-line.js';

const COPY = defineCommand({
  program: 'copy',
  usage: 'usage: copy [--mode MODE] [--force] IN OUT',
  about: 'Copy IN to OUT.',
  arguments: [
    ['IN', 'the file to read'],
    ['OUT', 'the file to write'],
  ],
  options: {
    mode: { type: 'string', value: 'MODE', help: 'the file mode of OUT', default: '0600' },
    force: { type: 'boolean', help: 'overwrite OUT' },
  },
  environment: [['COPY_BUFFER', 'bytes per read']],
  exitStatus: [
    [0, 'copied'],
    [2, 'usage error'],
  ],
});
const ARGPARSE_COPY = { ...COPY, argparse: true };

function problemOf(argv: string[], command = COPY): string {
  try {
    parseCommand(command, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  return 'no problem';
}

describe('parseCommand', () => {
  it('reads --name value, --name=value, flags, positionals in any order, - as a positional and -- ending the options', () => {
    expect(parseCommand(COPY, ['a', '--mode', '0644', '-', '--force'])).toEqual({
      values: { mode: '0644', force: true },
      positionals: ['a', '-'],
    });
    expect(parseCommand(COPY, ['--mode=0644', '--', '--force', '-h'])).toEqual({
      values: { mode: '0644' },
      positionals: ['--force', '-h'],
    });
  });

  it('takes a value that starts with a dash, unless it is --, -h, --help or one of the options', () => {
    expect(parseCommand(COPY, ['--mode', '-_-_ABEiM0RVZneImaq7zA==', 'a', 'b'])).toMatchObject({
      values: { mode: '-_-_ABEiM0RVZneImaq7zA==' },
    });
    expect(problemOf(['--mode', '--force', 'a', 'b'])).toBe('--mode needs a value');
    expect(problemOf(['--mode', '--mode=1', 'a', 'b'])).toBe('--mode needs a value');
    expect(problemOf(['--mode', '--', 'a', 'b'])).toBe('--mode needs a value');
  });

  it('answers help for -h or --help anywhere before --, whatever else is wrong', () => {
    expect(parseCommand(COPY, ['--bogus', 'a', '-h'])).toBe('help');
    expect(parseCommand(COPY, ['--mode', '--help'])).toBe('help');
  });

  it.each([
    [['--bogus', 'a'], "unknown option '--bogus'", 'unrecognized argument: --bogus'],
    [['-x'], "unknown option '-x'", 'unrecognized argument: -x'],
    [['--mode'], '--mode needs a value', 'argument --mode: expected one argument'],
    [['--mode='], '--mode needs a value', 'argument --mode: expected one argument'],
    [['--mode', '1', '--mode', '2'], '--mode given more than once', 'argument --mode: given more than once'],
    [['--force', '--force'], '--force given more than once', 'argument --force: given more than once'],
    [['--force=yes'], '--force takes no value', 'argument --force: takes no value'],
  ])('%j is refused, in plain words or in argparse words', (argv, plain, argparse) => {
    expect(problemOf(argv)).toBe(plain);
    expect(problemOf(argv, ARGPARSE_COPY)).toBe(argparse);
  });

  it('names an unknown option without the value glued to it, and clips a long or unprintable name', () => {
    expect(problemOf(['--key=jw5qHSw7SllodoaVpLPC0Q==', 'a', 'b'])).toBe("unknown option '--key'");
    expect(problemOf([`--${'k'.repeat(50)}`])).toBe(`unknown option '--${'k'.repeat(38)}…'`);
    expect(problemOf(['--k\u001b[2J'])).toBe("unknown option '--k?[2J'");
  });
});

describe('the help', () => {
  it('has the usage, the description, the arguments, the options with defaults, the environment and the exit statuses', () => {
    expect(commandHelp(COPY)).toBe(
      [
        'usage: copy [--mode MODE] [--force] IN OUT',
        '',
        'Copy IN to OUT.',
        '',
        'arguments:',
        '  IN                        the file to read',
        '  OUT                       the file to write',
        '',
        'options:',
        '  -h, --help                show this help and exit',
        '  --mode MODE               the file mode of OUT (default: 0600)',
        '  --force                   overwrite OUT',
        '',
        'environment:',
        '  COPY_BUFFER               bytes per read',
        '',
        'exit status:',
        '  0   copied',
        '  2   usage error',
      ].join('\n'),
    );
  });

  it('says none when no variable is read, and wraps long text under its column', () => {
    const help = commandHelp({ ...COPY, environment: [], arguments: [['IN', `${'word '.repeat(30)}end`]] });
    expect(help).toContain('environment:\n  none\n');
    expect(help).toContain(`  IN                        ${'word '.repeat(15)}word\n${' '.repeat(28)}${'word '.repeat(14)}end\n`);
  });

  it('puts the description of a long option on the next line', () => {
    const help = commandHelp({ ...COPY, options: { 'job-resources-lifetime': { type: 'string', value: 'SECS', help: 'seconds' } } });
    expect(help).toContain(`  --job-resources-lifetime SECS\n${' '.repeat(28)}seconds\n`);
  });
});

describe('runCommand', () => {
  function capture() {
    const stream = {
      text: '',
      write(text: string) {
        stream.text += text;
        return true;
      },
    };
    return stream;
  }

  it('writes the help to stdout (exit 0), and a usage error to stderr after the problem (exit 2)', async () => {
    const out = capture();
    const err = capture();
    expect(await runCommand(COPY, ['--help'], { out, err }, () => 1)).toBe(0);
    expect(out.text).toBe(`${commandHelp(COPY)}\n`);
    expect(
      await runCommand(COPY, ['a'], { out, err }, () => {
        throw new UsageError('expected IN and OUT');
      }),
    ).toBe(2);
    expect(err.text).toBe('copy: expected IN and OUT\nusage: copy [--mode MODE] [--force] IN OUT\n');
  });

  it('runs the body with the parsed arguments, and lets other errors through', async () => {
    const io = { out: capture(), err: capture() };
    expect(
      await runCommand(COPY, ['a', 'b', '--force'], io, ({ values, positionals }) => (values.force && positionals.length === 2 ? 7 : 1)),
    ).toBe(7);
    await expect(
      runCommand(COPY, ['a', 'b'], io, () => {
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
  });

  it('frames a problem as argparse does for the CLIs that mirror it', () => {
    expect(usageFailure(ARGPARSE_COPY, 'unrecognized argument: --x')).toBe(
      'usage: copy [--mode MODE] [--force] IN OUT\ncopy: error: unrecognized argument: --x\n',
    );
  });
});
