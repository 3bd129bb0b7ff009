/**
 * Downloads a job's per-clip result files through their TempURLs into `<dir>/clips/`, resumably: each file is
 * written to `<name>.part`, checked (its MD5 against Swift's ETag, and the byte count), renamed into place and
 * recorded with its MD5 in `<dir>/clips/verified.json`. A later run skips every file that is there and still has
 * its recorded MD5, and fetches the rest (a missing, partial or altered file). TempURLs are never printed: they
 * carry a signature.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultLinks } from './status-api-client.js';

export type ResultFileKind = 'analysis' | 'frames' | 'error';

export interface ResultFile {
  videoId: string;
  kind: ResultFileKind;
  name: string;
  url: string;
}

export interface DownloadProgress {
  done: number;
  total: number;
  skipped: number;
}

export interface DownloadOutcome {
  downloaded: number;
  skipped: number;
  /** Files that could not be fetched or verified; the run goes on without them. */
  failed: Array<{ name: string; reason: string }>;
}

const SUFFIX: Record<ResultFileKind, string> = { analysis: '.json', frames: '.zip', error: '.error.json' };
const CONCURRENCY = 4;

export const clipsDir = (dir: string) => join(dir, 'clips');
export const resultFileName = (videoId: string, kind: ResultFileKind) => `${videoId}${SUFFIX[kind]}`;

export function resultFiles(links: readonly ResultLinks[]): ResultFile[] {
  const files: ResultFile[] = [];
  for (const link of links) {
    const urls: Array<[ResultFileKind, string | null]> = [
      ['analysis', link.analysis_url],
      ['frames', link.frames_url],
      ['error', link.error_url],
    ];
    for (const [kind, url] of urls) if (url) files.push({ videoId: link.video_id, kind, name: resultFileName(link.video_id, kind), url });
  }
  return files;
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

async function readManifest(path: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

async function isVerified(path: string, expectedMd5: string | undefined): Promise<boolean> {
  if (!expectedMd5) return false;
  try {
    return md5(await readFile(path)) === expectedMd5;
  } catch {
    return false;
  }
}

async function fetchVerified(file: ResultFile, doFetch: typeof fetch): Promise<Buffer> {
  let res: Response;
  try {
    res = await doFetch(file.url, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new Error(`unreachable (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name})`);
  }
  if (res.status !== 200)
    throw new Error(
      res.status === 401 ? 'the link has expired or is not valid (401); run again for fresh links' : `answered ${res.status}`,
    );
  const bytes = Buffer.from(await res.arrayBuffer());
  const length = res.headers.get('content-length');
  if (length !== null && Number(length) !== bytes.length) throw new Error(`incomplete (${bytes.length} of ${length} bytes)`);
  const eTag = res.headers.get('etag')?.replace(/"/g, '');
  if (eTag && /^[0-9a-f]{32}$/.test(eTag) && eTag !== md5(bytes)) throw new Error('its content does not match its ETag');
  return bytes;
}

export async function downloadResultFiles(
  files: readonly ResultFile[],
  dir: string,
  options: { fetch?: typeof fetch; onProgress?: (p: DownloadProgress) => void } = {},
): Promise<DownloadOutcome> {
  const target = clipsDir(dir);
  await mkdir(target, { recursive: true });
  const manifestPath = join(target, 'verified.json');
  const manifest = await readManifest(manifestPath);
  const outcome: DownloadOutcome = { downloaded: 0, skipped: 0, failed: [] };
  let done = 0;
  let manifestWrite = Promise.resolve();
  const saveManifest = () => {
    manifestWrite = manifestWrite.then(async () => {
      await writeFile(`${manifestPath}.part`, JSON.stringify(manifest, null, 1));
      await rename(`${manifestPath}.part`, manifestPath);
    });
    return manifestWrite;
  };
  const report = () => options.onProgress?.({ done, total: files.length, skipped: outcome.skipped });
  report();
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const path = join(target, file.name);
      if (await isVerified(path, manifest[file.name])) outcome.skipped++;
      else {
        try {
          const bytes = await fetchVerified(file, options.fetch ?? fetch);
          await writeFile(`${path}.part`, bytes);
          await rename(`${path}.part`, path);
          manifest[file.name] = md5(bytes);
          await saveManifest();
          outcome.downloaded++;
        } catch (error) {
          await rm(`${path}.part`, { force: true });
          outcome.failed.push({ name: file.name, reason: (error as Error).message });
        }
      }
      done++;
      report();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await manifestWrite;
  return outcome;
}
