/**
 * A job's results in Swift: container `<batchId>-results` (the worker's JOB_NAME is the batch id), holding
 * `<videoId>.zip` and `<videoId>.json` per analysed item and `<videoId>.error.json` per failed one.
 */
import { resultsContainerOf } from '#lib/contract.js';
import type { SwiftStore } from '#lib/swift/index.js';

export { resultsContainerOf };

export interface ResultEntry {
  videoId: string;
  analysis?: string;
  frames?: string;
  error?: string;
}

const NAME = /^([0-9a-f]{32})\.(json|zip|error\.json)$/;

function isNotFound(error: unknown): boolean {
  return (error as { status?: number })?.status === 404;
}

/** Lists up to `max` items' results; `truncated` when there are more. A missing container is no results yet. */
export async function listResults(
  swift: SwiftStore,
  batchId: string,
  max: number,
  signal?: AbortSignal,
): Promise<{ results: ResultEntry[]; truncated: boolean }> {
  const byId = new Map<string, ResultEntry>();
  let truncated = false;
  try {
    for await (const object of swift.listAllObjects(resultsContainerOf(batchId), { signal })) {
      const m = NAME.exec(object.name);
      if (!m) continue;
      let entry = byId.get(m[1]);
      if (!entry) {
        if (byId.size >= max) {
          truncated = true;
          break;
        }
        entry = { videoId: m[1] };
        byId.set(m[1], entry);
      }
      if (m[2] === 'json') entry.analysis = object.name;
      else if (m[2] === 'zip') entry.frames = object.name;
      else entry.error = object.name;
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return { results: [...byId.values()], truncated };
}

/** Which items have an analysis (`<id>.json`) and which a failure record (`<id>.error.json`). */
export interface ResultsTally {
  analysed: Set<string>;
  failed: Set<string>;
}

/** Items with either result: the job's progress where the manager reports none. */
export function finishedCount(tally: ResultsTally): number {
  return new Set([...tally.analysed, ...tally.failed]).size;
}

/**
 * One listing of the results container, at most `maxObjects` names (three per item at most: json, zip,
 * error.json). A missing container is no results yet.
 */
export async function tallyResults(swift: SwiftStore, batchId: string, maxObjects: number, signal?: AbortSignal): Promise<ResultsTally> {
  const tally: ResultsTally = { analysed: new Set(), failed: new Set() };
  let seen = 0;
  try {
    for await (const object of swift.listAllObjects(resultsContainerOf(batchId), { signal, limit: Math.min(10_000, maxObjects) })) {
      if (++seen > maxObjects) break;
      const m = NAME.exec(object.name);
      if (m?.[2] === 'json') tally.analysed.add(m[1]);
      else if (m?.[2] === 'error.json') tally.failed.add(m[1]);
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return tally;
}

/** The items of `itemIds` that failed: an `<id>.error.json`, or no `<id>.json` once the job has ended. */
export function failedFromResults(itemIds: readonly string[], tally: ResultsTally): string[] {
  return itemIds.filter((id) => tally.failed.has(id) || !tally.analysed.has(id)).sort();
}

/** Whether the video's analysis result exists (HEAD `<id>.json`). */
export async function hasResult(swift: SwiftStore, batchId: string, videoId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    return (await swift.headObject(resultsContainerOf(batchId), `${videoId}.json`, { signal })) !== null;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The video's `<id>.json` as the worker wrote it (named features, label block), or undefined when there is none. */
export async function readAnalysis(swift: SwiftStore, batchId: string, videoId: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  try {
    return await swift.getObjectBytes(resultsContainerOf(batchId), `${videoId}.json`, { signal });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
