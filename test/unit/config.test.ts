import { describe, it, expect } from '@jest/globals';
import { parseBatchConfig } from '#lib/batch/config.js';
import { parseIntakeConfig } from '#lib/intake/config.js';
import { ConfigError } from '#lib/errors.js';
import { parsePacsHookConfig } from '#lib/pacs/config.js';
import { DEFAULT_SYNC_SETTINGS, parseApiConfig, parseSyncConfig } from '#lib/status/config.js';

const base = {
  TABLE_NAME: 'radiomics',
  INTAKE_BUCKET: 'intake',
  SWIFT_AUTH: 'tempauth',
  SWIFT_AUTH_URL: 'http://127.0.0.1:18080/auth/v1.0',
  SWIFT_USER: 'test:tester',
  SWIFT_KEY_FILE: '/run/secrets/swift-key',
  MASTER_KEY_SSM: '/trustworthy-radiomics/dev/master-key',
};

function errorOf(env: Record<string, string | undefined>): string {
  try {
    parseIntakeConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('intake configuration', () => {
  it('parses a complete TempAuth configuration with defaults', () => {
    const config = parseIntakeConfig(base);
    expect(config).toEqual({
      tableName: 'radiomics',
      intakeBucket: 'intake',
      maxVideoBytes: 2 * 1024 ** 3,
      singlePutMaxBytes: 16 * 1024 ** 2,
      batchMaxItems: 50,
      batchMaxBytes: 10 * 1024 ** 3,
      containerPrefix: '',
      batchMaxAgeSecs: 600,
      dueTimer: undefined,
      dicom: { ffmpegPath: '/opt/bin/ffmpeg', maxDicomBytes: 256 * 1024 * 1024 },
      logLevel: 'info',
      aws: { region: 'eu-west-1', s3Endpoint: undefined, dynamodbEndpoint: undefined },
      swift: {
        variables: { ST_AUTH: base.SWIFT_AUTH_URL, ST_USER: 'test:tester' },
        secrets: { ST_KEY: { file: '/run/secrets/swift-key', ssm: undefined } },
      },
      masterKey: { file: undefined, ssm: '/trustworthy-radiomics/dev/master-key' },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the DICOM conversion settings with the rest, DICOM_INTAKE=off leaving them out', () => {
    expect(parseIntakeConfig({ ...base, DICOM_INTAKE: 'off' }).dicom).toBeUndefined();
    expect(parseIntakeConfig({ ...base, FFMPEG_PATH: '/usr/bin/ffmpeg', MAX_DICOM_BYTES: '1024' }).dicom).toEqual({
      ffmpegPath: '/usr/bin/ffmpeg',
      maxDicomBytes: 1024,
    });
    expect(errorOf({ ...base, DICOM_INTAKE: 'maybe' })).toMatch(/^invalid configuration: DICOM_INTAKE is invalid/);
  });

  it('names every missing variable', () => {
    expect(errorOf({ ...base, TABLE_NAME: undefined, INTAKE_BUCKET: undefined })).toBe(
      'invalid configuration: TABLE_NAME is missing; INTAKE_BUCKET is missing',
    );
  });

  it('names a malformed value without echoing it', () => {
    const message = errorOf({ ...base, MAX_VIDEO_BYTES: 'lots' });
    expect(message).toMatch(/^invalid configuration: MAX_VIDEO_BYTES is invalid/);
    expect(message).not.toContain('lots');
    expect(errorOf({ ...base, SWIFT_AUTH_URL: 'not a url' })).toBe('invalid configuration: SWIFT_AUTH_URL is invalid (not a URL)');
  });

  it('requires secrets as a file or an SSM parameter', () => {
    expect(errorOf({ ...base, MASTER_KEY_SSM: undefined })).toBe('missing configuration: set MASTER_KEY_FILE or MASTER_KEY_SSM');
    expect(errorOf({ ...base, SWIFT_KEY_FILE: undefined })).toBe(
      'invalid configuration: no Swift credentials: set OS_AUTH_URL (+ OS_* credentials), or SWIFT_AUTH_URL, SWIFT_USER and SWIFT_KEY_FILE|_SSM',
    );
  });

  it('takes the batch close timer only with both its ARNs', () => {
    const arns = { BATCH_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:1:function:batch', SCHEDULER_ROLE_ARN: 'arn:aws:iam::1:role/s' };
    expect(parseIntakeConfig({ ...base, ...arns }).dueTimer).toEqual({
      batchFunctionArn: arns.BATCH_FUNCTION_ARN,
      schedulerRoleArn: arns.SCHEDULER_ROLE_ARN,
    });
    expect(errorOf({ ...base, BATCH_FUNCTION_ARN: arns.BATCH_FUNCTION_ARN })).toBe(
      'invalid configuration: set both BATCH_FUNCTION_ARN and SCHEDULER_ROLE_ARN, or neither',
    );
  });

  it('reads Keystone v3 the way the CLI and the worker do (openrc OS_*), secrets only as _FILE or _SSM', () => {
    const keystone = {
      ...base,
      SWIFT_AUTH: 'keystone',
      OS_AUTH_URL: 'https://keystone.example.org:5000/v3',
      OS_USERNAME: 'u',
      OS_PROJECT_ID: 'p1',
      OS_INTERFACE: 'internal',
      OS_PASSWORD_SSM: '/x/swift-password',
    };
    expect(parseIntakeConfig(keystone).swift).toEqual({
      variables: { OS_AUTH_URL: 'https://keystone.example.org:5000/v3', OS_USERNAME: 'u', OS_PROJECT_ID: 'p1', OS_INTERFACE: 'internal' },
      secrets: { OS_PASSWORD: { file: undefined, ssm: '/x/swift-password' } },
    });
    expect(errorOf({ ...keystone, OS_USERNAME: undefined })).toBe(
      'invalid configuration: OS_USERNAME or OS_USER_ID is required for password auth',
    );
    expect(errorOf({ ...keystone, OS_PASSWORD_SSM: undefined, OS_PASSWORD: 'hunter2' })).toBe(
      'invalid configuration: OS_PASSWORD must not be a plain variable; set OS_PASSWORD_FILE or OS_PASSWORD_SSM',
    );
    expect(errorOf({ ...keystone, OS_PASSWORD_SSM: undefined })).toBe(
      'invalid configuration: OS_AUTH_URL is set but none of OS_PASSWORD_FILE|_SSM, OS_APPLICATION_CREDENTIAL_SECRET_FILE|_SSM, OS_AUTH_TOKEN_FILE|_SSM is',
    );
    const appCred = {
      ...keystone,
      OS_PASSWORD_SSM: undefined,
      OS_AUTH_TYPE: 'v3applicationcredential',
      OS_APPLICATION_CREDENTIAL_ID: 'id',
      OS_APPLICATION_CREDENTIAL_SECRET_FILE: '/s',
    };
    expect(parseIntakeConfig(appCred).swift.secrets).toEqual({ OS_APPLICATION_CREDENTIAL_SECRET: { file: '/s', ssm: undefined } });
  });

  it('SWIFT_AUTH picks one family where both are set, as serverless.yml sets them', () => {
    const both = { ...base, OS_AUTH_URL: 'https://keystone.example.org:5000/v3', OS_USERNAME: 'u', OS_PASSWORD_SSM: '/x/swift-password' };
    expect(Object.keys(parseIntakeConfig(both).swift.variables)).toEqual(['ST_AUTH', 'ST_USER']);
    expect(Object.keys(parseIntakeConfig({ ...both, SWIFT_AUTH: 'keystone' }).swift.variables)).toEqual(['OS_AUTH_URL', 'OS_USERNAME']);
    expect(errorOf({ ...base, SWIFT_AUTH: 'ldap' })).toBe('invalid configuration: SWIFT_AUTH is invalid (expected keystone or tempauth)');
  });
});

describe('batch configuration', () => {
  const batchBase = {
    TABLE_NAME: 'radiomics',
    ASPERATHOS_URL: 'https://asperathos.example.org:1500/submissions',
    SGX_MODE: 'HW',
    CAS_ADDRESS: 'cas.example.org:8081:18765',
    CAS_CLIENT_CERT_SSM: '/p/cas-client-cert',
    CAS_CLIENT_KEY_SSM: '/p/cas-client-key',
    CAS_CA_SSM: '/p/cas-ca',
    ENCLAVE_CONFIG_SSM: '/p/enclave-config',
    TEMPURL_KEY_SSM: '/p/tempurl-key',
    SWIFT_AUTH: 'tempauth',
    SWIFT_AUTH_URL: 'http://127.0.0.1:18080/auth/v1.0',
    SWIFT_USER: 'test:tester',
    SWIFT_KEY_FILE: '/s',
    MASTER_KEY_FILE: '/m',
  };
  const batchError = (env: Record<string, string | undefined>) => {
    try {
      parseBatchConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('HW attestation settings: tolerate and ignore_advisories lists, session version, CAS server name', () => {
    const config = parseBatchConfig({
      ...batchBase,
      CAS_TOLERATE: 'debug-mode,hyperthreading',
      CAS_IGNORE_ADVISORIES: 'INTEL-SA-00076',
      SESSION_VERSION: '0.3.5',
      CAS_SERVER_NAME: 'cas',
    });
    expect([config.tolerate, config.ignoreAdvisories, config.sessionVersion, config.cas?.serverName]).toEqual([
      ['debug-mode', 'hyperthreading'],
      ['INTEL-SA-00076'],
      '0.3.5',
      'cas',
    ]);
    expect(parseBatchConfig({ ...batchBase, CAS_SERVER_NAME: '' }).cas?.serverName).toBeUndefined();
    expect(batchError({ ...batchBase, SESSION_VERSION: '0.4' })).toMatch(
      /^invalid configuration: SESSION_VERSION is invalid \(expected 0.3 or 0.3.N\)/,
    );
  });

  it('parses HW mode with its defaults', () => {
    const config = parseBatchConfig(batchBase);
    expect(config).toMatchObject({
      mode: 'HW',
      maxItems: 50,
      maxAgeSecs: 600,
      quietSecs: 0,
      links: { kind: 'tempurl', ttlSecs: 604800, key: { ssm: '/p/tempurl-key' } },
      cas: { address: 'cas.example.org:8081:18765', ca: { ssm: '/p/cas-ca' } },
      sessionFormat: '0.3',
      workerCmd: ['/entrypoint.sh'],
      sessionCommand: 'node /app/worker.mjs',
      sessionVersion: '0.3',
      tolerate: [],
      ignoreAdvisories: [],
      workerEnv: {},
      initSize: 1,
      expectedTimeSecs: 200,
      itemLeaseSecs: 15,
      verbosity: 3,
    });
  });

  it('names what HW mode lacks', () => {
    expect(batchError({ ...batchBase, CAS_ADDRESS: undefined })).toBe(
      'invalid configuration: CAS_ADDRESS is missing (required when SGX_MODE=HW)',
    );
    expect(batchError({ ...batchBase, CAS_CA_SSM: undefined })).toBe('missing configuration: set CAS_CA_FILE or CAS_CA_SSM');
    expect(batchError({ ...batchBase, CAS_ADDRESS: 'cas.example.org:8081' })).toMatch(
      /^invalid configuration: CAS_ADDRESS is invalid \(expected host:restPort:attestationPort\)/,
    );
  });

  it('rejects malformed values by name', () => {
    expect(batchError({ ...batchBase, SGX_MODE: 'sim' })).toMatch(/^invalid configuration: SGX_MODE is invalid/);
    expect(batchError({ ...batchBase, SCONE_VERBOSITY: '9' })).toMatch(/^invalid configuration: SCONE_VERBOSITY is invalid/);
    expect(batchError({ ...batchBase, WORKER_ENV: '["a"]' })).toBe(
      'invalid configuration: WORKER_ENV is invalid (expected a JSON object of strings)',
    );
    expect(batchError({ ...batchBase, ASPERATHOS_URL: undefined })).toBe('invalid configuration: ASPERATHOS_URL is missing');
  });

  it('SIM mode needs no CAS; public links need no TempURL key', () => {
    const config = parseBatchConfig({
      ...batchBase,
      SGX_MODE: 'SIM',
      CAS_ADDRESS: undefined,
      WORKLOAD_LINKS: 'public',
      TEMPURL_KEY_SSM: undefined,
    });
    expect(config.cas).toBeUndefined();
    expect(config.links).toEqual({ kind: 'public' });
  });

  it('caps a batch at 5000 videos, which its row can hold a registration for each', () => {
    expect(parseBatchConfig({ ...batchBase, BATCH_MAX_ITEMS: '5000' }).maxItems).toBe(5000);
    expect(batchError({ ...batchBase, BATCH_MAX_ITEMS: '5001' })).toBe(
      'invalid configuration: BATCH_MAX_ITEMS is invalid (at most 5000: the batch row holds a registration per video)',
    );
  });

  it('takes a quiet-period close in whole seconds, 0 turning it off', () => {
    expect(parseBatchConfig({ ...batchBase, BATCH_QUIET_SECS: '45' }).quietSecs).toBe(45);
    expect(parseBatchConfig({ ...batchBase, BATCH_QUIET_SECS: '0' }).quietSecs).toBe(0);
    expect(() => parseBatchConfig({ ...batchBase, BATCH_QUIET_SECS: '-1' })).toThrow(/BATCH_QUIET_SECS/);
  });
});

describe('shared fragments', () => {
  const api = {
    AUTH_ISSUER: 'https://login.test',
    AUTH_AUDIENCE: 'radiomics-status',
    TEMPURL_KEY_FILE: '/k',
    AUTH_HS256_SECRET_FILE: '/s',
    ...base,
  };

  it('the sync defaults are the schema defaults', () => {
    expect(DEFAULT_SYNC_SETTINGS).toEqual({
      concurrency: 32,
      notFoundLimit: 3,
      backoffBaseMs: 60_000,
      backoffMaxMs: 15 * 60_000,
      breakerThreshold: 20,
      heartbeatMs: 10 * 60_000,
      shredKeysOnTerminal: false,
      pageSize: 500,
      settleRetryLimit: 3,
    });
    expect(
      parseSyncConfig({
        TABLE_NAME: 't',
        ASPERATHOS_URL: 'http://asperathos:1500/submissions',
        PROGRESS_FROM_RESULTS: 'false',
        SYNC_CONCURRENCY: '4',
      }).settings,
    ).toEqual({ ...DEFAULT_SYNC_SETTINGS, concurrency: 4 });
  });

  it('SOURCE_NAME_KEY is optional and one reading for the intake and the status API: a file or an SSM parameter', () => {
    for (const parseConfig of [parseIntakeConfig, (env: Record<string, string | undefined>) => parseApiConfig({ ...api, ...env })]) {
      expect(parseConfig(base).sourceNameKey).toBeUndefined();
      expect(parseConfig({ ...base, SOURCE_NAME_KEY_SSM: '' }).sourceNameKey).toBeUndefined();
      expect(parseConfig({ ...base, SOURCE_NAME_KEY_FILE: '/run/secrets/source-name-key' }).sourceNameKey).toEqual({
        file: '/run/secrets/source-name-key',
        ssm: undefined,
      });
      expect(parseConfig({ ...base, SOURCE_NAME_KEY_SSM: '/trustworthy-radiomics/dev/source-name-key' }).sourceNameKey).toEqual({
        file: undefined,
        ssm: '/trustworthy-radiomics/dev/source-name-key',
      });
    }
  });

  it('one LOG_LEVEL rule for every function', () => {
    for (const parseConfig of [parseIntakeConfig, (env: Record<string, string | undefined>) => parseApiConfig({ ...api, ...env })]) {
      expect(() => parseConfig({ ...base, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL is invalid/);
      expect(parseConfig({ ...base, LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    }
  });

  it('one JWT reading for the status API and the PACS hook, each with its own audience', () => {
    const jwks = { AUTH_JWKS_URL: 'https://login.test/jwks', AUTH_CLOCK_SKEW_SECS: '10' };
    expect(parseApiConfig({ ...api, AUTH_HS256_SECRET_FILE: undefined, ...jwks }).auth).toEqual({
      kind: 'jwks',
      jwksUrl: 'https://login.test/jwks',
      algorithms: ['RS256', 'PS256', 'ES256'],
      issuer: 'https://login.test',
      audience: 'radiomics-status',
      tenantClaim: 'tenant',
      clockSkewSecs: 10,
      maxLifetimeSecs: 12 * 3600,
    });
    const pacs = parsePacsHookConfig({
      INTAKE_BUCKET: 'intake',
      PACS_RETRIEVE_BASE: 'https://hook.test/dicomweb',
      PACS_CREDENTIALS_FILE: '/c',
      AUTH_ISSUER: 'https://login.test',
      ...jwks,
    });
    expect(pacs.jwt).toEqual({
      kind: 'jwks',
      jwksUrl: 'https://login.test/jwks',
      algorithms: ['RS256', 'PS256', 'ES256'],
      issuer: 'https://login.test',
      audience: 'radiomics-pacs',
      requiredScope: 'pacs:write',
      tenantClaim: 'tenant',
      clockSkewSecs: 10,
      maxLifetimeSecs: 12 * 3600,
    });
    expect(pacs.listen).toEqual({ port: 8099, host: '0.0.0.0' });
    expect(() => parseApiConfig({ ...api, ...jwks, AUTH_HS256_SECRET_FILE: '/s' })).toThrow(
      'invalid configuration: set exactly one of AUTH_JWKS_URL or AUTH_HS256_SECRET_FILE|_SSM',
    );
  });
});
