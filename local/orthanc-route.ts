/**
 * The hospital route of `npm start`, as a hospital's PACS export runs it: each clip becomes an Ultrasound
 * Multi-frame file with a scanner's patient and site data filled in (local/dicom-fixtures.ts; a DICOM file is
 * sent as it is), a loopback Orthanc (local/orthanc.ts) stores it and pushes it through DICOMweb STOW-RS to the
 * PACS hook, whose streaming server (containers/pacs-hook/server.ts, configured from its environment as
 * deployed, with a Basic credential for the tenant) puts it into the intake bucket as
 * `<tenant>/dicom/<SOPInstanceUID>.dcm`. From there the intake de-identifies, converts and seals it like any upload.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { startPacsHookServer, type PacsHookServer } from '#containers/pacs-hook/server.js';
import { hashCredential } from '#lib/pacs/auth.js';
import { parsePacsHookConfig } from '#lib/pacs/config.js';
import { buildPacsHookDeps } from '#lib/pacs/wiring.js';
import { dicomKeyOf } from '#lib/pacs/objects.js';
import { createLogger } from '#lib/log.js';
import { clipAsUsLoop, newUid } from './dicom-fixtures.js';
import { isDicomFile } from './clip-folder.js';
import { orthancConfig, startLoopbackOrthanc, type LoopbackOrthanc, type OrthancStoredInstance } from './orthanc.js';
import { LOCAL_INTAKE_BUCKET, LOCAL_TABLE, type IntakeStack } from './intake-stack.js';

/** The hook's port inside Orthanc's namespace, bridged to the hook outside. */
const HOOK_PORT_INSIDE = 8099;
const DICOMWEB_SERVER = 'pacs-hook';

export interface PacsDelivery {
  /** The file that was sent (an MP4 converted on the way, or a DICOM file). */
  clip: string;
  sopInstanceUid: string;
  /** Where the hook put it in the intake bucket. */
  key: string;
}

export interface PacsRoute {
  /** Stores each clip in Orthanc and has Orthanc send it to the hook (one synchronous STOW-RS job per instance). */
  send(clipPaths: readonly string[]): Promise<PacsDelivery[]>;
  /** The hook's warning and error log lines so far (JSON). */
  hookLog: string[];
  close(): Promise<void>;
}

export async function startPacsRoute(stack: IntakeStack, options: { tenant: string }): Promise<PacsRoute> {
  const work = mkdtempSync(join(tmpdir(), 'radiomics-pacs-'));
  const user = `orthanc-${options.tenant}`;
  const password = randomBytes(18).toString('base64url');
  let hook: PacsHookServer | undefined;
  let orthanc: LoopbackOrthanc | undefined;
  const hookLog: string[] = [];
  try {
    const credentialsFile = join(work, 'pacs-credentials.json');
    writeFileSync(
      credentialsFile,
      JSON.stringify({ basic: [{ tenant: options.tenant, user, hash: await hashCredential('basic', password) }] }),
      { mode: 0o600 },
    );
    const config = parsePacsHookConfig({
      INTAKE_BUCKET: LOCAL_INTAKE_BUCKET,
      TABLE_NAME: LOCAL_TABLE,
      PACS_RETRIEVE_BASE: `http://127.0.0.1:${HOOK_PORT_INSIDE}/dicomweb`,
      PACS_CREDENTIALS_FILE: credentialsFile,
      // the streaming container's setting (README, "Big files"): Lambda's 4.4 MB cap does not apply to it
      PACS_MAX_REQUEST_BYTES: String(4 * 1024 ** 3),
      S3_ENDPOINT: stack.s3.endpoint,
      DYNAMODB_ENDPOINT: stack.dynamo.endpoint,
      AWS_REGION: stack.env.AWS_REGION,
    });
    const log = createLogger({ function: 'pacs-hook' }, { level: 'warn', sink: (line) => hookLog.push(line) });
    hook = await startPacsHookServer(await buildPacsHookDeps(config, { log, s3Credentials: stack.s3.credentials }), {
      port: 0,
      timeouts: config.server,
    });
    const settings = orthancConfig(join(work, 'orthanc'), {
      LuaScripts: [],
      OrthancPeers: {},
      DicomServerEnabled: false,
    });
    settings.DicomWeb = {
      ...(settings.DicomWeb as Record<string, unknown>),
      Servers: { [DICOMWEB_SERVER]: [`http://127.0.0.1:${HOOK_PORT_INSIDE}/dicomweb/`, user, password] },
    };
    orthanc = await startLoopbackOrthanc({
      workdir: join(work, 'orthanc'),
      config: settings,
      hookPortInside: HOOK_PORT_INSIDE,
      hook: { host: '127.0.0.1', port: Number(new URL(hook.url).port) },
    });
  } catch (error) {
    await orthanc?.close();
    await hook?.close();
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  const { rest } = orthanc;
  // one examination: every converted clip is a cine loop of the same patient's study, in one series
  const study = { studyInstanceUid: newUid(), seriesInstanceUid: newUid() };

  return {
    hookLog,
    async send(clipPaths) {
      const deliveries: PacsDelivery[] = [];
      for (const clip of clipPaths) {
        let file = clip;
        if (!isDicomFile(clip)) {
          file = join(work, `${basename(clip)}.dcm`);
          clipAsUsLoop(clip, file, { ...study, sopInstanceUid: newUid() });
        }
        const stored = await rest('POST', '/instances', new Uint8Array(readFileSync(file)));
        if (file !== clip) rmSync(file);
        if (stored.status !== 200) throw new Error(`Orthanc did not store ${basename(clip)} (${stored.status})`);
        const instance = (stored.body as OrthancStoredInstance).ID;
        const tags = await rest('GET', `/instances/${instance}/simplified-tags`);
        const sopInstanceUid = String((tags.body as Record<string, unknown>).SOPInstanceUID);
        const sent = await rest('POST', `/dicom-web/servers/${DICOMWEB_SERVER}/stow`, { Resources: [instance], Synchronous: true });
        if (sent.status !== 200) {
          const refusal = hookLog
            .map((line) => JSON.parse(line) as Record<string, unknown>)
            .findLast((entry) => entry.reasons ?? entry.error_message);
          throw new Error(
            `Orthanc's STOW-RS of ${basename(clip)} to the PACS hook failed (${sent.status})${refusal ? `: ${String(refusal.reasons ?? refusal.error_message)}` : ''}`,
          );
        }
        deliveries.push({ clip, sopInstanceUid, key: dicomKeyOf(options.tenant, sopInstanceUid) });
      }
      return deliveries;
    },
    async close() {
      await orthanc.close();
      await hook.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
