/**
 * The PACS hook's streaming server under hostile clients, against s3rver as the intake bucket: refusals close
 * the connection without reading the body, the header/request/idle timeouts end stalled sockets, the request
 * and part-count caps hold for chunked bodies, STOW study UIDs are checked, and failed logins are throttled.
 * Timeouts are configured small; the tests wait for the socket's close and assert what was answered and read.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { request as httpRequest, Agent } from 'node:http';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startLocalS3, type LocalS3 } from '#local/s3-local.js';
import { startPacsHookServer, type PacsHookServer } from '#containers/pacs-hook/server.js';
import { createS3Client } from '#lib/s3/bucket.js';
import { credentialAuthenticator, hashCredential, type HospitalCredentials } from '#lib/pacs/auth.js';
import { S3DicomObjects, S3UploadPresigner } from '#lib/pacs/objects.js';
import { loginThrottle } from '#lib/pacs/login-throttle.js';
import type { PacsHookDeps } from '#lib/pacs/hook.js';
import type { PacsServerTimeouts } from '#lib/pacs/config.js';
import { createLogger } from '#lib/log.js';
import { buildUncompressedLoop, patchAscii } from '#local/dicom-fixtures.js';
import { orthancBoundary, orthancStowBody, stowContentType } from '#test/support/stow.js';
import { setTimeout as sleep } from 'node:timers/promises';

const BUCKET = 'radiomics-intake';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = basic('stowuser', 'stowpass');
const instance = (n: number, dataset: Record<string, unknown> = {}) =>
  buildUncompressedLoop({ SOPInstanceUID: `1.2.826.0.1.3680043.8.498.${7000 + n}`, ...dataset }, { width: 64, height: 64, frames: 4 });

let s3Server: LocalS3;
let s3: ReturnType<typeof createS3Client>;
let credentials: HospitalCredentials;
const started: PacsHookServer[] = [];

beforeAll(async () => {
  s3Server = await startLocalS3({ buckets: [BUCKET] });
  s3 = createS3Client({ region: 'eu-west-1', endpoint: s3Server.endpoint, credentials: s3Server.credentials });
  credentials = { basic: [{ tenant: 'hosp-a', user: 'stowuser', hash: await hashCredential('basic', 'stowpass') }], bearer: [] };
}, 60_000);

afterAll(async () => {
  for (const hook of started) await hook.close();
  s3?.destroy();
  await s3Server?.close();
});

async function startHook(
  overrides: { deps?: Partial<PacsHookDeps>; limits?: Partial<PacsHookDeps['limits']>; timeouts?: Partial<PacsServerTimeouts> } = {},
) {
  const hook = await startPacsHookServer(
    {
      auth: credentialAuthenticator({ load: async () => credentials }),
      objects: new S3DicomObjects(s3, BUCKET),
      presigner: new S3UploadPresigner(s3, BUCKET, {
        expiresInSecs: 300,
        multipartAboveBytes: 1024 ** 3,
        multipartPartBytes: 64 * 1024 * 1024,
      }),
      limits: {
        maxInstanceBytes: 8 * 1024 * 1024,
        maxRequestBytes: 64 * 1024 * 1024,
        maxUploadBytes: 1024 ** 3,
        maxStowParts: 1000,
        ...overrides.limits,
      },
      retrieveBase: 'https://hook.test/dicomweb',
      log: createLogger({ function: 'pacs-hook' }, { level: 'error', sink: () => undefined }),
      ...overrides.deps,
    },
    { timeouts: overrides.timeouts },
  );
  started.push(hook);
  return hook;
}

async function object(key: string): Promise<Buffer | undefined> {
  try {
    return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

/** What a raw client saw: the bytes answered before the server closed, and the bytes the server read from it. */
interface RawExchange {
  answer: string;
  serverBytesRead: number;
}

/**
 * Opens a socket, sends `head`, then `body` chunks (an endless producer is stopped by the close), and resolves
 * once the server has closed the connection. A connection the server keeps open never resolves: jest's
 * ceiling then fails the test.
 */
