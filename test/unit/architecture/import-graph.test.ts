import { describe, expect, it } from '@jest/globals';
import { areaCycles, areaEdges, areaOf, importEdges } from '#test/support/import-graph.js';

/** Higher may import lower, never the other way; equal ranks in different folders may not import each other. */
const TOP_LEVEL_RANK: Record<string, number> = { lib: 0, enclave: 1, functions: 1, containers: 1, bin: 2, local: 3, bench: 4, test: 5 };
const LIB_CORE = 'lib';

const edges = importEdges();
const topOf = (file: string) => file.split('/')[0];

describe('the import graph', () => {
  it('finds the imports it checks (the parser is not blind)', () => {
    expect(edges.some((edge) => edge.from === 'functions/intake.ts' && edge.to.startsWith('lib/'))).toBe(true);
    expect(edges.length).toBeGreaterThan(500);
  });

  it('has no arrow running back up between top-level folders', () => {
    const upward = edges
      .filter(({ from, to }) => topOf(from) !== topOf(to) && !(TOP_LEVEL_RANK[topOf(from)] > TOP_LEVEL_RANK[topOf(to)]))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(upward).toEqual([]);
  });

  it('keeps the lib/ core (its root files) free of imports from lib/ folders', () => {
    const outOfCore = edges
      .filter(({ from, to }) => areaOf(from) === LIB_CORE && to.startsWith('lib/') && areaOf(to) !== LIB_CORE)
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(outOfCore).toEqual([]);
  });

  it('has no cycle between the folders of lib/', () => {
    const libOnly = new Map([...areaEdges(edges.filter(({ from, to }) => from.startsWith('lib/') && to.startsWith('lib/')))]);
    expect(areaCycles(libOnly)).toEqual([]);
  });

  it('resolves every relative or aliased import to a file that exists', async () => {
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { REPO_ROOT } = await import('#test/support/import-graph.js');
    const missing = edges.filter(({ to }) => !existsSync(join(REPO_ROOT, to))).map(({ from, to }) => `${from} -> ${to}`);
    expect(missing).toEqual([]);
  });
});
