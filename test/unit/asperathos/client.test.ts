import { describe, it, expect } from '@jest/globals';
import {
  AsperathosClient,
  AsperathosError,
  JobInputError,
  JobNotFound,
  TUTORIAL_JOB_TEMPLATE,
  buildJob,
  formatStartingTime,
  hwEnvironment,
  parsePythonBytes,
  parseStartingTime,
  pythonBytesRepr,
  sconeLog,
  simEnvironment,
} from '#lib/asperathos/index.js';
import { ConfigError, RetryableError } from '#lib/errors.js';
import { backgroundValidationProblem, workloadLines } from '#local/asperathos/index.js';

const KEY = Buffer.alloc(16, 7).toString('base64');

describe('job builder', () => {
  it('fills the tutorial template and leaves everything else exactly as it is', () => {
    const job = buildJob({
      workloadUrl: 'https://swift.local/v1/AUTH_x/c/workload.txt',
      image: 'registry.local/radiomics:1',
      env: { A: '1' },
    });
    expect(job).toEqual({
      plugin: 'kubejobs',
      enable_auth: false,
      plugin_info: {
        username: 'admin',
        password: '',
        cmd: ['/entrypoint.sh'],
        img: 'registry.local/radiomics:1',
        init_size: 1,
        redis_workload: 'https://swift.local/v1/AUTH_x/c/workload.txt',
        job_resources_lifetime: 300,
        k8s_resources_control: { limits: { memory: '4Gi', cpu: '2000m' }, requests: { memory: '3Gi', cpu: '1000m' } },
        control_plugin: 'kubejobs',
        control_parameters: {
          schedule_strategy: 'default',
          actuator: 'k8s_replicas',
          check_interval: 1,
          trigger_down: 0,
          trigger_up: 0,
          min_rep: 1,
          max_rep: 2,
          actuation_size: 1,
          metric_source: 'redis',
          heuristic_options: { proportional_gain: 0.1, derivative_gain: 0, integral_gain: 0 },
        },
        monitor_plugin: 'kubejobs',
        monitor_info: { expected_time: 200 },
        enable_visualizer: false,
        visualizer_plugin: 'k8s-grafana',
        visualizer_info: { datasource_type: 'influxdb' },
        env_vars: { A: '1' },
      },
    });
    expect(TUTORIAL_JOB_TEMPLATE.plugin_info.monitor_info.expected_time).toBe(180);
    expect(TUTORIAL_JOB_TEMPLATE.plugin_info.env_vars).toEqual({});
  });

  it('takes cmd, init_size, expected time, replicas, resources lifetime, the visualizer and API auth', () => {
    const job = buildJob({
      workloadUrl: 'http://x/w.txt',
      image: 'i',
      env: {},
      cmd: ['python3', 'worker.py'],
      initSize: 4,
      expectedTimeSecs: 600,
      resourcesLifetimeSecs: 45,
      visualizer: { username: 'g', password: 'p' },
      auth: { username: 'u', password: 'pw' },
    });
    expect([job.enable_auth, job.username, job.password]).toEqual([true, 'u', 'pw']);
    expect(job.plugin_info.cmd).toEqual(['python3', 'worker.py']);
    expect(job.plugin_info.init_size).toBe(4);
    expect(job.plugin_info.control_parameters.max_rep).toBe(4);
    expect(job.plugin_info.monitor_info.expected_time).toBe(600);
    expect([job.plugin_info.username, job.plugin_info.password, job.plugin_info.enable_visualizer]).toEqual(['g', 'p', true]);
    expect(job.plugin_info.job_resources_lifetime).toBe(45);
  });

  it.each([
    [{ workloadUrl: 'not a url' }, 'invalid_workload_url', 'invalid redis_workload: not a URL'],
    [{ workloadUrl: 'ftp://x/w.txt' }, 'invalid_workload_url', 'invalid redis_workload: expected an http or https URL'],
    [{ image: ' ' }, 'invalid_image', 'invalid img: expected a non-empty image name'],
    [{ cmd: [] }, 'invalid_cmd', 'invalid cmd: expected a non-empty list of non-empty strings'],
    [{ initSize: 0 }, 'invalid_init_size', 'invalid init_size: expected an integer > 0'],
    [{ initSize: 1.5 }, 'invalid_init_size', 'invalid init_size: expected an integer > 0'],
    [{ expectedTimeSecs: -1 }, 'invalid_expected_time', 'invalid expected time: expected an integer > 0'],
    [{ env: { 'BAD-NAME': 'x' } }, 'invalid_env', 'invalid env_vars: a variable name must match [A-Za-z_][A-Za-z0-9_]*'],
    [{ env: { N: 1 as unknown as string } }, 'invalid_env', 'invalid env_vars: the value of N must be a string'],
    [{ auth: { username: 'u', password: '' } }, 'invalid_auth', 'invalid auth: username and password are both required'],
    [
      { visualizer: { username: 'admin', password: '' } },
      'invalid_visualizer',
      'invalid visualizer: the Grafana username and password are both required',
    ],
    [{ resourcesLifetimeSecs: 0 }, 'invalid_resources_lifetime', 'invalid job_resources_lifetime: expected an integer > 0'],
  ])('%#: refuses %j', (patch, reason, message) => {
    try {
      buildJob({ workloadUrl: 'http://x/w.txt', image: 'i', env: {}, ...patch });
      throw new Error('expected JobInputError');
    } catch (error) {
      expect(error).toBeInstanceOf(JobInputError);
      expect([(error as JobInputError).reason, (error as Error).message]).toEqual([reason, message]);
    }
  });
});

