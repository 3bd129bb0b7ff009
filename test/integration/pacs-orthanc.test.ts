/**
 * A real Orthanc (Debian's 1.10.1 + DICOMweb plugin 1.7) pushes a dcmtk-made Ultrasound Multi-frame file to the
 * PACS hook through every route, inside network and PID namespaces (only `lo`, since Orthanc always binds 0.0.0.0; the PID namespace ends Orthanc with the driver):
 * STOW-RS as a synchronous job with Basic (chunked), STOW-RS with Bearer and ChunkedTransfers false, an
 * asynchronous STOW job, peer store, the Lua OnStoredInstance HttpPost of ../shared/pacs/export.lua, and the
 * /uploads recipe of docs/hospital/orthanc-uploads.lua (presigned PUT straight into the bucket, and two copies whose PUT fails).
 * The hook runs as deployed: configuration parsed from the environment (default caps), PACS_CREDENTIALS_FILE.
 * The driver (test/support/orthanc-driver.ts) runs in the namespace with s3rver and the hook; then the intake,
 * against real dynalite and Swift, de-identifies, converts and seals every object that landed. Then the refusal
 * matrix, and the job-thread case behind ORTHANC_CONCURRENT_JOBS (the once-in-four "socket hang up").
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startLocalS3 } from '#local/s3-local.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { dicomConversion } from '#lib/intake/dicom-step.js';
import { ingestS3Event } from '#lib/intake/event-loop.js';
import { startIntakeHarness, decryptLikeTheOriginal, type IntakeHarness } from '#local/intake-harness.js';
import { buildUncompressedLoop, dcmtkAvailable, makeUsLoopWithDcmtk, patchAscii } from '#local/dicom-fixtures.js';
import { REPO_ROOT } from '#local/service-endpoints.js';
import { loopbackNamespaceArgs, ORTHANC_CONCURRENT_JOBS, orthancUnavailable } from '#local/orthanc.js';

const reason = orthancUnavailable() ?? (dcmtkAvailable() ? undefined : 'dcmtk is not installed (apt-get install dcmtk)');
if (reason) process.stdout.write(`SKIPPED pacs-orthanc: ${reason}\n`);
const maybe = reason ? describe.skip : describe;

const TENANTS = ['hosp-basic', 'hosp-bearer', 'hosp-lua', 'hosp-peer', 'hosp-upload'];
let work: string;
let dicom: Buffer;
/** The JSON line test/support/orthanc-driver.ts prints (the parts these cases read; the rest is compared whole). */
interface DriverReport {
  error?: string;
  upload: unknown;
  stowBasic: unknown;
  stowBearer: unknown;
  peer: { status: number; body: unknown };
  luaAnswers: string[];
  hookAnswers: unknown[];
  hookWarnings: { message: string }[];
  hookErrors: string[];
  objects: { key: string; bytes: number; sameBytes: boolean }[];
  asyncStow: unknown;
  jobs: unknown[];
  resubmit: unknown;
}

/** What test/support/orthanc-matrix.ts's exportMatrix reports, per fixture route and overall. */
interface MatrixReport {
  error?: string;
  routes: Record<string, { stow: { orthanc: number; hook: unknown[] }; peer: { orthanc: number; hook: { status: number }[] } }>;
  lua: { posts: string[]; uploads: string[] };
  jobStates: string[];
  landed: { key: string; sameBytes: boolean }[];
}

let report: DriverReport;

function runDriver(dir = join(work, 'ns'), extra: string[] = []): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const args = [dir, join(work, 'us.dcm'), ...extra];
    const child = spawn('unshare', loopbackNamespaceArgs('node --import tsx test/support/orthanc-driver.ts "$@"', args), {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`driver exited ${code}: ${out.slice(-2000)} ${err.slice(-2000)}`));
      }
    });
  });
}

