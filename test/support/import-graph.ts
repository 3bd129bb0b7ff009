/**
 * The repository's import graph, folded to "areas": each top-level folder, and inside lib/ each subfolder (the
 * root files are the area `lib`). `npm run graph` prints it as a Mermaid drawing (docs/import-graph.md);
 * test/unit/architecture/import-graph.test.ts holds it to the layering rules.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_DIRS = ['lib', 'enclave', 'functions', 'containers', 'bin', 'local', 'bench', 'test'];
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|unstable_mockModule\(\s*)['"]([.#][^'"]+)['"]/g;

export interface ImportEdge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(REPO_ROOT, dir))) {
    const path = posix.join(dir, name);
    if (statSync(join(REPO_ROOT, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function targetOf(file: string, specifier: string): string {
  const path = specifier.startsWith('#') ? specifier.slice(1) : posix.normalize(posix.join(posix.dirname(file), specifier));
  return path.replace(/\.js$/, '.ts');
}

/** Every file-to-file import inside the source folders (type-only imports included: they are dependencies too). */
export function importEdges(): ImportEdge[] {
  const files = SOURCE_DIRS.flatMap((dir) => sourceFiles(dir));
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    for (const match of text.matchAll(SPECIFIER)) edges.push({ from: file, to: targetOf(file, match[1]) });
  }
  return edges;
}

/** `lib/swift/client.ts` → `lib/swift`, `lib/config.ts` → `lib`, `local/asperathos/api.ts` → `local`. */
export function areaOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'lib' && parts.length > 2) return `lib/${parts[1]}`;
  return parts[0];
}

export function areaEdges(edges: ImportEdge[] = importEdges()): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const [a, b] = [areaOf(from), areaOf(to)];
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  return graph;
}

/** Areas that reach themselves again through the area graph (empty when the graph is acyclic). */
export function areaCycles(graph: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const visit = (start: string, node: string, path: string[]): void => {
    for (const next of graph.get(node) ?? []) {
      if (next === start) cycles.push([...path, next]);
      else if (!path.includes(next) && next > start) visit(start, next, [...path, next]);
    }
  };
  for (const start of [...graph.keys()].sort()) visit(start, start, [start]);
  return cycles;
}

export function mermaid(graph: Map<string, Set<string>>): string {
  const id = (area: string) => area.replace(/[^a-z0-9]/gi, '_');
  const lines = ['flowchart TD'];
  for (const [from, tos] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    if (from === 'test') continue;
    for (const to of [...tos].sort()) lines.push(`  ${id(from)}["${from}"] --> ${id(to)}["${to}"]`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${mermaid(areaEdges())}\n`);
}
