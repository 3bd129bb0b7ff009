/**
 * The SCONE packaging agrees with itself and with the product's defaults (no Docker or SGX here: static checks):
 * the Dockerfile, enclave/fspf.sh, enclave/entrypoint.sh, enclave/session-template.yaml, lib/enclave-image/layout.ts, the
 * session and job the batch function builds (lib/batch/job-spec.ts), and the WORKER_CMD defaults everywhere.
 * test/integration/enclave-startup.test.ts runs the same path.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ffmpegArgs } from '#enclave/decode.js';
import { DEFAULT_WORKER_CMD, SCONE_TUNING } from '#lib/asperathos/job.js';
import { buildBatchJob, buildBatchSession, type SubmissionSettings } from '#lib/batch/job-spec.js';
import { parseBatchConfig } from '#lib/batch/config.js';
import {
  FFMPEG_SESSION_COMMAND,
  IMAGE_ENTRYPOINT,
  IMAGE_FFMPEG,
  IMAGE_ENV_DIR,
  IMAGE_FSPF_PATH,
  IMAGE_SPOOL_DIR,
  IMAGE_WORKER_BUNDLE,
  JOB_WORKER_CMD,
  POD_ENV_NAMES,
  SESSION_WORKER_COMMAND,
  SESSION_WORKER_ENV,
} from '#lib/enclave-image/layout.js';
import { WORKER_CMD as SUBMIT_JOB_WORKER_CMD } from '#bin/submit-job/submit.js';
import { REPO_ROOT } from '#local/service-endpoints.js';

const run = promisify(execFile);
const read = (name: string) => readFileSync(join(REPO_ROOT, 'enclave', name), 'utf8');
const dockerfile = read('Dockerfile');
const imageStage = dockerfile.slice(dockerfile.indexOf('FROM base AS image'));
const imageEnv = Object.fromEntries(
  [...imageStage.replace(/\\\n\s*/g, ' ').matchAll(/^ENV (.+)$/gm)].flatMap((m) =>
    m[1]
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=') as [string, string]),
  ),
);
const template = parse(read('session-template.yaml').replace(/\$\{[A-Z_]+\}/g, 'x')) as {
  services: Array<Record<string, unknown>>;
  security: unknown;
};
const templateService = template.services[0];
const templateEnv = templateService.environment as Record<string, string>;

const settings: SubmissionSettings = {
  mode: 'HW',
  casAddress: 'cas.example:8081:18765',
  sessionFormat: '0.3',
  enclave: {
    mrenclave: '1'.repeat(64),
    imageName: 'registry.example/radiomics:1',
    fspfTag: 'b'.repeat(32),
    fspfKey: 'c'.repeat(64),
    fspfPath: IMAGE_FSPF_PATH,
  },
  workerCmd: [...JOB_WORKER_CMD],
  initSize: 1,
  expectedTimeSecs: 200,
  itemLeaseSecs: 15,
  verbosity: 3,
  workerEnv: { ST_AUTH: 'https://swift.example/auth/v1.0', ST_USER: 'u' },
  workerSecretEnv: { ST_KEY: 'k' },
};
const session = parse(buildBatchSession('batch-1', Buffer.alloc(16, 1), settings)) as {
  services: Array<Record<string, unknown>>;
  security: unknown;
};
const sessionService = session.services[0];
const sessionEnv = sessionService.environment as Record<string, string>;

