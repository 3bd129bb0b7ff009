/**
 * The real `submit-job` CLI as a child process, against the real Swift All-In-One, the Palaemon CAS emulator
 * (mTLS) and the Asperathos emulator (running the fake worker, so these tests stay about submission).
 * The CLI never prints the key: it is checked through the SIM job JSON (env_vars.ENCRYPTION_KEY) and the HW session.
 * TEMPURL_KEY is never set here: the account's slot-2 key is shared with other suites running in parallel.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AsperathosClient } from '#lib/asperathos/index.js';
import { PalaemonClient } from '#lib/palaemon/index.js';
import { SwiftClient, TempAuth } from '#lib/swift/index.js';
import { generateTlsFixtures, type TlsFixtures } from '#local/tls-fixtures.js';
import { startPalaemonEmulator, type PalaemonEmulator } from '#local/palaemon-emulator.js';
import { startAsperathosEmulator, type AsperathosEmulator } from '#local/asperathos/index.js';
import { decryptLikeTheOriginal } from '#local/intake-harness.js';
import { loadServices, REPO_ROOT, SHARED_DIR } from '#local/service-endpoints.js';

const SHIM = join(REPO_ROOT, 'bin', 'submit-job.js');
const VIDEOS = join(SHARED_DIR, 'samples/videos');
const CLIPS = ['VH020213M4_001390_20160406T111534.MP4', 'VH020213M4_001418_20160407T115216.MP4', 'VH020213M4_001559_20160429T120845.MP4'];
const CONFIG = {
  mrenclave: 'a'.repeat(64),
  'image-name': 'registry.example.org/radiomics-worker:1',
  'fspf-tag': 'b'.repeat(32),
  'fspf-key': 'c'.repeat(64),
  'fspf-path': '/fspf.pb',
};
const REQUIRED_PLUGIN_INFO = [
  'cmd',
  'img',
  'init_size',
  'redis_workload',
  'env_vars',
  'control_plugin',
  'control_parameters',
  'monitor_plugin',
  'monitor_info',
  'enable_visualizer',
  'visualizer_plugin',
  'visualizer_info',
  'username',
  'password',
];
const SIM_WARNING_LINE = "[WARNING] SGX SIMULATION MODE: the batch key travels in the job's env_vars as\n";

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let data: string;
let configPath: string;
let tls: TlsFixtures;
let cas: PalaemonEmulator;
let asperathos: AsperathosEmulator;
let swift: SwiftClient;
let swiftEnv: Record<string, string>;
const seenOutput: string[] = [];
const containersMade = new Set<string>();

function cli(args: string[], env: Record<string, string> = swiftEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      seenOutput.push(stdout, stderr);
      for (const m of stderr.matchAll(/Creating container on Swift named '([0-9a-f]{32})'/g)) containersMade.add(m[1]);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The object path of a workload line: `<container>/<object>`. */
function objectOf(url: string): { container: string; object: string } {
  const parts = new URL(url).pathname.split('/');
  return { container: decodeURIComponent(parts[parts.length - 2]), object: decodeURIComponent(parts[parts.length - 1]) };
}

async function workloadLines(workloadUrl: string): Promise<{ text: string; lines: string[] }> {
  const { container, object } = objectOf(workloadUrl);
  const text = (await swift.getObjectBytes(container, object)).toString('utf8');
  return { text, lines: text.split('\n').slice(0, -1) };
}

function clipBytes(): Buffer[] {
  return CLIPS.map((name) => readFileSync(join(VIDEOS, name)));
}

/** Every sealed object of a workload, decrypted with `key`, sorted by size (the upload order follows local names). */
async function decryptAll(lines: string[], key: Buffer): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const line of lines) {
    const { container, object } = objectOf(line);
    out.push(decryptLikeTheOriginal(key, await swift.getObjectBytes(container, object)));
  }
  return out;
}

