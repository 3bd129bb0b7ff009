/** enclave/worker-config.ts: environment first, then `<envDir>/<NAME>` files; fails naming the variable. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envReader, loadWorkerConfig, parseFileNames, resultsContainerName } from '#enclave/worker-config.js';
import { ConfigError } from '#lib/errors.js';

const KEY = 'AAECAwQFBgcICQoLDA0ODw=='; // bytes 0..15
const base = {
  REDIS_HOST: 'redis-kj-1234567',
  ENCRYPTION_KEY: KEY,
  JOB_NAME: 'batch-1',
  ST_AUTH: 'http://127.0.0.1:8080/auth/v1.0',
  ST_USER: 'test:tester',
  ST_KEY: 'testing',
};
let envDir: string;
let emptyDir: string;

beforeAll(() => {
  envDir = mkdtempSync(join(tmpdir(), 'worker-env-'));
  emptyDir = mkdtempSync(join(tmpdir(), 'worker-env-empty-'));
});
afterAll(() => {
  rmSync(envDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

describe('worker configuration', () => {
  it('the ffmpeg child gets its own SCONE settings from FFMPEG_SCONE_* when the session names its config id', () => {
    expect(loadWorkerConfig(base, { envDir: emptyDir }).ffmpegScone).toBeUndefined();
    const config = loadWorkerConfig(
      {
        ...base,
        FFMPEG_SCONE_CONFIG_ID: 'batch-1/ffmpeg',
        FFMPEG_SCONE_CAS_ADDR: 'cas:18765',
        FFMPEG_SCONE_LAS_ADDR: '172.17.0.1:18766',
        FFMPEG_SCONE_MODE: 'HW',
        FFMPEG_SCONE_HEAP: '3G',
        FFMPEG_SCONE_STACK: '5M',
        FFMPEG_OTHER: 'x',
      },
      { envDir: emptyDir },
    );
    expect(config.ffmpegScone).toEqual({
      SCONE_CONFIG_ID: 'batch-1/ffmpeg',
      SCONE_CAS_ADDR: 'cas:18765',
      SCONE_LAS_ADDR: '172.17.0.1:18766',
      SCONE_MODE: 'HW',
      SCONE_HEAP: '3G',
      SCONE_STACK: '5M',
    });
  });

  it('applies the original defaults', () => {
    const config = loadWorkerConfig(base, { envDir: emptyDir });
    expect(config.redis).toEqual({ host: 'redis-kj-1234567', port: 6379, db: 0, queue: 'job', stopKey: 'stop' });
    expect(config.itemLeaseSecs).toBe(15);
    expect(config.queuePollSecs).toBe(2);
    expect([...config.encryptionKey]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(config.jobName).toBe('batch-1');
    expect(config.resultsContainer).toBe('batch-1-results');
    expect(config.swiftAuth.kind).toBe('tempauth');
    expect(config.swiftAttempts).toBe(5);
    expect(config.downloadTimeoutMs).toBe(60_000);
    expect(config.logLevel).toBe('info');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every value from the environment when given', () => {
    const config = loadWorkerConfig(
      {
        ...base,
        REDIS_PORT: '16379',
        REDIS_DB: '7',
        REDIS_QUEUE: 'q1',
        REDIS_STOP_KEY: 'q1:stop',
        ITEM_LEASE_SECS: '2',
        QUEUE_POLL_SECS: '0.5',
        SPOOL_DIR: '/tmp/x',
        DOWNLOAD_TIMEOUT_SECS: '5',
        SWIFT_ATTEMPTS: '2',
        LOG_LEVEL: 'debug',
      },
      { envDir: emptyDir },
    );
    expect(config.redis).toEqual({ host: 'redis-kj-1234567', port: 16379, db: 7, queue: 'q1', stopKey: 'q1:stop' });
    expect([
      config.itemLeaseSecs,
      config.queuePollSecs,
      config.spoolDir,
      config.downloadTimeoutMs,
      config.swiftAttempts,
      config.logLevel,
    ]).toEqual([2, 0.5, '/tmp/x', 5000, 2, 'debug']);
  });

  it('falls back to /env/<NAME> files (trailing newline stripped) when a variable is absent or empty', () => {
    writeFileSync(join(envDir, 'ENCRYPTION_KEY'), `${KEY}\n`);
    writeFileSync(join(envDir, 'JOB_NAME'), 'from-file\r\n');
    writeFileSync(join(envDir, 'ITEM_LEASE_SECS'), '30\n');
    writeFileSync(join(envDir, 'REDIS_HOST'), 'file-host');
    const config = loadWorkerConfig(
      { ST_AUTH: base.ST_AUTH, ST_USER: base.ST_USER, ST_KEY: base.ST_KEY, JOB_NAME: '', REDIS_HOST: 'env-host' },
      { envDir },
    );
    expect(config.jobName).toBe('from-file');
    expect(config.itemLeaseSecs).toBe(30);
    expect(config.redis.host).toBe('env-host');
    expect(config.encryptionKey.toString('base64')).toBe(KEY);
  });

  it('reads Swift credentials from files too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-env-swift-'));
    try {
      writeFileSync(join(dir, 'OS_AUTH_URL'), 'http://keystone.example:5000/v3\n');
      writeFileSync(join(dir, 'OS_AUTH_TOKEN'), 'tok\n');
      const config = loadWorkerConfig({ REDIS_HOST: 'h', ENCRYPTION_KEY: KEY, JOB_NAME: 'j' }, { envDir: dir });
      expect(config.swiftAuth.kind).toBe('keystone v3 token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the missing variable, never a value', () => {
    const { ENCRYPTION_KEY: _k, ...noKey } = base;
    expect(() => loadWorkerConfig(noKey, { envDir: emptyDir })).toThrow(
      new ConfigError('missing configuration: ENCRYPTION_KEY (environment or /env/ENCRYPTION_KEY)'),
    );
    const { JOB_NAME: _j, ...noJob } = base;
    expect(() => loadWorkerConfig(noJob, { envDir: emptyDir })).toThrow(
      new ConfigError('missing configuration: JOB_NAME (environment or /env/JOB_NAME)'),
    );
    const { REDIS_HOST: _h, ...noHost } = base;
    expect(() => loadWorkerConfig(noHost, { envDir: emptyDir })).toThrow(
      new ConfigError('missing configuration: REDIS_HOST (environment or /env/REDIS_HOST)'),
    );
  });

  it('rejects a malformed key, lease or level without echoing it', () => {
    let message = '';
    try {
      loadWorkerConfig({ ...base, ENCRYPTION_KEY: 'c2VjcmV0LWtleS12YWx1ZQ' }, { envDir: emptyDir });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.startsWith('ENCRYPTION_KEY: invalid key:')).toBe(true);
    expect(message.includes('c2VjcmV0LWtleS12YWx1ZQ')).toBe(false);
    expect(() => loadWorkerConfig({ ...base, ITEM_LEASE_SECS: '0' }, { envDir: emptyDir })).toThrow(
      new ConfigError('ITEM_LEASE_SECS must be an integer between 1 and 86400'),
    );
    expect(() => loadWorkerConfig({ ...base, REDIS_PORT: '63x' }, { envDir: emptyDir })).toThrow(
      new ConfigError('REDIS_PORT must be an integer between 1 and 65535'),
    );
    expect(() => loadWorkerConfig({ ...base, LOG_LEVEL: 'loud' }, { envDir: emptyDir })).toThrow(
      new ConfigError('LOG_LEVEL must be one of debug, info, warn, error'),
    );
  });

  it('needs Swift credentials', () => {
    expect(() => loadWorkerConfig({ REDIS_HOST: 'h', ENCRYPTION_KEY: KEY, JOB_NAME: 'j' }, { envDir: emptyDir })).toThrow(ConfigError);
  });

  it('the env reader only consults files for plain upper-case names', () => {
    writeFileSync(join(envDir, 'PLAIN'), 'v\n');
    const read = envReader({}, envDir);
    expect(read('PLAIN')).toBe('v');
    expect(read('../PLAIN')).toBeUndefined();
    expect(read('ABSENT')).toBeUndefined();
  });

  it('with an allow-list, only the listed names come from files (secrets stay with the attested session)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-env-allow-'));
    try {
      writeFileSync(join(dir, 'REDIS_HOST'), 'redis-kj-1\n');
      writeFileSync(join(dir, 'ENCRYPTION_KEY'), `${KEY}\n`);
      const fileNames = parseFileNames(' REDIS_HOST, REDIS_PORT ,');
      expect([...(fileNames ?? [])]).toEqual(['REDIS_HOST', 'REDIS_PORT']);
      const { REDIS_HOST: _h, ENCRYPTION_KEY: _k, ...rest } = base;
      expect(() => loadWorkerConfig(rest, { envDir: dir, fileNames })).toThrow(
        new ConfigError('missing configuration: ENCRYPTION_KEY (environment or /env/ENCRYPTION_KEY)'),
      );
      expect(loadWorkerConfig({ ...rest, ENCRYPTION_KEY: KEY }, { envDir: dir, fileNames }).redis.host).toBe('redis-kj-1');
      expect(parseFileNames(undefined)).toBeUndefined();
      expect(parseFileNames('')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the results container is <JOB_NAME>-results', () => {
    expect(resultsContainerName('9d3f0c1e-5b7a-4c1e-9a51-3f0e2c9b7d10')).toBe('9d3f0c1e-5b7a-4c1e-9a51-3f0e2c9b7d10-results');
    expect(() => resultsContainerName('a/b')).toThrow(ConfigError);
    for (const control of ['\u0000', '\t', '\u001f']) expect(() => resultsContainerName(`a${control}b`)).toThrow(ConfigError);
    expect(resultsContainerName('a\u007f b')).toBe('a\u007f b-results');
  });
});
