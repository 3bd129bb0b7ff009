/** enclave/queue.ts against the real Redis: the lease operations, renewal ownership and the requeue grace. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LeaseQueue, leaseKey, queueKeys } from '#enclave/queue.js';
import { loadServices } from '#local/service-endpoints.js';

let redis: Redis;
const prefixes: string[] = [];

function fresh(): ReturnType<typeof queueKeys> {
  const prefix = `wq-${randomBytes(5).toString('hex')}`;
  prefixes.push(prefix);
  return queueKeys(prefix, `${prefix}:stop`);
}

beforeAll(() => {
  const { redis: r } = loadServices();
  redis = new Redis({ host: r.host, port: r.port, db: 0, maxRetriesPerRequest: 2 });
});
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

describe('lease queue', () => {
  it('leases from the tail into processing with a session lease, and completes', async () => {
    const keys = fresh();
    await redis.rpush(keys.main, 'first', 'second');
    const queue = new LeaseQueue(redis, keys, 'session-a');
    const item = await queue.lease(15, 0.1);
    expect(item?.toString()).toBe('second');
    expect(await redis.lrange(keys.processing, 0, -1)).toEqual(['second']);
    expect(await redis.get(leaseKey(keys, 'second'))).toBe('session-a');
    expect(await redis.ttl(leaseKey(keys, 'second'))).toBe(15);
    await queue.complete(item!);
    expect([await redis.llen(keys.processing), await redis.exists(leaseKey(keys, 'second')), await queue.isEmpty()]).toEqual([0, 0, false]);
    await queue.complete((await queue.lease(15, 0.1))!);
    expect(await queue.isEmpty()).toBe(true);
    expect(await queue.lease(15, 0.1)).toBeNull();
  });

  it('renews only its own lease and never recreates an expired one', async () => {
    const keys = fresh();
    await redis.rpush(keys.main, 'x');
    const a = new LeaseQueue(redis, keys, 'session-a');
    const b = new LeaseQueue(redis, keys, 'session-b');
    const item = (await a.lease(2, 0.1))!;
    expect(await a.renew(item, 30)).toBe(true);
    expect(await redis.ttl(leaseKey(keys, item))).toBe(30);
    expect(await b.renew(item, 60)).toBe(false);
    expect([await redis.get(leaseKey(keys, item)), await redis.ttl(leaseKey(keys, item))]).toEqual(['session-a', 30]);
    await redis.del(leaseKey(keys, item));
    expect(await a.renew(item, 30)).toBe(false);
    expect(await redis.exists(leaseKey(keys, item))).toBe(0);
  });

  it('returns a lease-less item only when a second scan still finds it lease-less', async () => {
    const keys = fresh();
    await redis.rpush(keys.processing, 'orphan', 'leased');
    await redis.setex(leaseKey(keys, 'leased'), 30, 'someone');
    const queue = new LeaseQueue(redis, keys, 'session-a');
    expect(await queue.requeueExpired()).toBe(0);
    expect(await redis.lrange(keys.main, 0, -1)).toEqual([]);
    // the orphan gets a lease between the scans (a worker between BRPOPLPUSH and SETEX): it stays
    await redis.setex(leaseKey(keys, 'orphan'), 1, 'late');
    expect(await queue.requeueExpired()).toBe(0);
    await redis.del(leaseKey(keys, 'orphan'));
    expect(await queue.requeueExpired()).toBe(0);
    expect(await queue.requeueExpired()).toBe(1);
    expect(await redis.lrange(keys.main, 0, -1)).toEqual(['orphan']);
    expect(await redis.lrange(keys.processing, 0, -1)).toEqual(['leased']);
  });

  it('fails an item into errors with its reason in one step, and sees the stop list', async () => {
    const keys = fresh();
    await redis.rpush(keys.main, 'bad');
    const queue = new LeaseQueue(redis, keys, 'session-a');
    const item = (await queue.lease(15, 0.1))!;
    await queue.fail(item, 'authentication_failed');
    expect(await redis.lrange(keys.errors, 0, -1)).toEqual(['bad']);
    expect(await redis.hgetall(keys.errorReasons)).toEqual({ bad: 'authentication_failed' });
    expect([await redis.llen(keys.processing), await redis.exists(leaseKey(keys, 'bad'))]).toEqual([0, 0]);
    expect(await queue.stopRequested()).toBe(false);
    await redis.rpush(keys.stop, 'stop');
    expect(await queue.stopRequested()).toBe(true);
    expect(await redis.llen(keys.stop)).toBe(1);
  });
});