describe('paths: the job starts what the image holds', () => {
  it('the bundle is copied to /app, so the worker is /app/worker.mjs, which the entry point execs and the session names', () => {
    expect(/^COPY dist\/enclave\/ \/app\/$/m.test(dockerfile)).toBe(true);
    expect(IMAGE_WORKER_BUNDLE).toBe('/app/worker.mjs');
    expect(/^exec (.+) "\$@"$/m.exec(read('entrypoint.sh'))?.[1]).toBe(SESSION_WORKER_COMMAND);
    expect([templateService.command, sessionService.command, templateService.pwd, sessionService.pwd]).toEqual([
      SESSION_WORKER_COMMAND,
      SESSION_WORKER_COMMAND,
      '/app',
      '/app',
    ]);
    expect(/^WORKDIR (\S+)$/m.exec(imageStage)?.[1]).toBe('/app');
  });

  it('the job cmd is the entry point everywhere (kubejobs command overrides ENTRYPOINT)', () => {
    expect(/^COPY enclave\/entrypoint.sh (\S+)$/m.exec(dockerfile)?.[1]).toBe(IMAGE_ENTRYPOINT);
    expect(/^ENTRYPOINT \["([^"]+)"\]$/m.exec(imageStage)?.[1]).toBe(IMAGE_ENTRYPOINT);
    const configDefault = parseBatchConfig({
      TABLE_NAME: 't',
      ASPERATHOS_URL: 'https://a.example/submissions',
      SGX_MODE: 'SIM',
      ENCLAVE_CONFIG_SSM: '/p/e',
      TEMPURL_KEY_SSM: '/p/t',
      MASTER_KEY_SSM: '/p/m',
      SWIFT_AUTH: 'tempauth',
      SWIFT_AUTH_URL: 'http://127.0.0.1:1/auth/v1.0',
      SWIFT_USER: 'u',
      SWIFT_KEY_SSM: '/p/k',
    });
    const serverless = /^\s+workerCmd: (.+)$/m.exec(readFileSync(join(REPO_ROOT, 'serverless.yml'), 'utf8'))?.[1];
    expect([configDefault.workerCmd, [...DEFAULT_WORKER_CMD], [...SUBMIT_JOB_WORKER_CMD], serverless?.split(' ')]).toEqual([
      [IMAGE_ENTRYPOINT],
      [IMAGE_ENTRYPOINT],
      [IMAGE_ENTRYPOINT],
      [IMAGE_ENTRYPOINT],
    ]);
    expect([
      configDefault.sessionCommand,
      buildBatchJob('batch-1', 'https://w.example/workload.txt', Buffer.alloc(16, 1), settings).plugin_info.cmd,
    ]).toEqual([SESSION_WORKER_COMMAND, [IMAGE_ENTRYPOINT]]);
  });

  it('/env and /spool are made in the image; the spool is the Dockerfile ENV, the session setting and an encrypted FSPF region', () => {
    expect(/mkdir -p (\/\S+) (\/\S+)/.exec(dockerfile)?.slice(1).sort()).toEqual([IMAGE_ENV_DIR, IMAGE_SPOOL_DIR].sort());
    expect([imageEnv.SPOOL_DIR, templateEnv.SPOOL_DIR, sessionEnv.SPOOL_DIR]).toEqual([IMAGE_SPOOL_DIR, IMAGE_SPOOL_DIR, IMAGE_SPOOL_DIR]);
    expect(read('fspf.sh')).toContain(`scone fspf addr "$FSPF" ${IMAGE_SPOOL_DIR} --encrypted --kernel ${IMAGE_SPOOL_DIR}\n`);
  });

  it('the FSPF path is the same in the Dockerfile, its ENV, the template and config.json facts', () => {
    expect(/^COPY --from=fspf (\S+) (\S+)$/m.exec(imageStage)?.slice(1)).toEqual([IMAGE_FSPF_PATH, IMAGE_FSPF_PATH]);
    expect([imageEnv.SCONE_FSPF, templateService.fspf_path, sessionService.fspf_path]).toEqual([
      IMAGE_FSPF_PATH,
      IMAGE_FSPF_PATH,
      IMAGE_FSPF_PATH,
    ]);
  });
});

