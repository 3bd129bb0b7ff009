/**
 * Each tenant's open batch as this warm container last saw it, with its unwrapped key, so that a run of videos
 * costs no table read and no key unwrap before its registration. It is only a guess: the registration's condition
 * (lib/store/intake-store.ts `joinBatch`: state = open, room left) confirms it on every video, and a refusal drops
 * it. The tenant's pointer is read again after `recheckMs`, so the container also follows a batch that was replaced
 * elsewhere. A dropped batch's key is zeroed at once.
 */
import { BatchKeyCache, type KeyWrapper } from '#lib/keys.js';
import type { BatchRecord } from '#lib/store/records.js';

export interface OpenBatch {
  batch: BatchRecord;
  /** A copy of the batch key for this caller alone, who zeroes it when done. */
  key: Buffer;
}

export interface OpenBatchSource {
  /** The tenant's pointed batch id, or undefined when none is pointed (a fresh read of the table). */
  pointed(tenant: string): Promise<string | undefined>;
  /** The tenant's open batch from the table, creating one when needed; `key` when it was just made here (zeroed after). */
  resolve(tenant: string): Promise<{ batch: BatchRecord; key?: Buffer }>;
}

export class OpenBatches {
  readonly #batches = new Map<string, { batch: BatchRecord; checkedAtMs: number }>();
  /** One table lookup per tenant at a time: concurrent seals in this container share it. */
  readonly #looking = new Map<string, Promise<BatchRecord>>();
  readonly #keys: BatchKeyCache;

  constructor(
    wrapper: KeyWrapper,
    private readonly options: { recheckMs: number; idleKeyMs: number; maxTenants: number; nowMs?: () => number },
  ) {
    this.#keys = new BatchKeyCache(wrapper, { idleMs: options.idleKeyMs, maxKeys: options.maxTenants, nowMs: options.nowMs });
  }

  async current(tenant: string, source: OpenBatchSource): Promise<OpenBatch> {
    const cached = this.#batches.get(tenant);
    const nowMs = (this.options.nowMs ?? Date.now)();
    const batch = cached && nowMs - cached.checkedAtMs < this.options.recheckMs ? cached.batch : await this.#lookUp(tenant, source);
    return { batch, key: await this.#keyOf(batch) };
  }

  #lookUp(tenant: string, source: OpenBatchSource): Promise<BatchRecord> {
    let looking = this.#looking.get(tenant);
    if (!looking) {
      looking = this.#read(tenant, source).finally(() => this.#looking.delete(tenant));
      this.#looking.set(tenant, looking);
    }
    return looking;
  }

  async #read(tenant: string, source: OpenBatchSource): Promise<BatchRecord> {
    const cached = this.#batches.get(tenant);
    const nowMs = (this.options.nowMs ?? Date.now)();
    if (cached && (await source.pointed(tenant)) === cached.batch.batchId) {
      cached.checkedAtMs = nowMs;
      return cached.batch;
    }
    if (cached) this.drop(tenant, cached.batch.batchId);
    const { batch, key } = await source.resolve(tenant);
    if (key) {
      this.#keys.remember(batch.wrappedKey, { tenant, batchId: batch.batchId }, key);
      key.fill(0);
    }
    this.#batches.delete(tenant);
    this.#batches.set(tenant, { batch, checkedAtMs: nowMs });
    while (this.#batches.size > this.options.maxTenants) this.drop(...this.#oldest());
    return batch;
  }

  /**
   * Forgets the tenant's batch (it is closed or full) and zeroes its key. False when it was forgotten already
   * (another seal in this container saw it first and moved the tenant on).
   */
  drop(tenant: string, batchId: string): boolean {
    this.#keys.forget(batchId);
    if (this.#batches.get(tenant)?.batch.batchId !== batchId) return false;
    this.#batches.delete(tenant);
    return true;
  }

  async #keyOf(batch: BatchRecord): Promise<Buffer> {
    return Buffer.from(await this.#keys.unwrap(batch.wrappedKey, { tenant: batch.tenant, batchId: batch.batchId }));
  }

  #oldest(): [string, string] {
    const [tenant, { batch }] = this.#batches.entries().next().value!;
    return [tenant, batch.batchId];
  }
}