beforeAll(async () => {
  const services = loadServices();
  dir = mkdtempSync(join(tmpdir(), 'submit-job-'));
  data = join(dir, 'videos');
  mkdirSync(join(data, 'nested'), { recursive: true });
  // Upper and lower case extensions, one in a subdirectory, and a file that is not a video at all.
  copyFileSync(join(VIDEOS, CLIPS[0]), join(data, 'a.MP4'));
  copyFileSync(join(VIDEOS, CLIPS[1]), join(data, 'b.mp4'));
  copyFileSync(join(VIDEOS, CLIPS[2]), join(data, 'nested', 'c.Mp4'));
  writeFileSync(join(data, 'notes.txt'), 'not a video');
  configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(CONFIG));
  swiftEnv = { ST_AUTH: services.swift.authUrl, ST_USER: services.swift.user, ST_KEY: services.swift.key };
  swift = new SwiftClient({ auth: new TempAuth({ authUrl: services.swift.authUrl, user: services.swift.user, key: services.swift.key }) });
  tls = await generateTlsFixtures(join(dir, 'tls'), { clients: ['submit'] });
  cas = await startPalaemonEmulator({ tls: { ca: tls.ca, cert: tls.server.cert, key: tls.server.key } });
  asperathos = await startAsperathosEmulator({
    redis: services.redis,
    pollMs: 100,
    workerCommand: () => ({ cmd: process.execPath, args: ['--import', 'tsx', join(REPO_ROOT, 'test', 'support', 'fake-worker.ts')] }),
  });
}, 60_000);

afterAll(async () => {
  for (const container of containersMade) {
    for (const name of [container, `${container}_segments`]) {
      try {
        const objects: string[] = [];
        for await (const entry of swift.listAllObjects(name)) objects.push(entry.name);
        for (const object of objects) await swift.deleteObject(name, object, { ignoreMissing: true });
        await swift.deleteContainer(name, { ignoreMissing: true });
      } catch {
        /* best effort */
      }
    }
  }
  await asperathos?.close();
  await cas?.close();
  rmSync(dir, { recursive: true, force: true });
  // The CLI never prints the key, whatever happened.
  expect(seenOutput.join('').match(/[A-Za-z0-9+/]{22}==/g)).toBeNull();
});

describe('submit-job --sgx-simulation --generate-json-only', () => {
  let result: CliResult;
  let job: { plugin: string; enable_auth: boolean; plugin_info: Record<string, unknown> };
  let env: Record<string, string>;

  beforeAll(async () => {
    result = await cli([
      '--config',
      configPath,
      '--sgx-simulation',
      '--generate-json-only',
      'job.json',
      '--expected-time',
      '321',
      '--item-lease-secs',
      '20',
      '--verbosity',
      '5',
      data,
    ]);
    job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8'));
    env = job.plugin_info.env_vars as Record<string, string>;
  }, 60_000);

  it('exits 0, prints nothing on stdout, warns loudly about the key and reports each video', () => {
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith('[WARNING] ****')).toBe(true);
    expect(result.stderr).toContain(SIM_WARNING_LINE);
    expect(result.stderr).toContain('[INFO] Checking 3 videos under ');
    expect(result.stderr).toMatch(/\[INFO\] Encrypting and publishing 'a\.MP4' \(as '[0-9a-f]{32}\.mp4'\) on Swift\n/);
    expect(result.stderr).toMatch(/\[INFO\] Encrypting and publishing 'nested\/c\.Mp4' \(as '[0-9a-f]{32}\.mp4'\) on Swift\n/);
    expect(result.stderr).toContain("[INFO] 'job.json' generated successfully.\n");
    expect(result.stderr).not.toContain('notes.txt');
  });

  it('writes the job JSON (mode 0600) with every required plugin_info key and the SIM environment', () => {
    expect(statSync(join(dir, 'job.json')).mode & 0o777).toBe(0o600);
    expect(job.plugin).toBe('kubejobs');
    expect(job.enable_auth).toBe(false);
    for (const key of REQUIRED_PLUGIN_INFO) expect(job.plugin_info).toHaveProperty(key);
    expect(job.plugin_info.img).toBe(CONFIG['image-name']);
    expect(job.plugin_info.monitor_info).toEqual({ expected_time: 321 });
    expect([job.plugin_info.job_resources_lifetime, job.plugin_info.enable_visualizer, job.plugin_info.password]).toEqual([300, false, '']);
    expect(env).toMatchObject({
      SCONE_MODE: 'SIM',
      SCONE_FSPF: '/fspf.pb',
      SCONE_FSPF_KEY: CONFIG['fspf-key'],
      SCONE_FSPF_TAG: CONFIG['fspf-tag'],
      SCONE_LOG: '5',
      ITEM_LEASE_SECS: '20',
      ST_AUTH: swiftEnv.ST_AUTH,
      ST_USER: swiftEnv.ST_USER,
      ST_KEY: swiftEnv.ST_KEY,
    });
    expect(env.ENCRYPTION_KEY).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(env.JOB_NAME).toMatch(/^[0-9a-f]{32}$/);
  });

  it('workload.txt in the new container has one TempURL per video and a trailing newline', async () => {
    const workloadUrl = job.plugin_info.redis_workload as string;
    const { container, object } = objectOf(workloadUrl);
    expect(container).toBe(env.JOB_NAME);
    expect(object).toBe('workload.txt');
    expect(workloadUrl).toMatch(/\?temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/);
    const { text, lines } = await workloadLines(workloadUrl);
    expect(text.endsWith('\n')).toBe(true);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(objectOf(line).container).toBe(container);
      expect(line).toMatch(/\/[0-9a-f]{32}\.mp4\?temp_url_sig=[0-9a-f]{64}&temp_url_expires=\d+$/);
    }
    expect(await swift.headContainer(`${container}_segments`)).not.toBeNull();
  });

  it('each workload line decrypts with the env key to the original clip, in the order of the local names', async () => {
    const { lines } = await workloadLines(job.plugin_info.redis_workload as string);
    const plain = await decryptAll(lines, Buffer.from(env.ENCRYPTION_KEY, 'base64'));
    const clips = clipBytes();
    expect(plain.map((p, i) => p.equals(clips[i]))).toEqual([true, true, true]);
  });
});