function rawExchange(
  hook: PacsHookServer,
  head: string | Buffer,
  body?: { chunk: Buffer; everyMs?: number; maxBytes: number },
  localAddress?: string,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    let serverSocket: Socket | undefined;
    const onConnection = (socket: Socket) => {
      serverSocket ??= socket;
    };
    hook.server.on('connection', onConnection);
    const { port } = new URL(hook.url);
    const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress });
    let answer = '';
    let closed = false;
    socket.on('data', (data) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server closes mid-body
    socket.on('close', () => {
      closed = true;
      hook.server.off('connection', onConnection);
      const server = serverSocket;
      if (!server) return reject(new Error('no server-side socket'));
      const done = () => resolve({ answer, serverBytesRead: server.bytesRead });
      if (server.destroyed) done();
      else server.once('close', done);
    });
    socket.write(head);
    if (!body) return;
    let sent = 0;
    const pump = async () => {
      while (!closed && sent < body.maxBytes) {
        const ok = socket.write(body.chunk);
        sent += body.chunk.length;
        if (body.everyMs) await sleep(body.everyMs);
        else if (!ok) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
    };
    void pump();
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
const headerOf = (answer: string, name: string) => new RegExp(`\r\n${name}: ([^\r]*)`, 'i').exec(answer)?.[1];
const jsonOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

describe('refusals close the connection without reading the body', () => {
  let hook: PacsHookServer;
  beforeAll(async () => {
    hook = await startHook();
  });

  it('Content-Length 10 GB without credentials: 401, Connection: close, and under 1 MiB of the body read', async () => {
    const head = `POST /instances HTTP/1.1\r\nHost: hook\r\nContent-Length: 10000000000\r\n\r\n`;
    const { answer, serverBytesRead } = await rawExchange(hook, head, { chunk: Buffer.alloc(64 * 1024), maxBytes: 256 * 1024 * 1024 });
    expect([statusOf(answer), headerOf(answer, 'connection'), jsonOf(answer).Reason]).toEqual([401, 'close', 'missing_credentials']);
    expect(serverBytesRead).toBeLessThan(1024 * 1024);
  });

  it('bad credentials with a chunked body trickling in: 401 and the connection closed', async () => {
    const head = `POST /dicomweb/studies HTTP/1.1\r\nHost: hook\r\nAuthorization: ${basic('stowuser', 'wrong')}\r\nContent-Type: ${stowContentType('b')}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const { answer } = await rawExchange(hook, head, { chunk: Buffer.from('1\r\nx\r\n'), everyMs: 200, maxBytes: 10_000 });
    expect([statusOf(answer), headerOf(answer, 'connection'), jsonOf(answer).Reason]).toEqual([401, 'close', 'bad_credentials']);
  });

  it('a declared size over the cap, authenticated: 413 and the connection closed, the body unread', async () => {
    const head = `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${AUTH}\r\nContent-Length: 2000000000\r\n\r\n`;
    const { answer, serverBytesRead } = await rawExchange(hook, head, { chunk: Buffer.alloc(64 * 1024), maxBytes: 256 * 1024 * 1024 });
    expect([statusOf(answer), headerOf(answer, 'connection'), jsonOf(answer).Reason]).toEqual([413, 'close', 'too_large']);
    expect(serverBytesRead).toBeLessThan(1024 * 1024);
  });

  it('a refused raw instance answers Connection: close, and the next request on the agent goes out on a fresh connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const connections: Socket[] = [];
    const count = (socket: Socket) => connections.push(socket);
    hook.server.on('connection', count);
    const post = (body: Buffer) =>
      new Promise<{ status: number; connection?: string; reason: string }>((resolve, reject) => {
        const req = httpRequest(
          `${hook.url}/lua/instances`,
          { method: 'POST', agent, headers: { authorization: AUTH, 'content-length': body.length } },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, reason: JSON.parse(text).Reason }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const rle = patchAscii(
        buildUncompressedLoop({ SOPInstanceUID: '1.2.826.0.1.3680043.8.498.7901' }, { width: 512, height: 512, frames: 7 }),
        '1.2.840.10008.1.2.1\0',
        '1.2.840.10008.1.2.5\0',
      );
      expect(await post(rle)).toEqual({ status: 400, connection: 'close', reason: 'dicom_unsupported_transfer_syntax' });
      expect(await post(instance(902))).toEqual({ status: 200, connection: 'keep-alive', reason: undefined });
      expect(connections).toHaveLength(2);
    } finally {
      hook.server.off('connection', count);
      agent.destroy();
    }
  });
});

describe('timeouts end stalled sockets', () => {
  let hook: PacsHookServer;
  beforeAll(async () => {
    hook = await startHook({ timeouts: { headersMs: 300, requestMs: 1500, idleMs: 600, keepAliveMs: 300 } });
  });

  it('headers that never end: 408 and the connection closed after the headers timeout', async () => {
    const { answer } = await rawExchange(hook, `POST /instances HTTP/1.1\r\nHost: hook\r\n`);
    expect(statusOf(answer)).toBe(408);
  });

  it('an authenticated body that stops arriving: the socket is closed after the idle timeout, nothing stored', async () => {
    const file = instance(903);
    const head = `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${AUTH}\r\nContent-Length: ${file.length}\r\n\r\n`;
    const { answer } = await rawExchange(hook, Buffer.concat([Buffer.from(head), file.subarray(0, 1000)]));
    expect(answer).toBe('');
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.7903.dcm')).toBeUndefined();
  });

  it('a body trickling in without ever idling: 408 and the connection closed after the request timeout', async () => {
    // an idle timeout far above the trickle's pace, so only the request timeout can end it
    const patient = await startHook({ timeouts: { headersMs: 300, requestMs: 1500, idleMs: 60_000 } });
    const head = `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${AUTH}\r\nContent-Length: 1000000\r\n\r\n`;
    const { answer } = await rawExchange(patient, head, { chunk: Buffer.from('x'), everyMs: 100, maxBytes: 1_000_000 });
    expect(statusOf(answer)).toBe(408);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const file = instance(904);
    const head = `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${AUTH}\r\nContent-Length: ${file.length}\r\n\r\n`;
    const { answer } = await rawExchange(hook, Buffer.concat([Buffer.from(head), file]));
    expect([statusOf(answer), headerOf(answer, 'connection')]).toEqual([200, 'keep-alive']);
  });
});

describe('caps hold for chunked bodies', () => {
  it('a chunked STOW past PACS_MAX_REQUEST_BYTES is 413 once the cap is passed; the instances before it are stored, none after', async () => {
    const big = (n: number) =>
      buildUncompressedLoop({ SOPInstanceUID: `1.2.826.0.1.3680043.8.498.${7000 + n}` }, { width: 256, height: 256, frames: 4 });
    const files = [1, 2, 3, 4, 5].map((n) => big(10 + n));
    // socket reads are up to 64 KiB, so the cap is counted to within a read; 2.5 instances leave room for that
    const hook = await startHook({ limits: { maxRequestBytes: Math.floor(2.5 * files[0].length) } });
    const boundary = orthancBoundary();
    const body = orthancStowBody(boundary, files);
    const chunks = async function* () {
      for (let i = 0; i < body.length; i += 16 * 1024) yield body.subarray(i, i + 16 * 1024);
    };
    const response = await fetch(`${hook.url}/dicomweb/studies`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': stowContentType(boundary) },
      body: chunks() as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    const json = await response.json();
    expect([response.status, response.headers.get('connection'), json.Reason]).toEqual([413, 'close', 'request_too_large']);
    expect(json['00081199'].Value.map((item: Record<string, { Value: string[] }>) => item['00081155'].Value[0])).toEqual([
      '1.2.826.0.1.3680043.8.498.7011',
      '1.2.826.0.1.3680043.8.498.7012',
    ]);
    expect(json['00081198'].Value).toEqual([
      { '00081150': { vr: 'UI' }, '00081155': { vr: 'UI' }, '00081197': { vr: 'US', Value: [0xa700] } },
    ]);
    for (const n of [13, 14, 15]) expect(await object(`hosp-a/dicom/1.2.826.0.1.3680043.8.498.${7000 + n}.dcm`)).toBeUndefined();
  });

  it('a STOW with more parts than PACS_MAX_STOW_PARTS is 413 too_many_parts, with an answer bounded by the cap', async () => {
    const hook = await startHook({ limits: { maxStowParts: 50 } });
    const boundary = orthancBoundary();
    const empty = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n\r\n`, 'latin1');
    const body = Buffer.concat([...Array.from({ length: 10_000 }, () => empty), Buffer.from(`--${boundary}--`)]);
    const response = await fetch(`${hook.url}/dicomweb/studies`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': stowContentType(boundary) },
      body: body as unknown as BodyInit,
    });
    const json = await response.json();
    expect([response.status, json.Reason, json.Message]).toEqual([
      413,
      'too_many_parts',
      'the request holds more than 50 parts; send the study in several requests',
    ]);
    expect(json['00081198'].Value).toHaveLength(51);
  });

  it('/uploads with a body over 64 KiB: 413 saying what the body may hold', async () => {
    const hook = await startHook();
    const response = await fetch(`${hook.url}/uploads`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(70_000) }),
    });
    expect([response.status, await response.json()]).toEqual([
      413,
      {
        HttpStatus: 413,
        Reason: 'too_large',
        Message: 'the upload request body exceeds 65536 bytes; it holds only {studyUid, sopUid, size, sha256 | md5}',
      },
    ]);
  });
});

