/**
 * Runs INSIDE a network namespace that has only `lo` (see test/integration/pacs-orthanc.test.ts):
 * s3rver (the intake bucket, on a directory the caller reads afterwards), the PACS hook's streaming server on
 * 127.0.0.1:8099, and a real Orthanc from Debian configured from ../shared/pacs/orthanc.json.in with the Lua
 * export script ../shared/pacs/export.lua. It loads one DICOM file into Orthanc and makes Orthanc push it to
 * the hook through every route, then prints one JSON line with what Orthanc said and what landed in the bucket.
 *
 *   node --import tsx test/support/orthanc-driver.ts <workdir> <dicom file>
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalS3 } from '#local/s3-local.js';
import { startPacsHookServer } from '#containers/pacs-hook/server.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { hashCredential } from '#lib/pacs/auth.js';
import { parsePacsHookConfig } from '#lib/pacs/config.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';
import { createLogger } from '#lib/log.js';
import { RetryableError } from '#lib/errors.js';
import { REPO_ROOT } from '#local/service-endpoints.js';
import {
  launchOrthanc,
  orthancConfig,
  ORTHANC_CONCURRENT_JOBS,
  type OrthancJob,
  type OrthancStoredInstance,
  type RunningOrthanc,
} from '#local/orthanc.js';
import { exportMatrix } from './orthanc-matrix.js';
import { busyJobThreads, busyWorkdir } from './orthanc-busy.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const DRIVER_BUCKET = 'radiomics-intake';
/** The credentials in ../shared/pacs, one tenant each so every route's object is told apart. */
export const ROUTE_TENANTS = {
  stowBasic: 'hosp-basic',
  stowBearer: 'hosp-bearer',
  peer: 'hosp-peer',
  lua: 'hosp-lua',
  luaUpload: 'hosp-upload',
} as const;
/** Two more copies of the /uploads recipe whose presigned PUTs fail: the bucket unreachable, and the bucket refusing. */
export const FAILING_UPLOAD_TENANTS = { unreachable: 'hosp-upload-unreachable', refused: 'hosp-upload-refused' } as const;

/**
 * `matrix <manifest.json>` after the two paths runs test/support/orthanc-matrix.ts instead of the happy flow;
 * `busy` runs test/support/orthanc-busy.ts with one job thread and with ORTHANC_CONCURRENT_JOBS.
 */
const [workdir, dicomPath, mode, manifestPath] = process.argv.slice(2);

