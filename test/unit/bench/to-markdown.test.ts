import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '#local/service-endpoints.js';

const BASELINE = 'plain unencrypted copy S3 GET → Swift PUT of the same bytes, same run';
const BENCH_OUTPUT = [
  '',
  '> trustworthy-radiomics@0.1.0 bench',
  '> bash local/on-node.sh node --import tsx bench/run.ts intake',
  '',
  JSON.stringify({ case: '140KB', ratio: 0.47, baseline: BASELINE }),
  JSON.stringify({ case: '1MiB', ratio: 0.48, baseline: BASELINE, note: 'a|b' }),
  '',
].join('\n');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'to-markdown-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function toMarkdown(args: string[], doc: string, input = BENCH_OUTPUT) {
  const path = join(dir, `doc-${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(path, doc);
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/to-markdown.ts', ...args, '--doc', path], {
    cwd: REPO_ROOT,
    input,
    encoding: 'utf8',
  });
  return { status: run.status, stderr: run.stderr, doc: readFileSync(path, 'utf8') };
}

describe('bench/to-markdown.ts', () => {
  it('turns the lines of npm run bench into a table between its own markers, leaving quoted markers and other blocks alone', () => {
    const doc =
      'Quoted: `<!-- bench:intake -->`.\n\n<!-- bench:intake -->\nold figures\n<!-- /bench:intake -->\n\n<!-- bench:batch -->\nkept\n<!-- /bench:batch -->\n';
    const { status, doc: after } = toMarkdown(['intake', '--note', 'quiet machine'], doc);
    expect(status).toBe(0);
    const block = after.slice(after.indexOf('\n<!-- bench:intake -->\n') + 1, after.indexOf('<!-- /bench:intake -->'));
    expect(block.split('\n').slice(0, 9)).toEqual([
      '<!-- bench:intake -->',
      '| case | ratio | note |',
      '|---|---|---|',
      '| 140KB | 0.47 |  |',
      '| 1MiB | 0.48 | a\\|b |',
      '',
      `baseline: ${BASELINE}`,
      '',
      expect.stringMatching(/^_npm run bench -- intake, \d{4}-\d{2}-\d{2}, .*Node v\d+.*; quiet machine_$/),
    ]);
    expect(after.startsWith('Quoted: `<!-- bench:intake -->`.\n\n<!-- bench:intake -->\n| case')).toBe(true);
    expect(after.endsWith('<!-- /bench:intake -->\n\n<!-- bench:batch -->\nkept\n<!-- /bench:batch -->\n')).toBe(true);
  });

  it('puts rows of another shape in a table of their own, and nested figures on a line under their table', () => {
    const input = [
      JSON.stringify({
        case: 'clips',
        concurrency: 1,
        per_clip_ms: 30,
        ratio: 0.5,
        calls: { 's3.open': 6, 'table.put': 2.5 },
        baseline: BASELINE,
      }),
      JSON.stringify({ case: 'clips', concurrency: 8, per_clip_ms: 18, ratio: 0.6, baseline: BASELINE }),
      JSON.stringify({ case: '1GiB', bytes: 1073741824, runs: 3, sealed_s: 7.4, ratio: 0.93, baseline: BASELINE }),
    ].join('\n');
    const { status, doc } = toMarkdown(['intake'], '<!-- bench:intake -->\n<!-- /bench:intake -->\n', input);
    expect(status).toBe(0);
    expect(doc.split('\n').slice(1, 15)).toEqual([
      '| case | concurrency | per_clip_ms | ratio |',
      '|---|---|---|---|',
      '| clips | 1 | 30 | 0.5 |',
      '| clips | 8 | 18 | 0.6 |',
      '',
      'calls (case clips, concurrency 1): s3.open 6, table.put 2.5',
      '',
      '| case | bytes | runs | sealed_s | ratio |',
      '|---|---|---|---|---|',
      '| 1GiB | 1073741824 | 3 | 7.4 | 0.93 |',
      '',
      `baseline: ${BASELINE}`,
      '',
      expect.stringMatching(/^_npm run bench -- intake, /),
    ]);
  });

  it('leaves the document as it was when no JSON line came (exit 1)', () => {
    const doc = '<!-- bench:intake -->\nold\n<!-- /bench:intake -->\n';
    const { status, stderr, doc: after } = toMarkdown(['intake'], doc, '> npm banner only\n');
    expect([status, after]).toEqual([1, doc]);
    expect(stderr).toContain('no JSON lines from npm run bench -- intake');
  });

  it('refuses a document without the block, or with it twice (exit 1)', () => {
    expect(toMarkdown(['intake'], '<!-- bench:batch -->\n<!-- /bench:batch -->\n').stderr).toContain('no block <!-- bench:intake -->');
    const twice = toMarkdown(['intake'], '<!-- bench:intake -->\n<!-- /bench:intake -->\n<!-- bench:intake -->\n<!-- /bench:intake -->\n');
    expect([twice.status, twice.stderr.includes('appears twice')]).toEqual([1, true]);
  });

  it('refuses a missing or malformed bench name (exit 2)', () => {
    expect(toMarkdown([], '').status).toBe(2);
    expect(toMarkdown(['../x'], '').status).toBe(2);
  });
});
