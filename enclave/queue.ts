/**
 * The work queue the enclave workers lease from: compatible with the original `RedisWQ` (protocols.md §6).
 *
 *   <queue>                                   main list (kubejobs: `RPUSH job <line>` per workload line)
 *   <queue>:processing                        items being worked on
 *   <queue>:leased_by_session:<sha224 hex>    the lease of one item; value = the worker's session id; TTL = lease
 *   <queue>:errors                            failed items (Asperathos `GET /submissions/<id>/errors` lists them)
 *   <queue>:error_reasons                     hash item → machine-readable reason (this project's addition)
 *   stop                                      kubejobs stop does `RPUSH stop stop`; the key is configurable
 *
 * - Lease: `BRPOPLPUSH <queue> <queue>:processing <timeout>`, then `SETEX <lease key> <lease secs> <session>`.
 * - Complete: `LREM <queue>:processing 0 <item>`, then `DEL <lease key>` (in one MULTI here).
 * - Expired leases: every item in processing without a lease key is moved back to the main list.
 * - Empty: `LLEN <queue> == 0 and LLEN <queue>:processing == 0`.
 * Items are handled as raw bytes (Buffers) throughout, so the sha224 is of the exact bytes kubejobs pushed.
 *
 * Deviations from the original, all compatible with the key layout above:
 * - Renewal: `renew()` re-arms the lease TTL while an item is processed (the worker calls it every lease/3), so a
 *   slow item is not re-leased by another worker. It only extends a lease that still holds this worker's session
 *   (a Lua compare-and-expire); it never recreates an expired lease nor steals another worker's.
 * - Requeue is per item atomic (a Lua script re-checks the lease and moves the item with LREM count 1 + RPUSH) and
 *   has a grace scan: an item is moved back only when it was also lease-less at this worker's previous scan. That
 *   closes the original's race between another worker's BRPOPLPUSH and its SETEX (a few ms), at the price of
 *   returning an expired item one poll interval later.
 * - Failing an item (RPUSH errors, HSET reason, LREM, DEL) is one MULTI, so a crash cannot record it twice.
 * Redis has no sha224 in Lua, which is why the lease keys are computed here and passed in.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE, DEFAULT_STOP_KEY } from '#lib/contract.js';

export interface QueueKeys {
  main: string;
  processing: string;
  errors: string;
  errorReasons: string;
  stop: string;
  leasePrefix: string;
}

export function queueKeys(queue = DEFAULT_QUEUE, stopKey = DEFAULT_STOP_KEY): QueueKeys {
  return {
    main: queue,
    processing: `${queue}:processing`,
    errors: `${queue}:errors`,
    errorReasons: `${queue}:error_reasons`,
    stop: stopKey,
    leasePrefix: `${queue}:leased_by_session:`,
  };
}

/** sha224 hex of the item's exact bytes (a string item is taken as UTF-8, as redis-py encodes it). */
export function itemKey(item: Buffer | string): string {
  return createHash('sha224').update(item).digest('hex');
}

export function leaseKey(keys: QueueKeys, item: Buffer | string): string {
  return keys.leasePrefix + itemKey(item);
}

/** Extend the lease only while it still names this session. KEYS[1] lease; ARGV[1] session, ARGV[2] secs. */
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** Move one lease-less item back. KEYS[1] lease, KEYS[2] processing, KEYS[3] main; ARGV[1] item. */
const REQUEUE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('LREM', KEYS[2], 1, ARGV[1])
if n > 0 then redis.call('RPUSH', KEYS[3], ARGV[1]) end
return n`;

/** The replies of a MULTI, throwing the first command error (exec() itself resolves with them). */
function execOrThrow(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('redis transaction aborted');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

export class LeaseQueue {
  /** lease keys seen without a lease at the previous scan (the grace of requeueExpired) */
  private unleasedAtLastScan = new Set<string>();

  constructor(
    private readonly redis: Redis,
    readonly keys: QueueKeys,
    readonly session: string,
  ) {}

  /** Waits up to `timeoutSecs` for an item; null when none came. Redis 6+ accepts fractional timeouts. */
  async lease(leaseSecs: number, timeoutSecs: number): Promise<Buffer | null> {
    const item = await this.redis.brpoplpushBuffer(this.keys.main, this.keys.processing, timeoutSecs);
    if (item === null) return null;
    await this.redis.setex(leaseKey(this.keys, item), leaseSecs, this.session);
    return item;
  }

  /** Re-arms the lease TTL; false when the lease is gone or held by another session (nothing is changed then). */
  async renew(item: Buffer, leaseSecs: number): Promise<boolean> {
    const renewed = await this.redis.eval(RENEW_SCRIPT, 1, leaseKey(this.keys, item), this.session, String(leaseSecs));
    return renewed === 1;
  }

  async complete(item: Buffer): Promise<void> {
    execOrThrow(await this.redis.multi().lrem(this.keys.processing, 0, item).del(leaseKey(this.keys, item)).exec());
  }

  /** Records the item in `<queue>:errors` (bytes, as the original) and its reason, then completes it. */
  async fail(item: Buffer, reason: string): Promise<void> {
    execOrThrow(
      await this.redis
        .multi()
        .rpush(this.keys.errors, item)
        .hset(this.keys.errorReasons, item, reason)
        .lrem(this.keys.processing, 0, item)
        .del(leaseKey(this.keys, item))
        .exec(),
    );
  }

  /** Moves items whose lease expired (and was already missing at the previous scan) back to the main list. */
  async requeueExpired(): Promise<number> {
    const items = await this.redis.lrangeBuffer(this.keys.processing, 0, -1);
    const unleased = new Set<string>();
    let moved = 0;
    for (const item of items) {
      const key = leaseKey(this.keys, item);
      if ((await this.redis.exists(key)) === 1) continue;
      if (!this.unleasedAtLastScan.has(key)) {
        unleased.add(key);
        continue;
      }
      moved += Number(await this.redis.eval(REQUEUE_SCRIPT, 3, key, this.keys.processing, this.keys.main, item));
    }
    this.unleasedAtLastScan = unleased;
    return moved;
  }

  async isEmpty(): Promise<boolean> {
    const [main, processing] = execOrThrow(await this.redis.multi().llen(this.keys.main).llen(this.keys.processing).exec());
    return main === 0 && processing === 0;
  }

  /** Asperathos stop pushes an item on the stop list; it is left there so every worker sees it. */
  async stopRequested(): Promise<boolean> {
    return (await this.redis.llen(this.keys.stop)) > 0;
  }
}
