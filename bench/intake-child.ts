/**
 * The measured process for bench/intake.ts, bundled and run by plain node as deployed.
 *
 * `plain` / `sealed`: one run in its own process, so that its peak RSS is its own, timed after an untimed small
 * warm-up of the same kind (a warm Lambda container):
 *   plain:  S3 GET → Swift PUT of the same bytes, unencrypted (the baseline)
 *   sealed: the intake's full path for one S3 record (check, seal, upload, table writes)
 * Prints one JSON line {seconds, peak_rss_mb}.
 *
 * `clips`: one warm process (as a warm Lambda) ingesting the sample clips round after round, interleaved with a
 * plain copy of the same bytes through the same services; at concurrency 1 clip by clip, above it round by round.
 * The plain copy streams the GET's body into the PUT; a second baseline, the whole-read copy (GET read whole, then
 * one PUT of the buffer, as the original tutorial's upload did), has the I/O shape a single sealed PUT must have:
 * AES-GCM's tag, which precedes the ciphertext, is known only once the whole object is read.
 * Requests are counted by wrapping the clients the intake is given (the Swift store's methods, the DynamoDB
 * document client's `send`, an S3 middleware). Prints one JSON line per concurrency.
 */
import { randomBytes } from 'node:crypto';
import { CopyObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, S3IntakeObjects } from '#lib/s3/bucket.js';
import { SwiftClient, TempAuth, type SwiftStore } from '#lib/swift/index.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoIntakeStore } from '#lib/store/intake-store.js';
import { JweKeyWrapper } from '#lib/keys.js';
import { videoIdDeriver } from '#lib/intake/video-id.js';
import { createLogger } from '#lib/log.js';
import { ingestObject, type IntakeDeps } from '#lib/intake/ingest.js';
import type { ObjectCreated } from '#lib/s3/events.js';
import type { LocalServices } from '#local/service-endpoints.js';
import { countedDocumentClient, countedSwift, countS3Requests, newRequestCounts } from '#local/request-counter.js';

interface Common {
  services: LocalServices;
  s3Endpoint: string;
  dynamoEndpoint: string;
  bucket: string;
  container: string;
  masterKeyB64: string;
  /** Objects up to this size are sealed in memory and PUT once; unset: the intake's default. */
  singlePutMaxBytes?: number;
}

interface SingleRun extends Common {
  mode: 'plain' | 'sealed';
  key: string;
  bytes: number;
  /** A small clip handled first, untimed. */
  warmUp: ClipObject;
}

export interface ClipObject {
  key: string;
  eTag: string;
  bytes: number;
}

interface ClipsRun extends Common {
  mode: 'clips';
  /** The clips as uploaded once, read by the plain copy. */
  originals: ClipObject[];
  /** Per concurrency, per round (the first is the warm-up), a fresh copy of every clip: each is a new video. */
  copies: Record<string, ClipObject[][]>;
  batchMaxItems: number;
}

export interface ClipsFigures {
  case: 'clips';
  concurrency: number;
  clips: number;
  rounds: number;
  per_clip_ms_sealed: number;
  per_clip_ms_plain: number;
  clips_per_s_sealed: number;
  clips_per_s_plain: number;
  ratio_vs_plain_copy: number;
  /** The whole-read copy: S3 GET read whole, then one Swift PUT of the buffer (the single sealed PUT's I/O shape). */
  per_clip_ms_whole_read_copy: number;
  ratio_vs_whole_read_copy: number;
  swift_requests_per_clip: number;
  table_requests_per_clip: number;
  s3_requests_per_clip: number;
  peak_rss_mb: number;
  /** At concurrency 1: the median duration of each of the intake's calls (the S3 body is read inside `s3.open`'s caller). */
  median_call_ms?: Record<string, number>;
}

const args = JSON.parse(process.argv[2]) as SingleRun | ClipsRun;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const counts = newRequestCounts();
/** Every container the run made, for the parent to remove. */
const createdContainers = new Set<string>();

const countedIntakeSwift = (swift: SwiftStore) =>
  countedSwift(swift, counts, (method, rest) => {
    if (method === 'createContainer') createdContainers.add(String(rest[0]));
  });

function countedDocumentClientAt(endpoint: string): DynamoDBDocumentClient {
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
  return countedDocumentClient(doc, counts);
}

function countedS3(): S3Client {
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: args.s3Endpoint, credentials });
  countS3Requests(s3, counts);
  return s3;
}