describe('environment: what reaches the worker in HW mode', () => {
  it('the session carries the explicit /env allow-list, which is exactly what the entry point copies', () => {
    const copied = /for name in ([A-Z_ ]+); do/.exec(read('entrypoint.sh'))?.[1].trim().split(/\s+/);
    expect([copied, sessionEnv.WORKER_ENV_FILES.split(','), templateEnv.WORKER_ENV_FILES.split(',')]).toEqual([
      [...POD_ENV_NAMES],
      [...POD_ENV_NAMES],
      [...POD_ENV_NAMES],
    ]);
    expect([sessionEnv.WORKER_ENV_DIR, templateEnv.WORKER_ENV_DIR]).toEqual([IMAGE_ENV_DIR, IMAGE_ENV_DIR]);
  });

  it('the session and the template carry the policy-only SCONE settings, and no host-only ones', () => {
    for (const env of [sessionEnv, templateEnv]) {
      expect(Object.fromEntries(Object.keys(SESSION_WORKER_ENV).map((k) => [k, env[k]]))).toEqual(SESSION_WORKER_ENV);
      expect(['SCONE_HEAP', 'SCONE_STACK', 'SCONE_LOG', 'SCONE_MODE'].filter((k) => k in env)).toEqual([]);
    }
    expect([SESSION_WORKER_ENV.SCONE_FORK, SESSION_WORKER_ENV.SCONE_ALLOW_DLOPEN]).toEqual(['1', '1']);
  });

  it('the key reaches the worker only through the session: an ascii secret referenced from the environment', () => {
    expect([sessionEnv.ENCRYPTION_KEY, templateEnv.ENCRYPTION_KEY]).toEqual(['$$SCONE::ENCRYPTION_KEY$$', '$$SCONE::ENCRYPTION_KEY$$']);
    const job = buildBatchJob('batch-1', 'https://w.example/workload.txt', Buffer.alloc(16, 1), settings).plugin_info.env_vars as Record<
      string,
      string
    >;
    expect('ENCRYPTION_KEY' in job).toBe(false);
  });

  it('the legacy mrenclaves list, hardware attestation and nothing tolerated by default, in the session and the template', () => {
    expect([Array.isArray(sessionService.mrenclaves), 'attestation' in sessionService, Array.isArray(templateService.mrenclaves)]).toEqual([
      true,
      false,
      true,
    ]);
    expect([session.security, template.security]).toEqual([{ attestation: { mode: 'hardware' } }, { attestation: { mode: 'hardware' } }]);
  });

  it('the MRENCLAVE-relevant host settings are the same in the Dockerfile ENV, the job env_vars and build-image.sh', () => {
    const build = read('build-image.sh');
    const defaults = Object.fromEntries([...build.matchAll(/\$\{(SCONE_[A-Z_]+):-([^}]+)\}/g)].map((m) => [m[1], m[2]]));
    const job = buildBatchJob('batch-1', 'https://w.example/workload.txt', Buffer.alloc(16, 1), settings).plugin_info.env_vars as Record<
      string,
      string
    >;
    for (const name of ['SCONE_HEAP', 'SCONE_STACK', 'SCONE_ALLOW_DLOPEN'] as const) {
      expect([name, imageEnv[name], job[name], defaults[name]]).toEqual([name, SCONE_TUNING[name], SCONE_TUNING[name], SCONE_TUNING[name]]);
    }
  });
});