describe('STOW-RS study UIDs', () => {
  let hook: PacsHookServer;
  beforeAll(async () => {
    hook = await startHook();
  });
  const stowTo = async (path: string, files: Buffer[]) => {
    const boundary = orthancBoundary();
    return new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const body = orthancStowBody(boundary, files);
      const req = httpRequest(
        `${hook.url}${path}`,
        { method: 'POST', headers: { authorization: AUTH, 'content-type': stowContentType(boundary), 'content-length': body.length } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
        },
      );
      req.path = path; // sent as written, `..` included
      req.on('error', reject);
      req.end(body);
    });
  };

  it('an instance of another study than the path names: 409, FailureReason 0x0110 (Processing failure), nothing stored', async () => {
    const { status, json } = await stowTo('/dicomweb/studies/9.9.9', [instance(21)]);
    expect(status).toBe(409);
    expect(json).toHaveProperty(
      ['00081198', 'Value'],
      [
        {
          '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.3.1'] },
          '00081155': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.7021'] },
          '00081197': { vr: 'US', Value: [0x0110] },
        },
      ],
    );
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.7021.dcm')).toBeUndefined();
  });

  it('an instance of the study the path names is stored, and the RetrieveURLs name that study', async () => {
    const { status, json } = await stowTo('/dicomweb/studies/1.2.826.0.1.3680043.8.498.1', [instance(22)]);
    expect(status).toBe(200);
    expect(json).toHaveProperty(['00081190'], { vr: 'UR', Value: ['https://hook.test/dicomweb/studies/1.2.826.0.1.3680043.8.498.1'] });
    expect((await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.7022.dcm'))?.equals(instance(22))).toBe(true);
  });

  it.each([
    ['/dicomweb/studies/1.2.03', 400, 'bad_study_uid'],
    [`/dicomweb/studies/1.${'2'.repeat(64)}`, 400, 'bad_study_uid'],
    ['/dicomweb/studies/..', 404, 'no_route'],
  ])('%s → %i %s, not routed as a STOW into any study', async (path, status, reason) => {
    const answer = await stowTo(path, [instance(23)]);
    expect([answer.status, answer.json]).toEqual([status, expect.objectContaining({ Reason: reason })]);
    expect(await object('hosp-a/dicom/1.2.826.0.1.3680043.8.498.7023.dcm')).toBeUndefined();
  });

  it('a StudyInstanceUID that is not a DICOM UID is refused (0xC000), never echoed into a RetrieveURL', async () => {
    const { status, json } = await stowTo('/dicomweb/studies', [instance(24, { StudyInstanceUID: '../../../evil?x=' })]);
    expect(status).toBe(409);
    expect(json).toHaveProperty(['00081198', 'Value', '0', '00081197'], { vr: 'US', Value: [0xc000] });
    expect(JSON.stringify(json)).not.toContain('evil');
  });
});