/** Durations of the intake's calls, by `<client>.<method>`, while `timing` is on (the clip-by-clip rounds). */
const callMs: Record<string, number[]> = {};
let timing = false;

function timedCalls<T extends object>(target: T, client: string): T {
  return new Proxy(target, {
    get(inner, property, receiver) {
      const value = Reflect.get(inner, property, receiver);
      if (typeof value !== 'function') return value;
      return (...rest: unknown[]) => {
        const started = process.hrtime.bigint();
        const result = value.apply(inner, rest);
        if (timing && result instanceof Promise) {
          const call = `${client}.${String(property)}`;
          void result
            .finally(() => {
              callMs[call] = [...(callMs[call] ?? []), Number(process.hrtime.bigint() - started) / 1e6];
            })
            .catch(() => undefined);
        }
        return result;
      };
    },
  });
}

function intakeDeps(s3: S3Client, swift: SwiftStore, batchMaxItems: number): IntakeDeps {
  const masterKey = Buffer.from(args.masterKeyB64, 'base64');
  return {
    objects: timedCalls(new S3IntakeObjects(s3), 's3'),
    store: timedCalls(new DynamoIntakeStore(countedDocumentClientAt(args.dynamoEndpoint), 'radiomics'), 'table'),
    swift: timedCalls(swift, 'swift'),
    keys: new JweKeyWrapper(masterKey),
    videoId: videoIdDeriver(masterKey),
    limits: {
      maxVideoBytes: 5 * 1024 ** 3,
      batchMaxItems,
      batchMaxBytes: 100 * 1024 ** 3,
      ...(args.singlePutMaxBytes === undefined ? {} : { singlePutMaxBytes: args.singlePutMaxBytes }),
    },
    containerPrefix: `${args.container}-`,
    acceptedKinds: ['mp4'],
    log: createLogger({}, { level: 'error' }),
  };
}

async function sealOne(deps: IntakeDeps, object: ClipObject): Promise<void> {
  const source: ObjectCreated = {
    bucket: args.bucket,
    key: object.key,
    size: object.bytes,
    eventName: 'ObjectCreated:Put',
    eTag: object.eTag,
  };
  const outcome = await ingestObject(source, deps);
  if (outcome.status !== 'sealed') throw new Error(`bench object was not sealed: ${JSON.stringify(outcome)}`);
}

async function copyWhole(s3: S3Client, swift: SwiftStore, container: string, object: ClipObject): Promise<void> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: args.bucket, Key: object.key }));
  const body = await answer.Body!.transformToByteArray();
  await swift.putObject(container, `whole-${randomBytes(6).toString('hex')}`, body);
}

async function copyPlain(s3: S3Client, swift: SwiftStore, container: string, object: ClipObject): Promise<void> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: args.bucket, Key: object.key }));
  await swift.putObject(container, `plain-${randomBytes(6).toString('hex')}`, answer.Body as NodeJS.ReadableStream as never, {
    contentLength: object.bytes,
  });
}

/** Runs `work` over `items` with at most `concurrency` at once; resolves to the wall-clock seconds. */
async function timedPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (value: number, digits = 3) => Number(value.toFixed(digits));

