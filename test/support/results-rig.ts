/**
 * A job with real results behind a real status API, for the results command's tests: the status rig (dynalite,
 * Asperathos emulator), the status-api router served locally, real Swift with TempURLs, and in the job's
 * results container what the worker leaves for two sample clips (their `<id>.json` and frame zip, made by the
 * worker's own code) and a third clip that failed (`<id>.error.json`).
 */
import { join } from 'node:path';
import { analyzeClip } from '#enclave/analyze-clip.js';
import { analysisJson, errorJson, FrameZip } from '#enclave/results.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { LOCAL_TEMPURL_KEY } from '#local/services.js';
import type { LocalHttpApi } from '#local/status-api-server.js';
import { localStatusApi } from './local-status-api.js';
import { loadServices, SHARED_DIR } from '#local/service-endpoints.js';
import { hex32, startStatusRig, waitFor, type StatusRig } from './status-rig.js';
import { startTokenKit, type TokenKit } from './tokens.js';

export const SAMPLE_CLIPS = ['VH020213M4_001390_20160406T111534', 'VH020213M4_001559_20160429T120933'];

export interface ResultsRig {
  api: LocalHttpApi;
  kit: TokenKit;
  status: StatusRig;
  swift: SwiftClient;
  batchId: string;
  /** video ids: two analysed sample clips, then one failed */
  videoIds: string[];
  /** the exact `<id>.json` and `<id>.zip` bytes the worker would have uploaded, by video id */
  uploaded: Map<string, { json: string; zip: Buffer }>;
  token(tenant?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startResultsRig(): Promise<ResultsRig> {
  const status = await startStatusRig();
  const kit = await startTokenKit();
  const services = loadServices();
  const swift = new SwiftClient({
    auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }),
  });
  await swift.setAccountTempUrlKey(LOCAL_TEMPURL_KEY, { slot: 2 });
  const api = await localStatusApi(status.store, swift);

  const videoIds = [hex32(), hex32(), hex32()].sort();
  const job = await status.submit({ videoIds, env: { FAKE_WORKER_FAIL_ITEMS: videoIds[2] } });
  await waitFor(
    'the job to complete',
    async () => ((await status.client.get(job.jobId)).status === 'completed' ? true : undefined),
    120_000,
  );
  const container = `${job.batchId}-results`;
  await swift.createContainer(container);
  const uploaded = new Map<string, { json: string; zip: Buffer }>();
  for (const [i, clip] of SAMPLE_CLIPS.entries()) {
    const zip = new FrameZip();
    const analysis = await analyzeClip(join(SHARED_DIR, 'samples', 'videos', `${clip}.MP4`), {
      anonymise: true,
      onFrame: (f) => f.png && zip.addFrame(f.index, f.png),
    });
    const files = { json: analysisJson(videoIds[i], analysis), zip: await zip.finish() };
    await swift.putObject(container, `${videoIds[i]}.zip`, files.zip, { contentType: 'application/zip' });
    await swift.putObject(container, `${videoIds[i]}.json`, Buffer.from(files.json), { contentType: 'application/json' });
    uploaded.set(videoIds[i], files);
  }
  await swift.putObject(container, `${videoIds[2]}.error.json`, Buffer.from(errorJson(videoIds[2], 'authentication_failed')), {
    contentType: 'application/json',
  });
  await status.sync();

  return {
    api,
    kit,
    status,
    swift,
    batchId: job.batchId,
    videoIds,
    uploaded,
    token: (tenant = 'hospital-a') => kit.hs({ tenant }),
    async close() {
      await api.close();
      for (const id of videoIds)
        for (const name of [`${id}.json`, `${id}.zip`, `${id}.error.json`])
          await swift.deleteObject(container, name, { ignoreMissing: true }).catch(() => undefined);
      await swift.deleteContainer(container, { ignoreMissing: true }).catch(() => undefined);
      await kit.close();
      await status.close();
    },
  };
}