describe('failed Basic logins', () => {
  it('an unknown user costs the same scrypt as a known user with a wrong password', async () => {
    const checked: string[] = [];
    const auth = credentialAuthenticator({
      load: async () => credentials,
      checkSecret: async (hash) => {
        checked.push(hash.split('$').slice(0, 4).join('$'));
        return false;
      },
    });
    await expect(auth.authenticate(basic('stowuser', 'wrong'))).rejects.toThrow('the credentials are not accepted');
    await expect(auth.authenticate(basic('mallory', 'wrong'))).rejects.toThrow('the credentials are not accepted');
    expect(checked).toEqual(['scrypt$16384$8$1', 'scrypt$16384$8$1']);
  });

  it('past the failure limit, a user is refused 429 from any source until the window ends, even with the right password', async () => {
    let now = 0;
    const hook = await startHook({ deps: { loginThrottle: loginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now }) } });
    const file = instance(31);
    const post = (auth: string, localAddress = '127.0.0.1') =>
      rawExchange(
        hook,
        Buffer.concat([
          Buffer.from(
            `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${auth}\r\nContent-Length: ${file.length}\r\nConnection: close\r\n\r\n`,
          ),
          file,
        ]),
        undefined,
        localAddress,
      ).then(({ answer }) => [statusOf(answer), headerOf(answer, 'retry-after')]);
    for (let i = 0; i < 3; i++) expect(await post(basic('stowuser', `guess-${i}`), `127.0.0.${2 + i}`)).toEqual([401, undefined]);
    expect(await post(AUTH, '127.0.0.9')).toEqual([429, '60']);
    now = 60_001;
    expect(await post(AUTH, '127.0.0.9')).toEqual([200, undefined]);
  });

  it('past the failure limit, a source is refused 429 for any user; other sources are not', async () => {
    const hook = await startHook({ deps: { loginThrottle: loginThrottle({ maxFailures: 3, windowMs: 60_000 }) } });
    const file = instance(32);
    const post = (auth: string, localAddress: string) =>
      rawExchange(
        hook,
        Buffer.concat([
          Buffer.from(
            `POST /instances HTTP/1.1\r\nHost: hook\r\nAuthorization: ${auth}\r\nContent-Length: ${file.length}\r\nConnection: close\r\n\r\n`,
          ),
          file,
        ]),
        undefined,
        localAddress,
      ).then(({ answer }) => statusOf(answer));
    for (let i = 0; i < 3; i++) expect(await post(basic(`user-${i}`, 'x'), '127.0.0.20')).toBe(401);
    expect(await post(AUTH, '127.0.0.20')).toBe(429);
    expect(await post(AUTH, '127.0.0.21')).toBe(200);
  });
});