maybe('a real Orthanc exports to the PACS hook', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pacs-orthanc-'));
    dicom = makeUsLoopWithDcmtk({ frames: 8 });
    writeFileSync(join(work, 'us.dcm'), dicom);
    report = (await runDriver()) as DriverReport;
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the driver ran to its end', () => {
    expect(report.error).toBeUndefined();
    expect(report.upload).toEqual({ status: 200, Status: 'Success' });
  });

  it('STOW-RS synchronous job with Basic (chunked) succeeds', () => {
    expect(report.stowBasic).toEqual({ status: 200, body: { InstancesCount: '1', NetworkSizeMB: '0' } });
    expect(report.hookAnswers).toContainEqual({ route: 'stow', tenant: 'hosp-basic', status: 200, transfer: 'chunked' });
  });

  it('STOW-RS with Bearer and ChunkedTransfers false (Content-Length) succeeds', () => {
    expect(report.stowBearer).toEqual({ status: 200, body: { InstancesCount: '1', NetworkSizeMB: '0' } });
    expect(report.hookAnswers).toContainEqual({ route: 'stow', tenant: 'hosp-bearer', status: 200, transfer: 'length' });
  });

  it('peer store succeeds with no failed instance', () => {
    expect(report.peer.status).toBe(200);
    expect(report.peer.body).toMatchObject({ FailedInstancesCount: 0, InstancesCount: 1, Size: String(dicom.length) });
  });

  it('the Lua OnStoredInstance HttpPost gets an Orthanc-style Success answer', () => {
    const returned = report.luaAnswers.filter((line) => line.startsWith('Lua HttpPost to hook returned: '));
    expect(returned).toHaveLength(1);
    const answer = JSON.parse(returned[0].replace(/^Lua HttpPost to hook returned: \[/, '').replace(/\]$/, ''));
    expect(answer.Status).toBe('Success');
    expect(answer.Path).toBe(`/instances/${answer.ID}`);
  });

  it('the /uploads Lua recipe (docs/hospital/orthanc-uploads.lua) gets a ticket and HttpPuts the file to the bucket', () => {
    expect(report.luaAnswers.filter((line) => line.startsWith('hook upload: '))[0]).toMatch(/^hook upload: PUT done for [0-9a-f-]{44}$/);
    expect(report.hookAnswers).toContainEqual({ route: 'uploads', tenant: 'hosp-upload', status: 200, transfer: 'length' });
    expect(report.hookWarnings.filter((w) => w.message !== 'stow with zero parts')).toEqual([]);
  });

  it('the /uploads Lua recipe logs a failed PUT as a failure: the bucket unreachable (HttpPut nil), the bucket refusing (HttpPut answers as on success, so the check GET decides); nothing stored', () => {
    const id = '[0-9a-f-]{44}';
    expect(report.luaAnswers.filter((line) => line.startsWith('hook upload: ')).slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^hook upload: FAILED for ${id}: no answer from the bucket \\(Orthanc does not retry\\)$`)),
      expect.stringMatching(new RegExp(`^hook upload: FAILED for ${id}: the bucket does not hold the file after the PUT$`)),
    ]);
    for (const tenant of ['hosp-upload-unreachable', 'hosp-upload-refused']) {
      expect(report.hookAnswers).toContainEqual({ route: 'uploads', tenant, status: 200, transfer: 'length' });
      expect(report.objects.filter((o) => o.key.startsWith(`${tenant}/`))).toEqual([]);
    }
  });

  it('every Orthanc job (sync, async and OnStableStudy STOW, peer store) ended in Success', () => {
    expect(report.asyncStow).toEqual({ State: 'Success', ErrorCode: 0 });
    expect(report.jobs.length).toBeGreaterThanOrEqual(5);
    for (const job of report.jobs) expect(job).toMatchObject({ State: 'Success', ErrorCode: 0 });
  });

  it('a job failed by a hook outage and then resubmitted stays failed: Orthanc resends an empty body, the hook answers 400', () => {
    expect(report.resubmit).toEqual({
      firstRun: { State: 'Failure', ErrorCode: 1 },
      resubmitStatus: 200,
      afterResubmit: { State: 'Failure', ErrorCode: 1 },
    });
    expect(report.hookAnswers).toContainEqual({ route: 'stow', tenant: 'hosp-basic', status: 400, transfer: 'chunked' });
    expect(report.hookWarnings).toContainEqual({ message: 'stow with zero parts' });
    expect(report.hookErrors).toEqual(['injected outage']);
  });

  it('each route landed the byte-exact instance under its tenant, keyed by SOPInstanceUID', () => {
    const sop = execFileSync('dcmdump', ['+P', '0002,0003', join(work, 'us.dcm')])
      .toString()
      .match(/\[([0-9.]+)\]/)![1];
    expect(report.objects).toEqual(TENANTS.map((tenant) => ({ key: `${tenant}/dicom/${sop}.dcm`, bytes: dicom.length, sameBytes: true })));
  });

  describe('then the intake', () => {
    let h: IntakeHarness;
    beforeAll(async () => {
      h = await startIntakeHarness();
      h.deps.convertDicom = dicomConversion({ ffmpegPath: '/usr/bin/ffmpeg', masterKey: h.masterKey, maxDicomBytes: 64 * 1024 * 1024 });
    });
    afterAll(async () => h?.close());

    it('de-identifies, converts and seals each landed instance; the sealed MP4 has every frame and no PHI', async () => {
      // the namespace's bucket is a directory; read it with a second s3rver outside the namespace
      const landed = await startLocalS3({ buckets: ['radiomics-intake'], directory: join(work, 'ns', 's3') });
      const s3 = createS3Client({ region: 'eu-west-1', endpoint: landed.endpoint, credentials: landed.credentials });
      try {
        for (const { key } of report.objects) {
          const body = Buffer.from(
            await (await s3.send(new GetObjectCommand({ Bucket: 'radiomics-intake', Key: key }))).Body!.transformToByteArray(),
          );
          const eTag = await h.put(key, body);
          const summary = await ingestS3Event(h.event(key, body.length, eTag), h.deps);
          expect(summary).toMatchObject({ records: 1, sealed: 1, rejected: 0 });
          const outcome = summary.outcomes[0] as { videoId: string; batchId: string };
          const video = await h.store.getVideo(outcome.videoId);
          const tenant = key.split('/')[0];
          expect(video).toMatchObject({ stage: 'sealed', tenant });
          const mp4 = decryptLikeTheOriginal(
            await h.batchKey(outcome.batchId, tenant),
            await h.swift.getObjectBytes(video!.container!, video!.objectName!),
          );
          expect(mp4.includes('TEST^ECHO')).toBe(false);
          expect(mp4.includes('ECHO001')).toBe(false);
          writeFileSync(join(work, 'sealed.mp4'), mp4);
          const probe = execFileSync('ffprobe', [
            '-v',
            'error',
            '-count_frames',
            '-show_entries',
            'stream=codec_name,width,height,nb_read_frames',
            '-of',
            'csv=p=0',
            join(work, 'sealed.mp4'),
          ])
            .toString()
            .trim();
          expect(probe).toBe('h264,240,320,8');
        }
        expect(h.logLines.join('\n')).not.toMatch(/TEST\^ECHO|ECHO001|1\.2\.276\.0\.7230010/);
      } finally {
        s3.destroy();
        await landed.close();
      }
    });
  });
});

/** One uncompressed 16×12×3 loop per UID pair unless said otherwise; every fixture is its own study except the two studies. */
function matrixFixtures(dir: string) {
  const uid = (n: number) => `1.2.826.0.1.3680043.8.498.${n}`;
  const write = (name: string, bytes: Buffer) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  const loop = (sop: number, study: number, options: Parameters<typeof buildUncompressedLoop>[1] = {}) =>
    buildUncompressedLoop({ SOPInstanceUID: uid(sop), StudyInstanceUID: uid(study), SeriesInstanceUID: uid(study + 1) }, options);
  const rle = (sop: number, study: number) => {
    const plain = write(`plain-${sop}.dcm`, loop(sop, study, { width: 64, height: 48, frames: 4 }));
    execFileSync('dcmcrle', [plain, join(dir, `rle-${sop}.dcm`)]);
    return join(dir, `rle-${sop}.dcm`);
  };
  const ct = (sop: number, study: number) => {
    const file = write(`ct-${sop}.dcm`, loop(sop, study, { frames: 1 }));
    execFileSync('dcmodify', ['-nb', '-m', 'SOPClassUID=1.2.840.10008.5.1.4.1.1.2', '-m', 'Modality=CT', '-e', 'NumberOfFrames', file]);
    return file;
  };
  const single = (sop: number, study: number) =>
    write(
      `single-${sop}.dcm`,
      patchAscii(loop(sop, study, { frames: 1 }), '1.2.840.10008.5.1.4.1.1.3.1', '1.2.840.10008.5.1.4.1.1.6.1', 2),
    );
  const entry = (name: string, files: [string, number][]) => ({
    name,
    files: files.map(([file, sop]) => ({ file, sopInstanceUid: uid(sop) })),
  });
  return [
    entry('rle loop', [[rle(9101, 9100), 9101]]),
    entry('single-frame US image', [[single(9201, 9200), 9201]]),
    entry('CT instance', [[ct(9301, 9300), 9301]]),
    entry('uncompressed loop above 8 MiB', [[write('big.dcm', loop(9401, 9400, { width: 1024, height: 1024, frames: 9 })), 9401]]),
    entry(
      'study of 3 instances',
      [9501, 9502, 9503].map((sop) => [write(`study-${sop}.dcm`, loop(sop, 9500)), sop] as [string, number]),
    ),
    entry('mixed study', [
      [write('mixed-9601.dcm', loop(9601, 9600)), 9601],
      [rle(9602, 9600), 9602],
      [ct(9603, 9600), 9603],
    ]),
  ];
}

maybe(
  'a real Orthanc sends refused, capped and multi-instance studies through every route (hook from its environment, default caps)',
  () => {
    let matrix: MatrixReport;
    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'pacs-orthanc-matrix-'));
      const dir = join(work, 'fixtures');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(work, 'us.dcm'), makeUsLoopWithDcmtk({ frames: 2 })); // unused in matrix mode
      writeFileSync(join(work, 'manifest.json'), JSON.stringify(matrixFixtures(dir)));
      matrix = (await runDriver(join(work, 'matrix'), ['matrix', join(work, 'manifest.json')])) as MatrixReport;
    }, 600_000);
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('the driver ran to its end', () => {
      expect(matrix.error).toBeUndefined();
    });

    const refusedSingle = (stowReason: string, stowStatus: number, peerStatus: number) => ({
      stow: { orthanc: 500, hook: [{ status: stowStatus, stored: 0, failed: 1, reasons: stowReason }] },
      peer: { orthanc: 500, hook: [{ status: peerStatus }] },
    });

    it.each([
      ['rle loop', refusedSingle('dicom_unsupported_transfer_syntax', 409, 400)],
      ['single-frame US image', refusedSingle('dicom_unsupported_sop_class', 409, 400)],
      ['CT instance', refusedSingle('dicom_unsupported_sop_class', 409, 400)],
      ['uncompressed loop above 8 MiB', refusedSingle('request_too_large', 413, 413)],
    ])('%s: STOW-RS and peer jobs fail in Orthanc; the hook refused it with the reason', (name, expected) => {
      expect(matrix.routes[name]).toEqual(expected);
    });

    it('study of 3 instances: STOW-RS stores all three in one request (200), the peer job sends three (200 each)', () => {
      expect(matrix.routes['study of 3 instances']).toEqual({
        stow: { orthanc: 200, hook: [{ status: 200, stored: 3, failed: 0 }] },
        peer: { orthanc: 200, hook: [{ status: 200 }, { status: 200 }, { status: 200 }] },
      });
    });

    it('mixed study: STOW-RS stores the loop and refuses the RLE and CT instances (202), the job fails; the peer job stops at its first refusal', () => {
      const { stow, peer } = matrix.routes['mixed study'];
      expect(stow).toEqual({
        orthanc: 500,
        hook: [{ status: 202, stored: 1, failed: 2, reasons: 'dicom_unsupported_transfer_syntax,dicom_unsupported_sop_class' }],
      });
      expect(peer.orthanc).toBe(500);
      expect(peer.hook.map((a) => a.status)).toEqual([...peer.hook.slice(1).map(() => 200), 400]);
    });

    it('Lua: /instances refuses what the hook does not take (Orthanc gives Lua an empty answer); /uploads presigns every instance, PUT and checked', () => {
      expect(matrix.lua.posts).toEqual([
        'refused',
        'refused',
        'refused',
        'refused',
        'Success',
        'Success',
        'Success',
        'Success',
        'refused',
        'refused',
      ]);
      expect(matrix.lua.uploads).toEqual(Array.from({ length: 10 }, () => 'hook upload: PUT done for <id>'));
    });

    it("Orthanc's jobs: only the 3-instance study's (sync STOW, peer, OnStableStudy STOW) succeed; the other 15 fail", () => {
      expect(matrix.jobStates).toEqual([...Array.from({ length: 15 }, () => 'Failure'), 'Success', 'Success', 'Success']);
    });

    it("what landed, byte-exact: accepted instances under each route's tenant; everything under the /uploads tenant (the intake checks those)", () => {
      const uid = (n: number) => `1.2.826.0.1.3680043.8.498.${n}`;
      const keys = (tenant: string, sops: number[]) => sops.map((n) => ({ key: `${tenant}/dicom/${uid(n)}.dcm`, sameBytes: true }));
      const accepted = [9501, 9502, 9503, 9601];
      expect(matrix.landed).toEqual([
        ...keys('hosp-basic', accepted),
        ...keys('hosp-bearer', accepted),
        ...keys('hosp-lua', accepted),
        ...keys('hosp-peer', matrix.landed.some((o) => o.key === `hosp-peer/dicom/${uid(9601)}.dcm`) ? accepted : [9501, 9502, 9503]),
        ...keys('hosp-upload', [9101, 9201, 9301, 9401, 9501, 9502, 9503, 9601, 9602, 9603]),
      ]);
    });
  },
);

maybe('a synchronous Orthanc job while every job thread is busy (why local/orthanc.ts sets ConcurrentJobs)', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pacs-orthanc-busy-'));
    writeFileSync(join(work, 'us.dcm'), makeUsLoopWithDcmtk({ frames: 2 }));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('with one job thread held by a slow peer store, Orthanc drops the STOW-RS call unanswered; with ORTHANC_CONCURRENT_JOBS it answers 200', async () => {
    const busy = await runDriver(join(work, 'busy'), ['busy']);
    expect(busy).toEqual({
      1: { stow: { error: 'socket hang up' }, peerJob: 'Success' },
      [ORTHANC_CONCURRENT_JOBS]: { stow: { status: 200 }, peerJob: 'Success' },
    });
  }, 120_000);
});
