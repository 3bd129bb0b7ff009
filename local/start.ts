/**
 * `npm start`: the main job on embedded local defaults. Today that is the intake side of the system:
 * the sample clips go into the local intake bucket as tenant `demo`, the real intake handler seals each into
 * its batch's Swift container, and the run ends with one row per clip showing where its sealed object is and
 * that the original worker's decryption rule gives back the uploaded bytes. Batching, submission, processing
 * and reporting join as they land (see README).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createDecipheriv } from 'node:crypto';
import { createS3Client } from '../lib/s3.js';
import { DynamoIntakeStore } from '../lib/store/intake-store.js';
import { JweKeyWrapper } from '../lib/keys.js';
import { videoIdDeriver } from '../lib/video-id.js';
import { decodeMasterKey } from '../lib/intake/wiring.js';
import { SwiftClient, TempAuth } from '../lib/swift/index.js';
import { startIntakeStack, LOCAL_INTAKE_BUCKET, LOCAL_TABLE } from './intake-stack.js';
import { REPO_ROOT } from './services.js';

const SAMPLES = join(REPO_ROOT, '..', 'shared', 'samples', 'videos');
const TENANT = 'demo';

function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

async function main(): Promise<number> {
  const stack = await startIntakeStack({ log: (line) => console.log(line) });
  try {
    const clips = readdirSync(SAMPLES).filter((name) => /\.mp4$/i.test(name)).sort();
    const s3 = createS3Client({ region: 'eu-west-1', endpoint: stack.s3.endpoint, credentials: stack.s3.credentials });
    console.log(`[start] uploading ${clips.length} clips to s3://${LOCAL_INTAKE_BUCKET}/${TENANT}/`);
    const eTags = new Map<string, string>();
    let shown = -1;
    const progress = (end = '') => {
      if (stack.deliveries.length === shown && !end) return;
      shown = stack.deliveries.length;
      process.stdout.write(`${process.stdout.isTTY ? '\r' : ''}[start] intake ${bar(shown, clips.length)}${process.stdout.isTTY ? end : '\n'}`);
    };
    for (const name of clips) {
      const answer = await s3.send(new PutObjectCommand({ Bucket: LOCAL_INTAKE_BUCKET, Key: `${TENANT}/${name}`, Body: readFileSync(join(SAMPLES, name)) }));
      eTags.set(name, (answer.ETag ?? '').replace(/"/g, ''));
      progress();
    }
    while (stack.deliveries.length < clips.length) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      progress();
    }
    await stack.idle();
    progress('\n');

    const masterKey = decodeMasterKey(readFileSync(stack.env.MASTER_KEY_FILE, 'utf8'));
    const ids = videoIdDeriver(masterKey);
    const keys = new JweKeyWrapper(masterKey);
    const store = new DynamoIntakeStore(stack.dynamo.doc, LOCAL_TABLE);
    const swift = new SwiftClient({ auth: new TempAuth({ authUrl: stack.services.swift.authUrl, user: stack.services.swift.user, key: stack.services.swift.key }) });
    const storageUrl = await swift.storageUrl();

    console.log('\nclip                                      stage    verified  sealed object in Swift');
    let failures = 0;
    for (const name of clips) {
      const video = await store.getVideo(ids({ bucket: LOCAL_INTAKE_BUCKET, key: `${TENANT}/${name}`, eTag: eTags.get(name) }));
      let verified = '-';
      let where = video?.reason ?? '';
      if (video?.stage === 'sealed' && video.batchId && video.container && video.objectName) {
        const batch = await store.getBatch(video.batchId);
        const key = await keys.unwrap(batch!.wrappedKey, { tenant: TENANT, batchId: video.batchId });
        const sealed = await swift.getObjectBytes(video.container, video.objectName);
        const decipher = createDecipheriv('aes-128-gcm', key, sealed.subarray(0, 12));
        decipher.setAuthTag(sealed.subarray(12, 28));
        const plain = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
        verified = plain.equals(readFileSync(join(SAMPLES, name))) ? 'yes' : 'NO';
        where = `${storageUrl}/${video.container}/${video.objectName}`;
      }
      if (verified !== 'yes') failures++;
      console.log(`${name.padEnd(41)} ${(video?.stage ?? 'missing').padEnd(8)} ${verified.padEnd(9)} ${where}`);
    }
    console.log(
      `\n[start] ${clips.length - failures} of ${clips.length} clips sealed into Swift and verified with the original decryption rule.` +
        '\n[start] Not yet built here: batch close and job submission, the enclave analysis, status sync (see README).',
    );
    s3.destroy();
    return failures === 0 ? 0 : 1;
  } finally {
    await stack.close();
  }
}

process.exitCode = await main();
