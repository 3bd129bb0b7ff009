/**
 * The second run of test/support/orthanc-driver.ts (`matrix` mode): a real Orthanc sends instances the hook must
 * refuse or cap, and studies, through every route, and this records, per fixture and route, what Orthanc said,
 * what the hook answered and what landed. Fixtures come from a manifest the test writes:
 *   [{ name, files: [{ file, sopInstanceUid }] }]   one entry per single instance or per study
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { OrthancJob, OrthancRest, OrthancStoredInstance } from '#local/orthanc.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface MatrixFixture {
  name: string;
  files: { file: string; sopInstanceUid: string }[];
}

export interface MatrixContext {
  orthanc: OrthancRest;
  s3: S3Client;
  bucket: string;
  hookLog: string[];
  orthancLog: string;
  fixtures: MatrixFixture[];
}

/** The hook's answers to `tenant` logged since `from`: status, and for STOW the stored and failed counts and reasons. */
function hookAnswersSince(hookLog: string[], from: number, tenant: string) {
  const answers: { status: number; stored?: number; failed?: number; reasons?: string }[] = [];
  let stow: { stored: number; failed: number; reasons?: string } | undefined;
  for (const e of hookLog.slice(from).map((line) => JSON.parse(line))) {
    if (e.tenant !== tenant) continue;
    if (e.message === 'stow') stow = { stored: e.stored, failed: e.failed, reasons: e.reasons };
    if (e.message === 'answered') {
      answers.push({ status: e.status, ...stow });
      stow = undefined;
    }
  }
  return answers;
}

/** Waits until `count` lines of the Orthanc log contain `marker` (Lua callbacks run one at a time, after the upload). */
async function logLines(path: string, marker: string, count: number): Promise<string[]> {
  for (let i = 0; i < 600; i++) {
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.includes(marker));
    if (lines.length >= count) return lines.map((line) => line.slice(line.indexOf(marker)));
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${count} × ${marker}`);
}

export async function exportMatrix(ctx: MatrixContext): Promise<Record<string, unknown>> {
  const ids: Record<string, { instances: string[]; study: string }> = {};
  for (const fixture of ctx.fixtures) {
    const instances: string[] = [];
    let study = '';
    for (const { file } of fixture.files) {
      const uploaded = await ctx.orthanc('POST', '/instances', new Uint8Array(readFileSync(file)));
      if (uploaded.status !== 200) throw new Error(`Orthanc refused fixture ${fixture.name}: ${uploaded.status}`);
      const stored = uploaded.body as OrthancStoredInstance;
      instances.push(stored.ID);
      study = stored.ParentStudy;
    }
    ids[fixture.name] = { instances, study };
  }
  const fileCount = ctx.fixtures.reduce((n, f) => n + f.files.length, 0);
  // Lua: every stored instance went to /lua/instances (export.lua) and through the /uploads recipe, in upload order
  const luaPosts = await logLines(ctx.orthancLog, 'Lua HttpPost to hook returned: ', fileCount);
  const luaUploads = await logLines(ctx.orthancLog, 'hook upload: ', fileCount);
  const routes: Record<string, unknown> = {};
  let at = 0;
  for (const fixture of ctx.fixtures) {
    const resources = fixture.files.length === 1 ? ids[fixture.name].instances : [ids[fixture.name].study];
    at = ctx.hookLog.length;
    const stow = await ctx.orthanc('POST', '/dicom-web/servers/hook-basic/stow', { Resources: resources, Synchronous: true });
    const stowHook = hookAnswersSince(ctx.hookLog, at, 'hosp-basic');
    at = ctx.hookLog.length;
    const peer = await ctx.orthanc('POST', '/peers/hookpeer/store', { Resources: resources, Synchronous: true });
    const peerHook = hookAnswersSince(ctx.hookLog, at, 'hosp-peer');
    routes[fixture.name] = {
      stow: { orthanc: stow.status, hook: stowHook },
      peer: { orthanc: peer.status, hook: peerHook },
    };
  }
  // OnStableStudy queues a STOW job (hook-bearer) per study once it is quiet: wait for them all to end
  let jobs: OrthancJob[] = [];
  for (let i = 0; i < 300; i++) {
    jobs = (await ctx.orthanc('GET', '/jobs?expand')).body as OrthancJob[];
    const queued = readFileSync(ctx.orthancLog, 'utf8').split('OnStableStudy queued').length - 1;
    if (
      queued >= ctx.fixtures.length &&
      jobs.length >= 3 * ctx.fixtures.length &&
      jobs.every((j) => j.State === 'Success' || j.State === 'Failure')
    )
      break;
    await sleep(100);
  }
  const listed = await ctx.s3.send(new ListObjectsV2Command({ Bucket: ctx.bucket }));
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const fileOf = new Map(ctx.fixtures.flatMap((f) => f.files.map((x) => [x.sopInstanceUid, sha(readFileSync(x.file))] as const)));
  const landed = await Promise.all(
    (listed.Contents ?? []).map(async (o) => {
      const body = Buffer.from(
        await (await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: o.Key! }))).Body!.transformToByteArray(),
      );
      const sop = o
        .Key!.split('/')
        .pop()!
        .replace(/\.dcm$/, '');
      return { key: o.Key!, sameBytes: fileOf.get(sop) === sha(body) };
    }),
  );
  return {
    routes,
    lua: {
      // Orthanc 1.10 hands Lua an empty string for any HTTP error status
      posts: luaPosts.map((line) =>
        line.endsWith('[]') ? 'refused' : JSON.parse(line.slice('Lua HttpPost to hook returned: ['.length, -1)).Status,
      ),
      uploads: luaUploads.map((line) => line.replace(/[0-9a-f]{8}(-[0-9a-f]{8}){4}/, '<id>')),
    },
    jobStates: jobs.map((j) => j.State).sort(),
    landed: landed.sort((a, b) => a.key.localeCompare(b.key)),
  };
}