describe('environment by mode', () => {
  it('HW: SCONE config id, CAS attestation address, LAS and tuning', () => {
    expect(hwEnvironment({ sessionName: 'batch-1', cas: 'cas.example:8081:18765', verbosity: 7 })).toEqual({
      SCONE_CONFIG_ID: 'batch-1/radiomics',
      SCONE_CAS_ADDR: 'cas.example:18765',
      SCONE_LAS_ADDR: '172.17.0.1:18766',
      SCONE_ALPINE: '1',
      SCONE_VERSION: '1',
      SCONE_MODE: 'HW',
      SCONE_LOG: '7',
      SCONE_HEAP: '3G',
      SCONE_STACK: '5M',
      SCONE_ALLOW_DLOPEN: '1',
    });
    expect(hwEnvironment({ sessionName: 's', serviceName: 'svc', cas: 'c:1:2', lasAddress: '10.0.0.1:18766' })).toMatchObject({
      SCONE_CONFIG_ID: 's/svc',
      SCONE_CAS_ADDR: 'c:2',
      SCONE_LAS_ADDR: '10.0.0.1:18766',
      SCONE_LOG: '3',
    });
  });

  it('SIM: FSPF, the key, lease and Swift credentials', () => {
    expect(
      simEnvironment({
        fspf: { path: '/fspf.pb', key: 'c'.repeat(64), tag: 'b'.repeat(32) },
        encryptionKey: KEY,
        itemLeaseSecs: 30,
        verbosity: 0,
        swift: { OS_AUTH_URL: 'http://k/v3', OS_AUTH_TOKEN: 't' },
      }),
    ).toEqual({
      SCONE_FSPF: '/fspf.pb',
      SCONE_FSPF_KEY: 'c'.repeat(64),
      SCONE_FSPF_TAG: 'b'.repeat(32),
      ENCRYPTION_KEY: KEY,
      SCONE_MODE: 'SIM',
      SCONE_ALPINE: '1',
      SCONE_VERSION: '1',
      SCONE_LOG: '0',
      SCONE_HEAP: '3G',
      SCONE_STACK: '5M',
      SCONE_ALLOW_DLOPEN: '1',
      ITEM_LEASE_SECS: '30',
      OS_AUTH_URL: 'http://k/v3',
      OS_AUTH_TOKEN: 't',
    });
  });

  it('SIM refuses a bad key without echoing it, and bad FSPF values', () => {
    const fspf = { path: '/fspf.pb', key: 'c'.repeat(64), tag: 'b'.repeat(32) };
    expect(() => simEnvironment({ fspf, encryptionKey: 'secret-ish' })).toThrow(
      'invalid encryption key: expected 16 bytes as standard base64 (24 characters ending in ==)',
    );
    expect(() => simEnvironment({ fspf: { ...fspf, tag: 'x' }, encryptionKey: KEY })).toThrow(
      'invalid fspf tag: expected 32 hex characters, got 1',
    );
    expect(() => simEnvironment({ fspf: { ...fspf, path: 'rel' }, encryptionKey: KEY })).toThrow(
      'invalid fspf path: expected an absolute path',
    );
    expect(() => simEnvironment({ fspf, encryptionKey: KEY, itemLeaseSecs: 0 })).toThrow(
      'invalid ITEM_LEASE_SECS: expected an integer > 0',
    );
  });

  it('verbosity N becomes SCONE_LOG=N for 0-7', () => {
    expect([0, 3, 7].map((n) => sconeLog(n))).toEqual(['0', '3', '7']);
    expect(() => sconeLog(8)).toThrow(ConfigError);
    expect(() => sconeLog(8)).toThrow('verbosity must be an integer 0-7');
  });
});