describe('ffmpeg as its own attested service (two MRENCLAVEs in config.json)', () => {
  const withFfmpeg = parse(
    buildBatchSession('batch-1', Buffer.alloc(16, 1), {
      ...settings,
      enclave: { ...settings.enclave, mrenclave: ['1'.repeat(64), '2'.repeat(64)] },
    }),
  ) as {
    services: Array<{ name: string; mrenclaves: string[]; command: string; environment: Record<string, string> }>;
  };

  it('the ffmpeg service runs the image ffmpeg with the flags decode.ts passes, the input as host argument @@1', () => {
    expect(/^COPY --from=ffmpeg (\S+) (\S+)$/m.exec(dockerfile)?.slice(1)).toEqual([IMAGE_FFMPEG, IMAGE_FFMPEG]);
    expect(FFMPEG_SESSION_COMMAND).toBe([IMAGE_FFMPEG, ...ffmpegArgs('@@1')].join(' '));
    expect(withFfmpeg.services.map((s) => [s.name, s.mrenclaves, s.command])).toEqual([
      ['radiomics', ['1'.repeat(64)], SESSION_WORKER_COMMAND],
      ['ffmpeg', ['2'.repeat(64)], FFMPEG_SESSION_COMMAND],
    ]);
    expect(template.services.map((s) => [s.name, s.command])).toEqual([
      ['radiomics', SESSION_WORKER_COMMAND],
      ['ffmpeg', FFMPEG_SESSION_COMMAND],
    ]);
  });

  it('the worker carries the child config id, CAS/LAS addresses and the host heap the ffmpeg MRENCLAVE was computed with', () => {
    const env = withFfmpeg.services[0].environment;
    expect([
      env.FFMPEG_PATH,
      env.FFMPEG_SCONE_CONFIG_ID,
      env.FFMPEG_SCONE_CAS_ADDR,
      env.FFMPEG_SCONE_LAS_ADDR,
      env.FFMPEG_SCONE_MODE,
      env.FFMPEG_SCONE_HEAP,
      env.FFMPEG_SCONE_STACK,
    ]).toEqual([
      IMAGE_FFMPEG,
      'batch-1/ffmpeg',
      'cas.example:18765',
      '172.17.0.1:18766',
      'HW',
      SCONE_TUNING.SCONE_HEAP,
      SCONE_TUNING.SCONE_STACK,
    ]);
    expect(withFfmpeg.services[1].environment).toEqual({ SCONE_ALLOW_DLOPEN: '1' });
    const templateChildEnv = Object.keys(templateEnv)
      .filter((k) => k.startsWith('FFMPEG_'))
      .sort();
    expect(templateChildEnv).toEqual(
      Object.keys(env)
        .filter((k) => k.startsWith('FFMPEG_'))
        .sort(),
    );
    expect([templateEnv.FFMPEG_SCONE_HEAP, templateEnv.FFMPEG_SCONE_STACK]).toEqual([SCONE_TUNING.SCONE_HEAP, SCONE_TUNING.SCONE_STACK]);
  });
});

describe('FSPF and Dockerfile', () => {
  it('authenticates /app and encrypts every spool location, kernel-backed (the ffmpeg child reads the spool)', () => {
    const regions = [...read('fspf.sh').matchAll(/^scone fspf addr "\$FSPF" (\S+) (.+) --kernel (\S+)$/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(regions).toEqual([
      ['/', '--not-protected', '/'],
      ['/app', '--authenticated', '/app'],
      ['/usr/lib', '--authenticated', '/usr/lib'],
      ['/spool', '--encrypted', '/spool'],
      ['/dev/shm', '--encrypted', '/dev/shm'],
      ['/tmp', '--encrypted', '/tmp'],
    ]);
    expect(read('fspf.sh').includes('--ephemeral --')).toBe(false);
  });

  it('keeps the keytag out of the pushed image: the image stage builds FROM base, not FROM fspf', () => {
    const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => [m[2], m[1]]);
    expect(stages).toEqual([
      // the Dockerfile's own build-argument references, kept literally
      ['ffmpeg', `\${SCONE_FFMPEG_IMAGE}`],
      ['base', `\${SCONE_NODE_IMAGE}`],
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
      const { stdout } = await run('sh', [join(dir, 'entrypoint.sh'), '--help'], {
        env: { PATH: `${dir}:/usr/bin:/bin`, REDIS_HOST: 'redis-kj-1a2b3c4', REDIS_DB: '3', ENCRYPTION_KEY: 'never-copied' },
      });
      expect(stdout).toBe('node /app/worker.mjs --help\n');
      expect(readdirSync(join(dir, 'env')).sort()).toEqual(['REDIS_DB', 'REDIS_HOST']);
      expect(readFileSync(join(dir, 'env', 'REDIS_HOST'), 'utf8')).toBe('redis-kj-1a2b3c4\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