describe('submit-job --public', () => {
  it('makes the container and its segments public: every line fetches anonymously and decrypts', async () => {
    const result = await cli(['--config', configPath, '--sgx-simulation', '--public', '--generate-json-only', 'public.json', data]);
    expect(result.code).toBe(0);
    const job = JSON.parse(readFileSync(join(dir, 'public.json'), 'utf8'));
    const workloadUrl = job.plugin_info.redis_workload as string;
    expect(workloadUrl).not.toContain('temp_url_sig');
    const workload = await fetch(workloadUrl);
    expect(workload.status).toBe(200);
    const lines = (await workload.text()).split('\n').slice(0, -1);
    expect(lines).toHaveLength(3);
    const key = Buffer.from(job.plugin_info.env_vars.ENCRYPTION_KEY, 'base64');
    const clips = clipBytes();
    for (const [i, line] of lines.entries()) {
      const res = await fetch(line);
      expect(res.status).toBe(200);
      expect(decryptLikeTheOriginal(key, Buffer.from(await res.arrayBuffer())).equals(clips[i])).toBe(true);
    }
  });
});

describe('submit-job --cas-address --submissions-url (HW)', () => {
  it('creates the session holding the key, submits a job without ENCRYPTION_KEY, and prints its id and URL', async () => {
    const result = await cli([
      '--config',
      configPath,
      '--cert',
      tls.clients.submit.certPath,
      '--cas-ca',
      tls.caPath,
      '--public',
      '--cas-address',
      cas.casAddress,
      '--submissions-url',
      asperathos.submissionsUrl,
      data,
    ]);
    // stderr in the comparison, so that a failure shows why
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.not.stringContaining('[WARNING]') });
    const match = /^Job ID: (kj-[0-9a-f]{7})\nJob URL: (.+)\n$/.exec(result.stdout);
    expect(match).not.toBeNull();
    const [, jobId, jobUrl] = match!;
    expect(jobUrl).toBe(`${asperathos.submissionsUrl}/${jobId}`);
    const batchId = /Creating the Palaemon session '([0-9a-f]{32})'/.exec(result.stderr)![1];
    expect(result.stderr).toContain('[INFO] Checking the CAS status...\n');

    // The session belongs to the certificate that created it, and holds the key and the worker's settings.
    const reader = new PalaemonClient({
      casAddress: cas.casAddress,
      tls: { ca: tls.ca, cert: tls.clients.submit.cert, key: tls.clients.submit.key },
    });
    const session = parseYaml(await reader.read(batchId)) as {
      name: string;
      secrets: Array<{ name: string; value: string }>;
      services: Array<{ name: string; environment: Record<string, string>; mrenclaves?: string[] }>;
    };
    expect(session.name).toBe(batchId);
    const secrets = Object.fromEntries(session.secrets.map((s) => [s.name, s.value]));
    expect(secrets.ST_KEY).toBe(swiftEnv.ST_KEY);
    expect(secrets.ENCRYPTION_KEY).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(session.services[0].environment).toMatchObject({
      ENCRYPTION_KEY: '$$SCONE::ENCRYPTION_KEY$$',
      JOB_NAME: batchId,
      ITEM_LEASE_SECS: '15',
      ST_AUTH: swiftEnv.ST_AUTH,
    });

    // The job: SCONE settings only, and its workload decrypts with the session's key.
    const jobs = new AsperathosClient({ submissionsUrl: asperathos.submissionsUrl });
    let status = await jobs.get(jobId);
    for (let i = 0; i < 150 && status.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await jobs.get(jobId);
    }
    expect(status.status).toBe('completed');
    expect(status.progress).toBeNull(); // the manager reports none
    const listed = await fetch(`${asperathos.url}/submissions`).then((r) => r.json() as Promise<Record<string, Record<string, unknown>>>);
    expect(listed[jobId]).toBeDefined();
    const { lines } = await workloadLines(`${await swift.storageUrl()}/${batchId}/workload.txt`);
    const plain = await decryptAll(lines, Buffer.from(secrets.ENCRYPTION_KEY, 'base64'));
    expect(plain.map((p, i) => p.equals(clipBytes()[i]))).toEqual([true, true, true]);
  }, 60_000);
});

