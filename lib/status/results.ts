/**
 * A job's results in Swift: container `<batchId>-results` (the worker's JOB_NAME is the batch id), holding
 * `<videoId>.zip` and `<videoId>.json` per analysed item and `<videoId>.error.json` per failed one.
 */
import type { SwiftStore } from '../swift/index.js';

export const resultsContainerOf = (batchId: string) => `${batchId}-results`;

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
export async function listResults(swift: SwiftStore, batchId: string, max: number, signal?: AbortSignal): Promise<{ results: ResultEntry[]; truncated: boolean }> {
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

/** How many items have their `<id>.json` analysis result. */
export async function countResults(swift: SwiftStore, batchId: string, signal?: AbortSignal): Promise<number> {
  let done = 0;
  try {
    for await (const object of swift.listAllObjects(resultsContainerOf(batchId), { signal })) {
      if (/^[0-9a-f]{32}\.json$/.test(object.name)) done++;
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return done;
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
