/**
 * A caller's AbortSignal often outlives the call (a Lambda invocation's, a worker's stop signal). Calls that wait
 * on the client's shared authentication must not leave listeners on it: on Node 22 the eleventh printed
 * "MaxListenersExceededWarning: 11 abort listeners added to [AbortSignal]", and each one kept its closure alive.
 */
import { describe, it, expect } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { loadServices } from '#local/service-endpoints.js';

describe('Swift client and long-lived abort signals', () => {
  it("calls that wait together on a first authentication leave no abort listener on the caller's signal", async () => {
    const { swift } = loadServices();
    const client = new SwiftClient({ auth: new TempAuth({ authUrl: swift.authUrl, user: swift.user, key: swift.key }) });
    const invocation = new AbortController();
    const urls = await Promise.all(Array.from({ length: 20 }, () => client.storageUrl({ signal: invocation.signal })));
    expect(new Set(urls)).toEqual(new Set([swift.storageUrl]));
    expect(getEventListeners(invocation.signal, 'abort')).toHaveLength(0);
  });
});