describe('submit-job failures', () => {
  /** A manager that is healthy but answers every submission with `status` and the manager's error JSON. */
  async function refusingManager(status: number, message: string): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('"OK"');
        return;
      }
      const name = status === 400 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error_code: status, error_message: message, error_name: name }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/submissions`, server };
  }

  it.each([
    [400, 'Missing plugin fields in request', 'Asperathos refused the job: 400 BAD_REQUEST: Missing plugin fields in request'],
    [500, 'Unknown plugin kubejobs', 'Asperathos refused the job: 500: Unknown plugin kubejobs'],
  ])('Asperathos answering %i: prints its error_message, exit 1, and removes the new container', async (status, message, expected) => {
    const manager = await refusingManager(status, message);
    try {
      const result = await cli(['--config', configPath, '--sgx-simulation', '--submissions-url', manager.url, data]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const container = /Creating container on Swift named '([0-9a-f]{32})'/.exec(result.stderr)![1];
      expect(
        result.stderr.endsWith(`submit-job: error: ${expected}; nothing was submitted and container '${container}' was removed\n`),
      ).toBe(true);
      expect(await swift.headContainer(container)).toBeNull();
      expect(await swift.headContainer(`${container}_segments`)).toBeNull();
    } finally {
      await new Promise((r) => manager.server.close(r));
    }
  });

  it('Asperathos unreachable: exit 1 before anything is uploaded', async () => {
    const result = await cli(['--config', configPath, '--sgx-simulation', '--submissions-url', 'http://127.0.0.1:1/submissions', data]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain('Creating container');
    expect(
      result.stderr.endsWith(
        'submit-job: error: Asperathos at http://127.0.0.1:1/submissions is unreachable or unhealthy (GET /healthz did not answer "OK")\n',
      ),
    ).toBe(true);
  });

  it('CAS unreachable: exit 1 before anything is uploaded', async () => {
    const result = await cli([
      '--config',
      configPath,
      '--cert',
      tls.clients.submit.certPath,
      '--cas-ca',
      tls.caPath,
      '--cas-address',
      '127.0.0.1:1:18765',
      '--generate-json-only',
      'never.json',
      data,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      '[INFO] Checking 3 videos under ' +
        data +
        '\n[INFO] Checking the CAS status...\n' +
        'submit-job: error: CAS at https://127.0.0.1:1 is unreachable (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:1\n',
    );
  });

  it('a CAS whose certificate is not signed by --cas-ca: exit 1, a TLS error', async () => {
    const other = await generateTlsFixtures(join(dir, 'other-tls'), { clients: ['x'] });
    const result = await cli([
      '--config',
      configPath,
      '--cert',
      tls.clients.submit.certPath,
      '--cas-ca',
      other.caPath,
      '--cas-address',
      cas.casAddress,
      '--generate-json-only',
      'never.json',
      data,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/submit-job: error: TLS with the CAS at https:\/\/127\.0\.0\.1:\d+ failed \(\w+\)/);
  });

  it('a truncated and a non-MP4 file: lists them, uploads nothing, exit 1', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    copyFileSync(join(VIDEOS, CLIPS[0]), join(bad, 'good.mp4'));
    writeFileSync(join(bad, 'cut.mp4'), readFileSync(join(VIDEOS, CLIPS[1])).subarray(0, 50_000));
    writeFileSync(join(bad, 'text.MP4'), 'hello, this is not a video at all'.repeat(10));
    const result = await cli(['--config', configPath, '--sgx-simulation', '--generate-json-only', 'bad.json', bad]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /\[INFO\] Checking 3 videos under .*\nsubmit-job: error: 2 of 3 files are not complete MP4 videos; nothing was uploaded or submitted:\n {2}cut\.mp4: MP4 ends inside a box: the file is truncated\n {2}text\.MP4: not an MP4 \(no ftyp box\)\n$/,
      ),
    });
    expect(result.stderr).not.toContain('Creating container');
  });

  it.each([
    ['a missing data path', ['--config', 'config.json', 'nowhere'], 'submit-job: error: data path nowhere: no such file or directory\n'],
    ['a data path without .mp4 files', ['--config', 'config.json', 'tls'], 'submit-job: error: no .mp4 files under tls\n'],
    [
      'a missing config file',
      ['--config', 'missing.json', 'videos'],
      'submit-job: error: cannot read the config file missing.json: no such file or directory\n',
    ],
    ['a malformed config file', ['--config', 'tls/ca.pem', 'videos'], 'submit-job: error: tls/ca.pem: enclave config: not valid JSON\n'],
  ])('%s: exit 1 with a clear message', async (_label, rest, expected) => {
    const result = await cli(['--sgx-simulation', '--generate-json-only', 'never.json', ...rest]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.endsWith(expected)).toBe(true);
  });

  it('a config file with a bad field names the field', async () => {
    writeFileSync(join(dir, 'bad-config.json'), JSON.stringify({ ...CONFIG, mrenclave: 'xyz' }));
    const result = await cli(['--config', 'bad-config.json', '--sgx-simulation', '--generate-json-only', 'never.json', 'videos']);
    expect(result.code).toBe(1);
    expect(result.stderr.endsWith('submit-job: error: bad-config.json: enclave config: invalid or missing mrenclave\n')).toBe(true);
  });

  it('a missing certificate file: exit 1', async () => {
    const result = await cli([
      '--config',
      configPath,
      '--cas-ca',
      tls.caPath,
      '--cas-address',
      cas.casAddress,
      '--generate-json-only',
      'never.json',
      'videos',
    ]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'submit-job: error: cannot read the client certificate client.pem: no such file or directory\n',
    });
  });

  it('a certificate with neither a key inside nor a sibling key file: exit 1', async () => {
    copyFileSync(tls.clients.submit.certPath, join(dir, 'lonely.pem'));
    const result = await cli([
      '--config',
      configPath,
      '--cert',
      'lonely.pem',
      '--cas-ca',
      tls.caPath,
      '--cas-address',
      cas.casAddress,
      '--generate-json-only',
      'never.json',
      'videos',
    ]);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'submit-job: error: lonely.pem holds no private key, and its key file lonely-key.pem cannot be read: no such file or directory\n',
    });
  });

  it('a combined certificate + key file (the original client.pem) is accepted', async () => {
    writeFileSync(join(dir, 'combined.pem'), tls.clients.submit.cert + tls.clients.submit.key);
    const result = await cli([
      '--config',
      configPath,
      '--cert',
      'combined.pem',
      '--cas-ca',
      tls.caPath,
      '--cas-address',
      cas.casAddress,
      '--generate-json-only',
      'hw.json',
      'videos',
    ]);
    expect(result.code).toBe(0);
    const job = JSON.parse(readFileSync(join(dir, 'hw.json'), 'utf8'));
    const env = job.plugin_info.env_vars as Record<string, string>;
    expect(env.ENCRYPTION_KEY).toBeUndefined();
    expect(env.ST_KEY).toBeUndefined();
    expect(env).toMatchObject({
      SCONE_MODE: 'HW',
      SCONE_CAS_ADDR: `127.0.0.1:${cas.casAddress.split(':')[2]}`,
      SCONE_CONFIG_ID: `${env.SCONE_CONFIG_ID.split('/')[0]}/radiomics`,
      SCONE_LOG: '3',
    });
  });

  it('no Swift credentials in the environment: exit 1', async () => {
    const result = await cli(['--config', configPath, '--sgx-simulation', '--generate-json-only', 'never.json', 'videos'], {});
    expect(result.code).toBe(1);
    expect(
      result.stderr.endsWith(
        'submit-job: error: no Swift credentials: set OS_AUTH_URL (+ OS_* credentials), or ST_AUTH, ST_USER and ST_KEY\n',
      ),
    ).toBe(true);
  });
});