describe('Python bytes text and times', () => {
  it('decodes the manager error items', () => {
    expect(parsePythonBytes("b'https://swift.local/c/a.mp4'")).toBe('https://swift.local/c/a.mp4');
    expect(parsePythonBytes('b"https://x/it\'s.mp4"')).toBe("https://x/it's.mp4");
    expect(parsePythonBytes("b'a\\'b\\\\c\\n\\t\\x41\\xc3\\xa9'")).toBe("a'b\\c\n\tAé");
    expect(parsePythonBytes('plain text')).toBe('plain text');
  });

  it('encodes like Python repr and round-trips', () => {
    expect(pythonBytesRepr(Buffer.from('https://x/a.mp4'))).toBe("b'https://x/a.mp4'");
    expect(pythonBytesRepr(Buffer.from("it's"))).toBe('b"it\'s"');
    expect(pythonBytesRepr(Buffer.from('both \' and "'))).toBe("b'both \\' and \"'");
    expect(pythonBytesRepr(Buffer.from('é\n\\'))).toBe("b'\\xc3\\xa9\\n\\\\'");
    for (const text of ['https://x/a b.mp4', 'q\'"', 'é€\r\t\u0001'])
      expect(parsePythonBytes(pythonBytesRepr(Buffer.from(text)))).toBe(text);
  });

  it('reads and writes %Y-%m-%dT%H:%M:%S.%fGMT', () => {
    const date = new Date('2025-03-04T05:06:07.089Z');
    expect(formatStartingTime(date)).toBe('2025-03-04T05:06:07.089000GMT');
    expect(parseStartingTime('2025-03-04T05:06:07.089123GMT')).toEqual(date);
    expect(parseStartingTime('2025-03-04T05:06:07GMT')).toEqual(new Date('2025-03-04T05:06:07.000Z'));
    expect(parseStartingTime('Job is not running yet!')).toBeNull();
  });
});

describe('emulator helpers', () => {
  it("split the workload like text.split('\\n')[:-1]", () => {
    expect(workloadLines('a\nb\n')).toEqual(['a', 'b']);
    expect(workloadLines('a\nb')).toEqual(['a']);
    expect(workloadLines('')).toEqual([]);
    expect(workloadLines('a\n\n')).toEqual(['a', '']);
  });

  it('background validation names the first problem', () => {
    const info = buildJob({ workloadUrl: 'http://x/w.txt', image: 'i', env: {} }).plugin_info as Record<string, unknown>;
    expect(backgroundValidationProblem(info)).toBeNull();
    const { username: _u, ...noUser } = info;
    expect(backgroundValidationProblem(noUser)).toBe('Missing required plugin_info key: username');
    expect(backgroundValidationProblem({ ...info, cmd: 'x' })).toBe('plugin_info.cmd must be a list of strings');
    expect(backgroundValidationProblem({ ...info, control_parameters: { min_rep: 1 } })).toBe(
      'plugin_info.control_parameters must be a dict with min_rep and max_rep',
    );
    expect(backgroundValidationProblem({ ...info, enable_visualizer: 'yes' })).toBe('plugin_info.enable_visualizer must be a bool');
  });
});

