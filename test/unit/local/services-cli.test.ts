/** local/services-cli.ts: its --help and its usage errors (no service is started or stopped here). */
import { describe, expect, it } from '@jest/globals';
import { main } from '#local/services-cli.js';

async function call(argv: string[]) {
  const out = {
    text: '',
    write(text: string) {
      out.text += text;
      return true;
    },
  };
  const err = {
    text: '',
    write(text: string) {
      err.text += text;
      return true;
    },
  };
  const code = await main(argv, out, err);
  return { code, stdout: out.text, stderr: err.text };
}

const USAGE = 'usage: node --import tsx local/services-cli.ts start|stop|status|restart';

describe('services-cli', () => {
  it('--help: the usage, each command, RADIOMICS_PORT_OFFSET and the exit statuses; exit 0, also after a command', async () => {
    const help = await call(['--help']);
    expect({ code: help.code, stderr: help.stderr, firstLine: help.stdout.split('\n')[0] }).toEqual({
      code: 0,
      stderr: '',
      firstLine: USAGE,
    });
    expect(help.stdout).toMatch(/\ncommands:\n {2}start .+\n(.+\n)* {2}stop .+\n {2}status .+\n {2}restart .+\n/);
    expect(help.stdout).toMatch(/\nenvironment:\n {2}RADIOMICS_PORT_OFFSET .+\n/);
    expect(help.stdout).toMatch(/\nexit status:\n {2}0 {3}.+\n {2}1 {3}.+\n {2}2 {3}usage error$/m);
    expect(await call(['stop', '--help'])).toEqual(help);
  });

  it.each([
    [['--no-such-option'], "unknown option '--no-such-option'"],
    [['frob'], "unknown command 'frob'"],
    [[], 'a command is required: start, stop, status or restart'],
    [['start', 'now'], "unexpected argument 'now'"],
  ])('%j: exit 2 naming the problem, with the usage', async (argv, problem) => {
    expect(await call(argv)).toEqual({ code: 2, stdout: '', stderr: `services-cli.ts: ${problem}\n${USAGE}\n` });
  });
});
