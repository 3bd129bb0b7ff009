/**
 * local/services.ts boots a second, private set of real services (Swift All-In-One, memcached, redis) in a temporary
 * directory on other ports, so the shared instance other suites use is never touched.
 * Checks: a fresh boot writes services.json and answers with a TempAuth token, a second start is a no-op, a dead
 * daemon behind a stale pid file is restarted alone, and stop kills only our PIDs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servicesStatus, startServices, stopServices, type ServicePorts } from '#local/services.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';

const ports: ServicePorts = {
  swift: { proxy: 28080, object: 26010, container: 26011, account: 26012 },
  memcached: 21222,
  redis: 26379,
};
let root: string;
const lines: string[] = [];
const options = () => ({ repoRoot: root, ports, log: (l: string) => lines.push(l) });
const pidOf = (name: string) => Number(readFileSync(join(root, '.local', 'run', `${name}.pid`), 'utf8'));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'services-it-'));
});

afterAll(async () => {
  await stopServices(options()).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

describe('local services lifecycle (private instance)', () => {
  it('boots from nothing, writes services.json and TempAuth issues a token', async () => {
    const result = await startServices(options());
    expect(result.started.sort()).toEqual(['memcached', 'redis', 'swift-account', 'swift-container', 'swift-object', 'swift-proxy']);
    expect(result.external).toEqual([]);
    expect(result.elapsedMs).toBeLessThan(30_000);

    const file = JSON.parse(readFileSync(join(root, '.local', 'services.json'), 'utf8'));
    expect(file).toEqual({
      swift: {
        proxyUrl: 'http://127.0.0.1:28080',
        authUrl: 'http://127.0.0.1:28080/auth/v1.0',
        user: 'test:tester',
        key: 'testing',
        account: 'AUTH_test',
        storageUrl: 'http://127.0.0.1:28080/v1/AUTH_test',
        s3Endpoint: 'http://127.0.0.1:28080',
        s3AccessKey: 'test:tester',
        s3SecretKey: 'testing',
      },
      memcached: { host: '127.0.0.1', port: 21222 },
      redis: { host: '127.0.0.1', port: 26379 },
    });
    const health = await fetch('http://127.0.0.1:28080/healthcheck');
    expect(await health.text()).toBe('OK');

    const swift = new SwiftClient({ auth: new TempAuth({ authUrl: file.swift.authUrl, user: file.swift.user, key: file.swift.key }) });
    await swift.createContainer('lifecycle');
    await swift.putObject('lifecycle', 'o', 'x');
    expect((await swift.getObjectBytes('lifecycle', 'o')).toString()).toBe('x');
  }, 90_000);

  it('a second start with everything healthy is a no-op', async () => {
    const before = pidOf('swift-proxy');
    const result = await startServices(options());
    expect(result.started).toEqual([]);
    expect(result.kept.sort()).toEqual(['memcached', 'redis', 'swift-account', 'swift-container', 'swift-object', 'swift-proxy']);
    expect(pidOf('swift-proxy')).toBe(before);
  }, 30_000);

  it('a daemon that died behind its pid file is restarted, and only that one', async () => {
    const objectPid = pidOf('swift-object');
    const proxyPid = pidOf('swift-proxy');
    process.kill(objectPid, 'SIGKILL');
    for (let i = 0; i < 50 && alive(objectPid); i++) await new Promise((r) => setTimeout(r, 50));
    const status = await servicesStatus(options());
    expect(status.daemons.find((d) => d.name === 'swift-object')?.state).toBe('stopped');

    const result = await startServices(options());
    expect(result.started).toEqual(['swift-object']);
    expect(pidOf('swift-object')).not.toBe(objectPid);
    expect(pidOf('swift-proxy')).toBe(proxyPid);
    const after = await servicesStatus(options());
    expect(after.daemons.map((d) => d.state)).toEqual(['running', 'running', 'running', 'running', 'running', 'running']);
    expect(after.swiftReady).toBeNull();
  }, 60_000);

  it('a running Swift daemon whose pid file was corrupted is re-adopted, not duplicated', async () => {
    const containerPid = pidOf('swift-container');
    writeFileSync(join(root, '.local', 'run', 'swift-container.pid'), 'garbage\n');
    const result = await startServices(options());
    expect(result.started).toEqual([]);
    expect(pidOf('swift-container')).toBe(containerPid);
    expect(lines).toContain(`[services] swift-container: re-adopting pid ${containerPid} (its pid file was missing or stale)`);
  }, 30_000);

  it('stop kills our PIDs, removes services.json, and a second stop is a no-op', async () => {
    const pids = ['memcached', 'redis', 'swift-account', 'swift-container', 'swift-object', 'swift-proxy'].map(pidOf);
    const result = await stopServices(options());
    expect(result.stopped).toEqual(['swift-proxy', 'swift-account', 'swift-container', 'swift-object', 'memcached', 'redis']);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(join(root, '.local', 'services.json'))).toBe(false);
    expect(await stopServices(options())).toEqual({ stopped: [] });
    const status = await servicesStatus(options());
    expect(status.daemons.every((d) => d.state === 'stopped')).toBe(true);
  }, 30_000);
});