describe('AsperathosClient with an injected fetch', () => {
  const reply = (status: number, body: string) => async () => new Response(status === 204 ? null : body, { status });
  const client = (fetchImpl: () => Promise<Response>) =>
    new AsperathosClient({ submissionsUrl: 'http://m:1500/submissions/', fetch: fetchImpl as typeof fetch });

  it('maps the manager error body to AsperathosError with its message and name', async () => {
    const c = client(reply(400, '{"error_code": 400, "error_message": "Missing plugin fields in request", "error_name": "BAD_REQUEST"}'));
    const error = (await c
      .submit(buildJob({ workloadUrl: 'http://x/w', image: 'i', env: {} }))
      .catch((e: unknown) => e)) as AsperathosError;
    expect(error).toBeInstanceOf(AsperathosError);
    expect([error.status, error.errorName, error.managerMessage, error.message]).toEqual([
      400,
      'BAD_REQUEST',
      'Missing plugin fields in request',
      'Asperathos refused to submit job: 400 BAD_REQUEST: Missing plugin fields in request',
    ]);
  });

  it('400 with an empty message on a job route is JobNotFound', async () => {
    const error = (await client(reply(400, '{"error_code": 400, "error_message": "", "error_name": "BAD_REQUEST"}'))
      .get('kj-abcdefg')
      .catch((e: unknown) => e)) as JobNotFound;
    expect(error).toBeInstanceOf(JobNotFound);
    expect([error.jobId, error.status, error.message]).toEqual(['kj-abcdefg', 400, 'Asperathos job kj-abcdefg not found']);
  });

  it('5xx and non-JSON answers are RetryableError', async () => {
    await expect(client(reply(503, '<html>busy</html>')).get('kj-1')).rejects.toThrow(
      new RetryableError('Asperathos failed to get job kj-1: 503: <html>busy</html>'),
    );
    await expect(client(reply(200, 'not json')).get('kj-1')).rejects.toThrow(
      new RetryableError('Asperathos answered get job kj-1 with a body that is not JSON (status 200)'),
    );
    await expect(client(reply(202, '{}')).submit(buildJob({ workloadUrl: 'http://x/w', image: 'i', env: {} }))).rejects.toThrow(
      'Asperathos accepted the job but its reply has no job_id',
    );
  });

  it('reads a status before start and after the end', async () => {
    const before = await client(
      reply(
        200,
        '{"app_id": "kj-1", "status": "created", "starting_time": "Job is not running yet!", "visualizer_url": "URL not generated!", "redis_ip": null, "redis_port": null}',
      ),
    ).get('kj-1');
    expect(before).toEqual({
      jobId: 'kj-1',
      status: 'created',
      startingTime: null,
      visualizerUrl: null,
      redis: null,
      report: {},
      progress: null,
      raw: {
        app_id: 'kj-1',
        status: 'created',
        starting_time: 'Job is not running yet!',
        visualizer_url: 'URL not generated!',
        redis_ip: null,
        redis_port: null,
      },
    });
    const after = await client(
      reply(
        200,
        '{"app_id": "kj-1", "status": "completed", "starting_time": "2025-01-02T03:04:05.678901GMT", "visualizer_url": "http://g/d", "redis_ip": "10.0.0.9", "redis_port": 6379, "execution_time": 12.5, "final_replicas": 2, "items": 4, "processed_items": 4}',
      ),
    ).get('kj-1');
    expect([after.startingTime, after.visualizerUrl, after.redis, after.report, after.progress]).toEqual([
      new Date('2025-01-02T03:04:05.678Z'),
      'http://g/d',
      { ip: '10.0.0.9', port: 6379 },
      { execution_time: 12.5, final_replicas: 2 },
      { items: 4, processed: 4 },
    ]);
  });

  it("reads the real manager's status JSON: no progress keys, the monitor's report keys, both visualizer placeholders as null", async () => {
    const body = (visualizer: string) =>
      JSON.stringify({
        app_id: 'kj-1',
        status: 'completed',
        starting_time: '2026-12-02T10:00:00.000001GMT',
        visualizer_url: visualizer,
        redis_ip: '10.0.0.9',
        redis_port: 6379,
        scaling_strategy: 'default',
        heuristic_options: { proportional_gain: 0.1 },
        max_error: 0,
        min_error: -0.5,
        final_replicas: 1,
        final_error: 0,
        execution_time: 31.2,
      });
    const dead = await client(reply(200, body('Url is dead!'))).get('kj-1');
    expect([dead.visualizerUrl, dead.progress, dead.report]).toEqual([
      null,
      null,
      {
        scaling_strategy: 'default',
        heuristic_options: { proportional_gain: 0.1 },
        max_error: 0,
        min_error: -0.5,
        final_replicas: 1,
        final_error: 0,
        execution_time: 31.2,
      },
    ]);
    expect((await client(reply(200, body('URL not generated!'))).get('kj-1')).visualizerUrl).toBeNull();
    expect((await client(reply(200, body('http://grafana:3000/d/kj-1'))).get('kj-1')).visualizerUrl).toBe('http://grafana:3000/d/kj-1');
  });

  it('/errors: {} (none, unknown id, Redis deleted) is an empty list; a list is decoded; a 500 is RetryableError', async () => {
    expect(await client(reply(200, '{}')).errors('kj-1')).toEqual([]);
    expect(await client(reply(200, '["b\'https://s/c/a.mp4\'"]')).errors('kj-1')).toEqual(['https://s/c/a.mp4']);
    const internal = '{"error_code": 500, "error_message": "Internal Server Error", "error_name": "INTERNAL_SERVER_ERROR"}';
    await expect(client(reply(500, internal)).errors('kj-1')).rejects.toThrow(
      new RetryableError('Asperathos failed to read errors of job kj-1: 500: Internal Server Error'),
    );
    await expect(client(reply(200, '{"x": 1}')).errors('kj-1')).rejects.toThrow(
      new RetryableError('Asperathos answered errors of job kj-1 with something other than a list'),
    );
  });

  it('DELETE of an unknown id (400 "Specified submission does not exists…") is JobNotFound', async () => {
    const answer =
      '{"error_code": 400, "error_message": "Specified submission does not exists in this Asperathos instance!", "error_name": "BAD_REQUEST"}';
    const error = (await client(reply(400, answer))
      .delete('kj-1')
      .catch((e: unknown) => e)) as JobNotFound;
    expect(error).toBeInstanceOf(JobNotFound);
    expect(error.message).toBe('Asperathos job kj-1 not found');
  });

  it('sends stop, terminate and delete with an enable_auth body to the right URLs', async () => {
    const calls: Array<[string, string, string | undefined]> = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push([init.method ?? 'GET', url, init.body as string | undefined]);
      return new Response(null, { status: 204 });
    }) as unknown as typeof fetch;
    const c = new AsperathosClient({ submissionsUrl: 'http://m:1500/submissions', fetch: fetchImpl });
    await c.stop('kj-1');
    await c.terminate('kj-1');
    await c.delete('kj-1');
    expect(calls).toEqual([
      ['PUT', 'http://m:1500/submissions/kj-1/stop', '{"enable_auth":false}'],
      ['PUT', 'http://m:1500/submissions/kj-1/terminate', '{"enable_auth":false}'],
      ['DELETE', 'http://m:1500/submissions/kj-1', '{"enable_auth":false}'],
    ]);
  });

  it('a caller abort is a RetryableError naming the abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const c = new AsperathosClient({
      submissionsUrl: 'http://m/submissions',
      fetch: ((_u: string, init: RequestInit) => Promise.reject(init.signal?.reason)) as unknown as typeof fetch,
    });
    const error = (await c.get('kj-1', { signal: controller.signal }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('Asperathos request to get job kj-1 was aborted');
  });
});
