/**
 * The SCONE packaging files agree with the worker: the session template's command and environment, the entry
 * point's /env names, the FSPF regions and the Dockerfile's stages. (No Docker or SGX here: these are static checks.)
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/services.js';

const run = promisify(execFile);
const read = (name: string) => readFileSync(join(REPO_ROOT, 'enclave', name), 'utf8');

describe('session template', () => {
  const session = parse(read('session-template.yaml')) as { services: Array<Record<string, unknown>> };
  const service = session.services[0];
  const environment = service.environment as Record<string, string>;

  it('runs the bundled worker from /app with the FSPF of config.json', () => {
    expect([service.name, service.command, service.pwd, service.fspf_path]).toEqual(['radiomics', 'node /app/worker.mjs', '/app', '/fspf.pb']);
  });

  it('carries every required secret and the spool in the environment, and lets only non-secrets come from /env', () => {
    expect(Object.keys(environment).sort()).toEqual(
      ['ENCRYPTION_KEY', 'ITEM_LEASE_SECS', 'JOB_NAME', 'OS_AUTH_TOKEN', 'OS_AUTH_URL', 'OS_PROJECT_DOMAIN_ID', 'OS_PROJECT_NAME', 'SCONE_ALLOW_DLOPEN', 'SCONE_HEAP', 'SCONE_STACK', 'SPOOL_DIR', 'WORKER_ENV_FILES'].sort(),
    );
    expect(environment.SPOOL_DIR).toBe('/spool');
    expect(environment.WORKER_ENV_FILES).toBe('REDIS_HOST,REDIS_PORT,REDIS_DB,REDIS_QUEUE');
  });

  it('the entry point copies exactly the WORKER_ENV_FILES names to /env', () => {
    const names = /for name in ([A-Z_ ]+); do/.exec(read('entrypoint.sh'))?.[1].trim().split(/\s+/);
    expect(names?.join(',')).toBe(environment.WORKER_ENV_FILES);
  });

  it('the MRENCLAVE-relevant SCONE settings equal the image defaults', () => {
    const docker = read('Dockerfile');
    expect([environment.SCONE_HEAP, environment.SCONE_STACK, environment.SCONE_ALLOW_DLOPEN]).toEqual(['3G', '5M', '1']);
    expect(docker.includes('SCONE_HEAP=3G')).toBe(true);
    expect(docker.includes('SCONE_STACK=5M')).toBe(true);
    expect(docker.includes('SCONE_ALLOW_DLOPEN=1')).toBe(true);
  });
});

describe('FSPF and Dockerfile', () => {
  it('authenticates /app and encrypts every spool location', () => {
    const regions = [...read('fspf.sh').matchAll(/^scone fspf addr "\$FSPF" (\S+) (.+) --kernel (\S+)$/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(regions).toEqual([
      ['/', '--not-protected', '/'],
      ['/app', '--authenticated', '/app'],
      ['/usr/lib', '--authenticated', '/usr/lib'],
      ['/spool', '--encrypted --ephemeral', '/spool'],
      ['/dev/shm', '--encrypted --ephemeral', '/dev/shm'],
      ['/tmp', '--encrypted --ephemeral', '/tmp'],
    ]);
  });

  it('keeps the keytag out of the pushed image: the image stage builds FROM base, not FROM fspf', () => {
    const stages = [...read('Dockerfile').matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => [m[2], m[1]]);
    expect(stages).toEqual([
      ['ffmpeg', '${SCONE_FFMPEG_IMAGE}'],
      ['base', '${SCONE_NODE_IMAGE}'],
      ['fspf', 'base'],
      ['keytag', 'scratch'],
      ['image', 'base'],
    ]);
  });

  it('the scripts are valid shell', async () => {
    await run('sh', ['-n', join(REPO_ROOT, 'enclave', 'fspf.sh')]);
    await run('sh', ['-n', join(REPO_ROOT, 'enclave', 'entrypoint.sh')]);
    await run('bash', ['-n', join(REPO_ROOT, 'enclave', 'build-image.sh')]);
  });

  it('the entry point writes the pod-provided names to /env and execs node with the arguments', async () => {
    // run the real script with / replaced: a stub `node` on PATH, and the /env path rewritten to a temp dir
    const dir = mkdtempSync(join(tmpdir(), 'entrypoint-'));
    try {
      writeFileSync(join(dir, 'node'), '#!/bin/sh\necho "node $*"\n');
      chmodSync(join(dir, 'node'), 0o755);
      const script = read('entrypoint.sh').replaceAll('/env', join(dir, 'env'));
      writeFileSync(join(dir, 'entrypoint.sh'), script);
      const { stdout } = await run('sh', [join(dir, 'entrypoint.sh'), '--help'], { env: { PATH: `${dir}:/usr/bin:/bin`, REDIS_HOST: 'redis-kj-1a2b3c4', REDIS_DB: '3', ENCRYPTION_KEY: 'never-copied' } });
      expect(stdout).toBe('node /app/worker.mjs --help\n');
      expect(readdirSync(join(dir, 'env')).sort()).toEqual(['REDIS_DB', 'REDIS_HOST']);
      expect(readFileSync(join(dir, 'env', 'REDIS_HOST'), 'utf8')).toBe('redis-kj-1a2b3c4\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
