import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SKIPPED_DIRS = new Set(['node_modules', 'test-artifacts', 'dist', 'results']);
/** The documents whose `backticked/paths` must exist too (enclave/README.md also names image paths such as /app). */
const PATH_CHECKED = (file: string) => file === 'README.md' || file === 'CONTRIBUTING.md' || /^docs\/[^/]+\.md$/.test(file);
const REPO_FOLDERS = ['lib', 'bin', 'local', 'test', 'enclave', 'functions', 'containers', 'bench', 'events', 'docs', 'stages', 'openapi'];
const REPO_PATH = new RegExp(`^(${REPO_FOLDERS.join('|')})/[A-Za-z0-9_./-]*$`);

function markdownFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [relative(ROOT, path)] : [];
  });
}

/** The text without fenced code blocks and inline code, where brackets are not links. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');

function linkTargets(text: string): string[] {
  const body = prose(text);
  const inline = [...body.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const definitions = [...body.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]);
  return [...inline, ...definitions];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of text.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

function brokenLinks(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return linkTargets(text).flatMap((target) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return [];
    const [pathPart, fragment] = target.split('#', 2);
    const path = decodeURIComponent(pathPart);
    const resolved = path === '' ? join(ROOT, file) : path.startsWith('/') ? join(ROOT, path) : resolve(ROOT, dirname(file), path);
    if (!existsSync(resolved)) return [`${file}: ${target} (no such file)`];
    if (fragment && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchors(readFileSync(resolved, 'utf8')).has(fragment)) {
      return [`${file}: ${target} (no such heading)`];
    }
    return [];
  });
}

function missingBacktickedPaths(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/`([^`\n]+)`/g)]
    .map((m) => m[1].replace(/[:.,]$/, ''))
    .filter((token) => REPO_PATH.test(token) && !existsSync(join(ROOT, token)))
    .map((token) => `${file}: \`${token}\``);
}

describe('the Markdown documents', () => {
  const files = markdownFiles();

  it('are found (README.md, CONTRIBUTING.md and docs/ among them)', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'enclave/README.md']));
    expect(files.some((file) => file.startsWith('docs/'))).toBe(true);
  });

  it('link only to files and headings that exist', () => {
    expect(files.flatMap(brokenLinks)).toEqual([]);
  });

  it('name only repository paths that exist (README.md, CONTRIBUTING.md, docs/*.md)', () => {
    expect(files.filter(PATH_CHECKED).flatMap(missingBacktickedPaths)).toEqual([]);
  });
});