async function main() {
  mkdirSync(join(workdir, 's3'), { recursive: true });
  const localS3 = await startLocalS3({ buckets: [DRIVER_BUCKET], directory: join(workdir, 's3') });
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: localS3.endpoint, credentials: localS3.credentials });
  const credentials = {
    basic: [
      { tenant: ROUTE_TENANTS.stowBasic, user: 'stowuser', hash: await hashCredential('basic', 'stowpass') },
      { tenant: ROUTE_TENANTS.peer, user: 'peeruser', hash: await hashCredential('basic', 'peerpass') },
    ],
    bearer: [
      { tenant: ROUTE_TENANTS.stowBearer, hash: await hashCredential('bearer', 'test-token-123') },
      { tenant: ROUTE_TENANTS.lua, hash: await hashCredential('bearer', 'lua-token-456') },
      { tenant: ROUTE_TENANTS.luaUpload, hash: await hashCredential('bearer', 'upload-token-789') },
      { tenant: FAILING_UPLOAD_TENANTS.unreachable, hash: await hashCredential('bearer', 'upload-token-unreachable') },
      { tenant: FAILING_UPLOAD_TENANTS.refused, hash: await hashCredential('bearer', 'upload-token-refused') },
    ],
  };
  const hookLog: string[] = [];
  // the hook as deployed: configuration from the environment (default caps), credentials from PACS_CREDENTIALS_FILE
  writeFileSync(join(workdir, 'pacs-credentials.json'), JSON.stringify(credentials));
  const config = parsePacsHookConfig({
    INTAKE_BUCKET: DRIVER_BUCKET,
    PACS_RETRIEVE_BASE: 'http://127.0.0.1:8099/dicomweb',
    PACS_CREDENTIALS_FILE: join(workdir, 'pacs-credentials.json'),
    S3_ENDPOINT: localS3.endpoint,
    AWS_REGION: 'eu-west-1',
  });
  const deps = await buildPacsHookDeps(config, {
    log: createLogger({ function: 'pacs-hook' }, { level: 'info', sink: (line) => hookLog.push(line) }),
    s3Credentials: localS3.credentials,
  });
  const store = deps.objects;
  let failNextPut = false; // one injected bucket outage, to make an Orthanc job fail and then resubmit it
  deps.objects = {
    put: (key, body, length, signal) => {
      if (!failNextPut) return store.put(key, body, length, signal);
      failNextPut = false;
      return Promise.reject(new RetryableError('injected outage'));
    },
  };
  const presigner = deps.presigner;
  deps.presigner = {
    // tickets whose PUT cannot succeed: to a closed port, and to a bucket that does not exist
    presign: async (tenant, request) => {
      const ticket = await presigner.presign(tenant, request);
      if (ticket.method !== 'PUT') return ticket;
      if (tenant === FAILING_UPLOAD_TENANTS.unreachable)
        return { ...ticket, url: ticket.url.replace(localS3.endpoint, 'http://127.0.0.1:9') };
      if (tenant === FAILING_UPLOAD_TENANTS.refused)
        return { ...ticket, url: ticket.url.replace(`/${DRIVER_BUCKET}/`, '/no-such-bucket/') };
      return ticket;
    },
  };
  const hook = await startPacsHookServer(deps, { port: 8099, timeouts: config.server });

  // the shared export.lua, then three copies of the /uploads recipe of docs/hospital/orthanc-uploads.lua (each chains OnStoredInstance)
  const recipe = (token: string) =>
    readFileSync(join(REPO_ROOT, 'docs', 'hospital', 'orthanc-uploads.lua'), 'utf8')
      .replace("'https://pacs-hook.example.org'", "'http://127.0.0.1:8099'")
      .replace("'Bearer REPLACE-WITH-HOSPITAL-TOKEN'", `'Bearer ${token}'`);
  writeFileSync(join(workdir, 'uploads.lua'), recipe('upload-token-789'));
  writeFileSync(join(workdir, 'uploads-unreachable.lua'), recipe('upload-token-unreachable'));
  writeFileSync(join(workdir, 'uploads-refused.lua'), recipe('upload-token-refused'));
  const orthancSettings = orthancConfig(workdir);
  const recipes = mode === 'matrix' ? ['uploads.lua'] : ['uploads.lua', 'uploads-unreachable.lua', 'uploads-refused.lua'];
  orthancSettings.LuaScripts = [...(orthancSettings.LuaScripts as string[]), ...recipes.map((f) => join(workdir, f))];
  const result: Record<string, unknown> = {};
  let running: RunningOrthanc | undefined;
  try {
    if (mode === 'busy') {
      for (const threads of [1, ORTHANC_CONCURRENT_JOBS])
        result[threads] = await busyJobThreads(busyWorkdir(workdir, threads), dicomPath, threads);
      return;
    }
    running = await launchOrthanc(workdir, orthancSettings);
    const orthanc = running.rest;
    if (mode === 'matrix') {
      const fixtures = JSON.parse(readFileSync(manifestPath, 'utf8'));
      Object.assign(
        result,
        await exportMatrix({ orthanc, s3, bucket: DRIVER_BUCKET, hookLog, orthancLog: join(workdir, 'orthanc.log'), fixtures }),
      );
      return;
    }
    const dicom = readFileSync(dicomPath);
    const uploaded = await orthanc('POST', '/instances', new Uint8Array(dicom));
    const stored = uploaded.body as OrthancStoredInstance;
    const instanceId = stored.ID;
    const studyId = stored.ParentStudy;
    result.upload = { status: uploaded.status, Status: stored.Status };

    // Lua OnStoredInstance fired on that upload (HttpPost to /lua/instances); its object is awaited below
    const sync = async (path: string, body: unknown) => {
      const answer = await orthanc('POST', path, body);
      return { status: answer.status, body: answer.body };
    };
    result.stowBasic = await sync('/dicom-web/servers/hook-basic/stow', { Resources: [instanceId], Synchronous: true });
    result.stowBearer = await sync('/dicom-web/servers/hook-bearer/stow', { Resources: [studyId], Synchronous: true });
    result.peer = await sync('/peers/hookpeer/store', { Resources: [instanceId], Synchronous: true });
    // an asynchronous STOW job, as OnStableStudy queues: poll it to its end
    const queued = await sync('/dicom-web/servers/hook-basic/stow', { Resources: [studyId], Synchronous: false });
    const jobId = (queued.body as { ID: string }).ID;
    let job: OrthancJob | undefined;
    for (let i = 0; i < 100; i++) {
      job = (await orthanc('GET', `/jobs/${jobId}`)).body as OrthancJob;
      if (job.State === 'Success' || job.State === 'Failure') break;
      await sleep(100);
    }
    result.asyncStow = { State: job?.State, ErrorCode: job?.ErrorCode };
    // a job that failed on a hook outage, then resubmitted: Orthanc 1.10 resends an EMPTY multipart body
    // (closing delimiter only) and would count it a success; the hook answers 400, so the job fails visibly
    const pollJob = async (id: string) => {
      let state: OrthancJob | undefined;
      for (let i = 0; i < 100; i++) {
        state = (await orthanc('GET', `/jobs/${id}`)).body as OrthancJob;
        if (state.State === 'Success' || state.State === 'Failure') break;
        await sleep(100);
      }
      return { State: state?.State, ErrorCode: state?.ErrorCode };
    };
    failNextPut = true;
    const failing = (await sync('/dicom-web/servers/hook-basic/stow', { Resources: [instanceId], Synchronous: false })).body as {
      ID: string;
    };
    const firstRun = await pollJob(failing.ID);
    const resubmit = await orthanc('POST', `/jobs/${failing.ID}/resubmit`, {});
    await sleep(300);
    result.resubmit = { firstRun, resubmitStatus: resubmit.status, afterResubmit: await pollJob(failing.ID) };
    // wait for the Lua export (OnStoredInstance) and for OnStableStudy's own STOW job (StableAge 3 s)
    let jobs: OrthancJob[] = [];
    for (let i = 0; i < 100; i++) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: DRIVER_BUCKET }));
      jobs = (await orthanc('GET', '/jobs?expand')).body as OrthancJob[];
      const luaLanded = [ROUTE_TENANTS.lua, ROUTE_TENANTS.luaUpload].every((t) =>
        (listed.Contents ?? []).some((o) => o.Key?.startsWith(`${t}/`)),
      );
      const stableDone = jobs.length >= 6 && jobs.every((j) => j.State === 'Success' || j.State === 'Failure');
      const recipesDone = readFileSync(join(workdir, 'orthanc.log'), 'utf8').split('hook upload: ').length - 1 >= 3;
      if (luaLanded && stableDone && recipesDone) break;
      await sleep(100);
    }
    result.jobs = jobs.filter((j) => j.ID !== failing.ID).map((j) => ({ Type: j.Type, State: j.State, ErrorCode: j.ErrorCode }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: DRIVER_BUCKET }));
    const dicomSha = createHash('sha256').update(dicom).digest('hex');
    result.objects = await Promise.all(
      (listed.Contents ?? []).map(async (o) => {
        const body = Buffer.from(
          await (await s3.send(new GetObjectCommand({ Bucket: DRIVER_BUCKET, Key: o.Key! }))).Body!.transformToByteArray(),
        );
        return { key: o.Key, bytes: body.length, sameBytes: createHash('sha256').update(body).digest('hex') === dicomSha };
      }),
    );
    result.luaAnswers = readFileSync(join(workdir, 'orthanc.log'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('Lua HttpPost to hook returned') || line.includes('hook upload:'))
      .map((line) => line.slice(line.indexOf('Lua says: ') + 'Lua says: '.length));
    result.hookWarnings = hookLog
      .map((line) => JSON.parse(line))
      .filter((e) => e.level === 'warn')
      .map((e) => ({ message: e.message, fields: e.fields, reason: e.reason }));
    result.hookAnswers = hookLog
      .map((line) => JSON.parse(line))
      .filter((e) => e.message === 'answered')
      .map((e) => ({ route: e.route, tenant: e.tenant, status: e.status, transfer: e.transfer }));
    result.hookErrors = hookLog
      .map((line) => JSON.parse(line))
      .filter((e) => e.level === 'error')
      .map((e) => e.error_message);
  } finally {
    await running?.stop();
    await hook.close();
    s3.destroy();
    await localS3.close();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: String((error as Error)?.stack ?? error) })}\n`);
  process.exit(1);
});
