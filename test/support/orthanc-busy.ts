/**
 * The third run of test/support/orthanc-driver.ts (`busy` mode): why local/orthanc.ts raises Orthanc's job
 * threads. Orthanc starts with `threads` job threads; a peer store to a slow peer (it answers after 1.5 s) holds
 * one; then a synchronous STOW-RS job is posted. With one thread the STOW job is still Pending when the DICOMweb
 * plugin first polls it, and Orthanc drops the connection unanswered; with ORTHANC_CONCURRENT_JOBS it answers.
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchOrthanc, orthancConfig, type OrthancJob, type OrthancStoredInstance } from '#local/orthanc.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SLOW_PEER_PORT = 8097;

export async function busyJobThreads(
  workdir: string,
  dicomPath: string,
  threads: number,
): Promise<{ stow: { status: number } | { error: string }; peerJob: string }> {
  const slowPeer = createServer((request, response) => {
    request.resume();
    request.on('end', () =>
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"Status":"Success"}'), 1500),
    );
  });
  await new Promise<void>((resolve) => slowPeer.listen(SLOW_PEER_PORT, '127.0.0.1', resolve));
  const settings = orthancConfig(workdir, { ConcurrentJobs: threads, LuaScripts: [] });
  settings.OrthancPeers = { slow: { Url: `http://127.0.0.1:${SLOW_PEER_PORT}/` } };
  const orthanc = await launchOrthanc(workdir, settings);
  try {
    const stored = await orthanc.rest('POST', '/instances', new Uint8Array(readFileSync(dicomPath)));
    const instance = (stored.body as OrthancStoredInstance).ID;
    const peer = await orthanc.rest('POST', '/peers/slow/store', { Resources: [instance], Synchronous: false });
    await sleep(300);
    const stow = await orthanc.rest('POST', '/dicom-web/servers/hook-basic/stow', { Resources: [instance], Synchronous: true }).then(
      (answer) => ({ status: answer.status }),
      (error: Error) => ({ error: (error.cause as Error | undefined)?.message ?? error.message }),
    );
    let state = '';
    for (let i = 0; i < 100 && state !== 'Success' && state !== 'Failure'; i++) {
      state = ((await orthanc.rest('GET', `/jobs/${(peer.body as { ID: string }).ID}`)).body as OrthancJob).State;
      await sleep(100);
    }
    return { stow, peerJob: state };
  } finally {
    await orthanc.stop();
    await new Promise<void>((resolve) => slowPeer.close(() => resolve()));
  }
}

export const busyWorkdir = (workdir: string, threads: number) => join(workdir, `busy-${threads}`);
