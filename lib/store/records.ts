/** The table's record shapes, as the application sees them (no key attributes). */

/**
 * `superseded`: the key was overwritten before the intake read it; the newer object's own event seals it.
 * `abandoned`: the batch closer's tombstone for a registration it found stale; the video's retry seals it anew.
 */
export type VideoStage =
  | 'sealing'
  | 'sealed'
  | 'batched'
  | 'submitted'
  | 'processing'
  | 'done'
  | 'failed'
  | 'rejected'
  | 'superseded'
  | 'abandoned';

export interface VideoRecord {
  videoId: string;
  tenant: string;
  stage: VideoStage;
  kind?: 'mp4' | 'dicom';
  batchId?: string;
  container?: string;
  objectName?: string;
  bytes?: number;
  sealedBytes?: number;
  reason?: string;
  /** The source object's key, sealed under SOURCE_NAME_KEY (lib/source-names.ts); only its tenant's answers open it. */
  sourceName?: string;
  receivedAt: string;
  sealedAt?: string;
  updatedAt: string;
}

export type BatchState = 'open' | 'closing' | 'submitting' | 'submitted' | 'empty' | 'completed' | 'failed';

export interface BatchRecord {
  batchId: string;
  tenant: string;
  state: BatchState;
  container: string;
  wrappedKey: string;
  createdAt: string;
  claims: number;
  claimedBytes: number;
  /** Seals counted by the closer (lib/batch/close.ts settles the registrations when the batch closes or is quiet). */
  sealedItems: number;
  sealedBytes: number;
  /** videoId → its registration (epoch ms at which its seal started), until the closer settles it. */
  inflight: Record<string, number>;
  /** Epoch ms of the last video to join the batch (the quiet-period close). */
  lastActivityMs?: number;
  closingAt?: string;
  items?: number;
  workloadUrl?: string;
  workloadWrittenAt?: string;
  sessionHash?: string;
  submitStartedAt?: number;
  jobId?: string;
  submittedAt?: string;
  reason?: string;
  /** Written by sync-status (lib/status/sync.ts): the last observed job state and its polling bookkeeping. */
  jobState?: JobState;
  /** Epoch ms at which the observation in `jobState` was requested; writes are conditional on it growing. */
  observedAtMs?: number;
  /** Set while Asperathos cannot be reached for this job; `jobState` is then the last known state. */
  staleSince?: string;
  pollFailures?: number;
  nextPollAtMs?: number;
  notFoundCount?: number;
  /** Crypto-shredding: the wrapped key was deleted once the job ended (SHRED_KEYS_ON_TERMINAL). */
  keyShreddedAt?: string;
}

/** A job's state as sync-status last saw it; `status` is Asperathos's, or `lost` when it forgot the job. */
export interface JobState {
  status: string;
  startingTime?: string;
  visualizerUrl?: string;
  report?: Record<string, unknown>;
  progress?: { done: number; total: number; source: 'queue' | 'results' };
  /** Item (video) ids that failed, at most 1000; `failedCount` counts them all. */
  failedItems?: string[];
  failedCount?: number;
  /**
   * Where the failed items came from: the manager's `/errors` list, the results container (an `<id>.error.json`
   * or no `<id>.json` after the end), or the last list seen while the job ran (neither could be read at the end).
   */
  failedItemsSource?: 'manager' | 'results' | 'last_seen';
  reason?: string;
  endedAt?: string;
}
