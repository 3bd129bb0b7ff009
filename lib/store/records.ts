/** The table's record shapes, as the application sees them (no key attributes). */

export type VideoStage = 'sealing' | 'sealed' | 'batched' | 'submitted' | 'processing' | 'done' | 'failed' | 'rejected';

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
  sealedItems: number;
  sealedBytes: number;
  /** videoId → epoch ms at which its seal started; the closer waits for this to empty. */
  inflight: Record<string, number>;
  closingAt?: string;
  items?: number;
  workloadUrl?: string;
  workloadWrittenAt?: string;
  sessionHash?: string;
  submitStartedAt?: number;
  jobId?: string;
  submittedAt?: string;
  reason?: string;
}