async function runClips(run: ClipsRun): Promise<void> {
  const s3 = countedS3();
  const client = new SwiftClient({
    auth: new TempAuth({ authUrl: run.services.swift.authUrl, user: run.services.swift.user, key: run.services.swift.key }),
  });
  await client.storageUrl();
  const swift = countedIntakeSwift(client);
  const deps = intakeDeps(s3, swift, run.batchMaxItems);
  const plainContainer = `${run.container}-plain`;
  await swift.createContainer(plainContainer);

  for (const [level, rounds] of Object.entries(run.copies)) {
    const concurrency = Number(level);
    const [warmUp, ...measured] = rounds;
    await timedPool(warmUp, concurrency, (object) => sealOne(deps, object));
    await timedPool(run.originals, concurrency, (object) => copyPlain(s3, client, plainContainer, object));

    const sealedSecs: number[] = [];
    const plainSecs: number[] = [];
    const wholeSecs: number[] = [];
    let sealedRequests = { swift: 0, table: 0, s3: 0 };
    const countSealed = async (work: () => Promise<number>) => {
      const at = { ...counts };
      const seconds = await work();
      sealedRequests = {
        swift: sealedRequests.swift + counts.swift - at.swift,
        table: sealedRequests.table + counts.table - at.table,
        s3: sealedRequests.s3 + counts.s3 - at.s3,
      };
      return seconds;
    };
    for (const copies of measured) {
      if (concurrency === 1) {
        // clip by clip, the plain copy of each clip right before its sealed ingest
        let plain = 0;
        let whole = 0;
        let sealed = 0;
        for (const [i, object] of copies.entries()) {
          plain += await timedPool([run.originals[i]], 1, (original) => copyPlain(s3, client, plainContainer, original));
          whole += await timedPool([run.originals[i]], 1, (original) => copyWhole(s3, client, plainContainer, original));
          timing = true;
          sealed += await countSealed(() => timedPool([object], 1, (copy) => sealOne(deps, copy)));
          timing = false;
        }
        plainSecs.push(plain);
        wholeSecs.push(whole);
        sealedSecs.push(sealed);
      } else {
        plainSecs.push(await timedPool(run.originals, concurrency, (object) => copyPlain(s3, client, plainContainer, object)));
        wholeSecs.push(await timedPool(run.originals, concurrency, (object) => copyWhole(s3, client, plainContainer, object)));
        sealedSecs.push(await countSealed(() => timedPool(copies, concurrency, (object) => sealOne(deps, object))));
      }
    }
    const clips = measured.reduce((sum, copies) => sum + copies.length, 0);
    const perRound = measured[0].length;
    const sealedRoundSecs = median(sealedSecs);
    const plainRoundSecs = median(plainSecs);
    const wholeRoundSecs = median(wholeSecs);
    const figures: ClipsFigures = {
      case: 'clips',
      concurrency,
      clips,
      rounds: measured.length,
      per_clip_ms_sealed: round((sealedRoundSecs / perRound) * 1000, 1),
      per_clip_ms_plain: round((plainRoundSecs / perRound) * 1000, 1),
      clips_per_s_sealed: round(perRound / sealedRoundSecs, 1),
      clips_per_s_plain: round(perRound / plainRoundSecs, 1),
      ratio_vs_plain_copy: round(plainRoundSecs / sealedRoundSecs),
      per_clip_ms_whole_read_copy: round((wholeRoundSecs / perRound) * 1000, 1),
      ratio_vs_whole_read_copy: round(wholeRoundSecs / sealedRoundSecs),
      swift_requests_per_clip: round(sealedRequests.swift / clips, 2),
      table_requests_per_clip: round(sealedRequests.table / clips, 2),
      s3_requests_per_clip: round(sealedRequests.s3 / clips, 2),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(concurrency === 1
        ? { median_call_ms: Object.fromEntries(Object.entries(callMs).map(([call, ms]) => [call, round(median(ms), 1)])) }
        : {}),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  }
  s3.destroy();
}

async function runSingle(run: SingleRun): Promise<void> {
  const s3 = createS3Client({ region: 'eu-west-1', endpoint: run.s3Endpoint, credentials });
  const client = new SwiftClient({
    auth: new TempAuth({ authUrl: run.services.swift.authUrl, user: run.services.swift.user, key: run.services.swift.key }),
  });
  await client.storageUrl();
  const swift = countedIntakeSwift(client);
  const deps = intakeDeps(s3, swift, 1000);
  // Each sealed run ingests its own copy (untimed), so that its video id is new and the intake's pinned read holds.
  const copyOf = async (key: string, bytes: number): Promise<ClipObject> => {
    const copy = `${key}.${randomBytes(4).toString('hex')}`;
    const answer = await s3.send(new CopyObjectCommand({ Bucket: run.bucket, Key: copy, CopySource: `${run.bucket}/${key}` }));
    return { key: copy, eTag: (answer.CopyObjectResult?.ETag ?? '').replace(/"/g, ''), bytes };
  };
  if (run.mode === 'plain') await swift.createContainer(run.container);
  // warm, as a Lambda container is by its second clip: connections open, code compiled, the open batch known
  if (run.mode === 'plain') await copyPlain(s3, client, run.container, run.warmUp);
  else await sealOne(deps, await copyOf(run.warmUp.key, run.warmUp.bytes));
  const measured = run.mode === 'plain' ? { key: run.key, eTag: '', bytes: run.bytes } : await copyOf(run.key, run.bytes);
  const started = process.hrtime.bigint();
  if (run.mode === 'plain') await copyPlain(s3, client, run.container, measured);
  else await sealOne(deps, measured);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
  s3.destroy();
}

if (args.mode === 'clips') await runClips(args);
else await runSingle(args);
process.stdout.write(`${JSON.stringify({ created_containers: [...createdContainers] })}\n`);
