/** `osls package` produces the CloudFormation artefacts offline, with no AWS credentials. */
import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '#local/service-endpoints.js';

const run = promisify(execFile);
/** An IAM policy statement: Action and Resource are each one value or a list. */
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
/** The resource properties these cases read (a function's, a role's, a route's, an alarm's…); the rest they compare whole. */
interface Properties {
  Environment: { Variables: Record<string, string> };
  Policies: { PolicyDocument: { Statement: Statement[] } }[];
  RouteKey: string;
  GlobalSecondaryIndexes: { IndexName: string }[];
  AccessLogSettings: { DestinationArn: unknown };
  [property: string]: unknown;
}
interface Template {
  Resources: Record<string, { Type: string; Properties: Properties }>;
  Conditions: Record<string, unknown>;
}
const actionsOf = (statement: Statement) => [statement.Action].flat();
let template: Template;
let zipListing: string;

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'no-aws-'));
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: home, CI: '1' };
  try {
    await run('npm', ['run', '--silent', 'package'], { cwd: REPO_ROOT, env, timeout: 120_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  template = JSON.parse(readFileSync(join(REPO_ROOT, '.serverless', 'cloudformation-template-update-stack.json'), 'utf8'));
  zipListing = (await run('unzip', ['-l', join(REPO_ROOT, '.serverless', 'intake.zip')])).stdout;
}, 180_000);

describe('serverless package (offline, no credentials)', () => {
  it('bundles the intake as one ESM file for nodejs22.x on its own role', () => {
    const fn = template.Resources.IntakeLambdaFunction.Properties;
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Handler).toBe('functions/intake.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['IntakeRole', 'Arn'] });
    expect(fn.Timeout).toBe(900);
    expect(zipListing).toContain('functions/intake.mjs');
  });

  it('retries the intake twice, then sends the event to the failure queue', () => {
    const conf = template.Resources.IntakeLambdaEvConf.Properties;
    expect(conf.MaximumRetryAttempts).toBe(2);
    expect(conf.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': ['IntakeFailures', 'Arn'] } } });
  });

  it('subscribes the intake to ObjectCreated:* on the existing intake bucket', () => {
    const s3 = template.Resources.IntakeCustomS31.Properties;
    expect(s3.BucketName).toBe('dev-radiomics-intake');
    expect(s3.BucketConfigs).toEqual([{ Event: 's3:ObjectCreated:*', Rules: [] }]);
  });

  it('declares the table with the same keys and indexes the local stack creates', () => {
    const table = template.Resources.RadiomicsTable.Properties;
    expect(table.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.GlobalSecondaryIndexes.map((i) => i.IndexName)).toEqual(['byBatch', 'active', 'byTenant', 'bySource']);
  });

  it('passes secrets only as SSM parameter names, never as values', () => {
    for (const fn of ['IntakeLambdaFunction', 'BatchLambdaFunction']) {
      const env = template.Resources[fn].Properties.Environment.Variables;
      expect(env.MASTER_KEY_SSM).toBe('/trustworthy-radiomics/dev/master-key');
      expect(env.OS_PASSWORD_SSM).toBe('/trustworthy-radiomics/dev/swift-password');
      expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$|CERT$|_ENV$/.test(name) && name !== 'WORKER_ENV')).toEqual(
        [],
      );
    }
  });

  it('reads the source-name key only where sourceNameKey is on (off by default): the intake and the status API, each role that one parameter', () => {
    expect(template.Conditions.HasSourceNameKey).toEqual({ 'Fn::Equals': ['off', 'on'] });
    const whenOn = (value: unknown) => ({ 'Fn::If': ['HasSourceNameKey', value, { Ref: 'AWS::NoValue' }] });
    const parameter = `arn:aws:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/trustworthy-radiomics/dev/source-name-key`;
    for (const [fn, role] of [
      ['IntakeLambdaFunction', 'IntakeRole'],
      ['StatusDashapiLambdaFunction', 'StatusApiRole'],
    ]) {
      expect(template.Resources[fn].Properties.Environment.Variables.SOURCE_NAME_KEY_SSM).toEqual(
        whenOn('/trustworthy-radiomics/dev/source-name-key'),
      );
      const ssm = template.Resources[role].Properties.Policies[0].PolicyDocument.Statement.find((s) =>
        actionsOf(s).includes('ssm:GetParameter'),
      );
      expect(ssm?.Resource).toContainEqual(whenOn({ 'Fn::Sub': parameter }));
    }
    const readers = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && 'SOURCE_NAME_KEY_SSM' in (r.Properties.Environment?.Variables ?? {}))
      .map(([name]) => name);
    expect(readers.sort()).toEqual(['IntakeLambdaFunction', 'StatusDashapiLambdaFunction']);
  });

  it('runs the batch closer every minute, one at a time, from its own zip', () => {
    expect(template.Resources.BatchEventsRuleSchedule1.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const fn = template.Resources.BatchLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/batch.handler');
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['BatchRole', 'Arn'] });
  });

  it('grants no wildcard actions, and each function only its own role', () => {
    const roles = Object.entries(template.Resources).filter(
      ([name, r]) => r.Type === 'AWS::IAM::Role' && !name.startsWith('IamRoleCustomResources'),
    );
    expect(roles.map(([name]) => name).sort()).toEqual([
      'BatchRole',
      'BatchSchedulerRole',
      'BucketLifecycleRole',
      'IntakeRole',
      'PacsHookRole',
      'StatusApiRole',
      'SyncStatusRole',
    ]);
    for (const [, role] of roles) {
      for (const policy of role.Properties.Policies) {
        for (const statement of policy.PolicyDocument.Statement) {
          for (const action of actionsOf(statement)) expect(action).not.toContain('*');
        }
      }
    }
    const roleActions = (role: string) =>
      template.Resources[role].Properties.Policies.flatMap((p) => p.PolicyDocument.Statement.flatMap(actionsOf));
    expect(roleActions('IntakeRole')).not.toContain('dynamodb:Query');
    expect(roleActions('BatchRole')).not.toContain('s3:GetObject');
  });

  it('syncs job status every minute on its own role: query the active and byBatch indexes, update rows, read the Swift password', () => {
    expect(template.Resources.SyncDashstatusEventsRuleSchedule1.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const fn = template.Resources.SyncDashstatusLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/sync-status.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['SyncStatusRole', 'Arn'] });
    expect(fn.Timeout).toBe(55);
    const statements = template.Resources.SyncStatusRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    // Fn::Sub strings: the \${…} are CloudFormation's substitutions, kept literally
    expect(statements.find((s) => actionsOf(s).includes('dynamodb:Query'))?.Resource).toEqual([
      { 'Fn::Sub': `\${RadiomicsTable.Arn}/index/active` },
      { 'Fn::Sub': `\${RadiomicsTable.Arn}/index/byBatch` },
    ]);
    expect(statements.find((s) => actionsOf(s).includes('ssm:GetParameter'))?.Resource).toEqual([
      { 'Fn::Sub': `arn:aws:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/trustworthy-radiomics/dev/swift-password` },
      { 'Fn::Sub': `arn:aws:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/trustworthy-radiomics/dev/swift-key` },
    ]);
    expect(fn.Environment.Variables).toMatchObject({
      PROGRESS_FROM_RESULTS: 'true',
      OS_PASSWORD_SSM: '/trustworthy-radiomics/dev/swift-password',
    });
  });

  it('serves the status API over httpApi on its own read-only role', () => {
    const fn = template.Resources.StatusDashapiLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/status-api.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['StatusApiRole', 'Arn'] });
    const routes = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties.RouteKey)
      .filter((key) => key.startsWith('GET '))
      .sort();
    expect(routes).toEqual([
      'GET /',
      'GET /batches/{id}',
      'GET /jobs',
      'GET /jobs/{id}',
      'GET /pacs/refusals',
      'GET /videos',
      'GET /videos/{id}',
      'GET /videos/{id}/analysis',
    ]);
    const actions = template.Resources.StatusApiRole.Properties.Policies[0].PolicyDocument.Statement.flatMap(actionsOf).sort();
    expect(actions).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:Query',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const env = fn.Environment.Variables;
    expect(env.TEMPURL_KEY_SSM).toBe('/trustworthy-radiomics/dev/tempurl-key');
    expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$/.test(name))).toEqual([]);
  });

  it('serves the PACS hook over httpApi on its own role, which may only put DICOM under <tenant>/dicom/ and read its credentials', () => {
    const fn = template.Resources.PacsDashhookLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/pacs-hook.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['PacsHookRole', 'Arn'] });
    const routes = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties.RouteKey)
      .filter((key) => key.startsWith('POST '))
      .sort();
    expect(routes).toEqual([
      'POST /dicomweb/studies',
      'POST /dicomweb/studies/{study}',
      'POST /instances',
      'POST /uploads',
      'POST /{source}/instances',
    ]);
    const statements = template.Resources.PacsHookRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      'dynamodb:BatchWriteItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:AbortMultipartUpload',
      's3:GetObject',
      's3:PutObject',
      'ssm:GetParameter',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(statements.find((s) => actionsOf(s).includes('s3:PutObject'))?.Resource).toBe('arn:aws:s3:::dev-radiomics-intake/*/dicom/*');
    const env = fn.Environment.Variables;
    expect(env.PACS_CREDENTIALS_SSM).toBe('/trustworthy-radiomics/dev/pacs-credentials');
    expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$|CREDENTIALS$/.test(name))).toEqual([]);
  });

  it('gives PACS writes their own JWT audience and scope, and both HTTP functions a 12 h token lifetime cap', () => {
    const pacs = template.Resources.PacsDashhookLambdaFunction.Properties.Environment.Variables;
    const status = template.Resources.StatusDashapiLambdaFunction.Properties.Environment.Variables;
    expect([pacs.PACS_AUTH_AUDIENCE, pacs.PACS_AUTH_SCOPE, status.AUTH_AUDIENCE]).toEqual([
      'radiomics-pacs',
      'pacs:write',
      'radiomics-status',
    ]);
    expect([pacs.AUTH_MAX_TOKEN_LIFETIME_SECS, status.AUTH_MAX_TOKEN_LIFETIME_SECS]).toEqual(['43200', '43200']);
  });

  it('expires intake objects tagged radiomics-status=rejected after rejectedExpiryDays (7), through a custom resource on its own role', () => {
    expect(template.Resources.IntakeRejectedExpiry).toEqual({
      Type: 'Custom::RejectedExpiry',
      Properties: {
        ServiceToken: { 'Fn::GetAtt': ['BucketDashlifecycleLambdaFunction', 'Arn'] },
        BucketName: 'dev-radiomics-intake',
        ExpireRejectedAfterDays: 7,
      },
    });
    const fn = template.Resources.BucketDashlifecycleLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/bucket-lifecycle.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['BucketLifecycleRole', 'Arn'] });
    const statements = template.Resources.BucketLifecycleRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.find((s) => actionsOf(s).includes('s3:PutLifecycleConfiguration'))).toEqual({
      Effect: 'Allow',
      Action: ['s3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration'],
      Resource: 'arn:aws:s3:::dev-radiomics-intake',
    });
  });
});

const FUNCTIONS = {
  intake: 'Intake',
  batch: 'Batch',
  'sync-status': 'SyncDashstatus',
  'status-api': 'StatusDashapi',
  'pacs-hook': 'PacsDashhook',
} as const;

describe('packaged template: tracing, alarms, access logs, VPC, stage settings', () => {
  const alarm = (name: string) => template.Resources[name].Properties;
  const notifyTopic = { 'Fn::If': ['HasAlarmTopic', [''], { Ref: 'AWS::NoValue' }] };
  const emfDimensions = (fn: string) => [
    { Name: 'service', Value: 'trustworthy-radiomics' },
    { Name: 'function', Value: fn },
  ];

  it('traces every function with X-Ray, and every function role may write traces', () => {
    for (const [fn, logical] of Object.entries(FUNCTIONS)) {
      expect([fn, template.Resources[`${logical}LambdaFunction`].Properties.TracingConfig]).toEqual([fn, { Mode: 'Active' }]);
    }
    for (const role of ['IntakeRole', 'BatchRole', 'SyncStatusRole', 'StatusApiRole', 'PacsHookRole', 'BucketLifecycleRole']) {
      const statements = template.Resources[role].Properties.Policies[0].PolicyDocument.Statement;
      expect(statements).toContainEqual({ Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' });
    }
  });

  it("alarms on intake failures, every function's errors and throttles, a stuck batch, stale jobs and status-api 5xx", () => {
    const alarms = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([name]) => name)
      .sort();
    const perFunction = Object.values(FUNCTIONS).flatMap((logical) => [`${logical}ErrorsAlarm`, `${logical}ThrottlesAlarm`]);
    expect(alarms).toEqual(['BatchStuckAlarm', 'IntakeFailuresAlarm', 'StaleJobsAlarm', 'StatusApi5xxAlarm', ...perFunction].sort());
    expect(alarm('IntakeFailuresAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['IntakeFailures', 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarm('PacsDashhookThrottlesAlarm')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'PacsDashhookLambdaFunction' } }],
    });
    expect(alarm('BatchStuckAlarm')).toMatchObject({
      Namespace: 'TrustworthyRadiomics',
      MetricName: 'OldestUnsubmittedBatchSecs',
      Dimensions: emfDimensions('batch'),
      Statistic: 'Maximum',
      Threshold: 1800,
    });
    expect(alarm('StaleJobsAlarm')).toMatchObject({
      MetricName: 'JobsStale',
      Dimensions: emfDimensions('sync-status'),
      Period: 60,
      EvaluationPeriods: 30,
      DatapointsToAlarm: 30,
      Threshold: 0,
    });
    expect(alarm('StatusApi5xxAlarm')).toMatchObject({
      MetricName: 'ServerErrors',
      Dimensions: emfDimensions('status-api'),
      Statistic: 'Sum',
      Threshold: 0,
    });
    for (const name of alarms) expect([name, alarm(name).AlarmActions]).toEqual([name, notifyTopic]);
    expect(template.Conditions.HasAlarmTopic).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
  });

  it("writes HTTP API access logs, caps the intake's concurrency, and gives it the (empty by default) ffmpeg layers", () => {
    expect(template.Resources.HttpApiStage.Properties.AccessLogSettings.DestinationArn).toEqual({
      'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'],
    });
    const intake = template.Resources.IntakeLambdaFunction.Properties;
    expect([intake.ReservedConcurrentExecutions, intake.Layers, intake.Environment.Variables.FFMPEG_PATH]).toEqual([
      10,
      [],
      '/opt/bin/ffmpeg',
    ]);
  });

  it('wires TempAuth too: its URL, user and SSM key name reach every Swift user, whose roles may read that key', () => {
    for (const logical of ['Intake', 'Batch', 'SyncDashstatus', 'StatusDashapi']) {
      const env = template.Resources[`${logical}LambdaFunction`].Properties.Environment.Variables;
      expect([logical, env.SWIFT_AUTH, env.SWIFT_AUTH_URL, env.SWIFT_KEY_SSM]).toEqual([
        logical,
        'keystone',
        'https://keystone.example.org:5000/v3',
        '/trustworthy-radiomics/dev/swift-key',
      ]);
    }
  });

  it('runs outside any VPC by default; the roles gain VPC access only under the HasVpc condition', () => {
    for (const logical of Object.values(FUNCTIONS))
      expect(template.Resources[`${logical}LambdaFunction`].Properties.VpcConfig).toBeUndefined();
    expect(template.Conditions.HasVpc).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(template.Resources.BatchRole.Properties.ManagedPolicyArns).toEqual({
      'Fn::If': ['HasVpc', ['arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'], { Ref: 'AWS::NoValue' }],
    });
  });
});

describe('bundles (minified, with a linked source map without sources)', () => {
  // zipped bytes measured 2026-12-02 (docs/deployment.md, "Bundles"), plus about 10 %
  const MAX_ZIP_BYTES = { intake: 1_800_000, batch: 1_300_000, 'sync-status': 1_150_000, 'status-api': 1_150_000, 'pacs-hook': 1_300_000 };
  const packagesIn = async (fn: string) => {
    const map = JSON.parse(
      (await run('unzip', ['-p', join(REPO_ROOT, '.serverless', `${fn}.zip`), `functions/${fn}.mjs.map`], { maxBuffer: 64 << 20 })).stdout,
    );
    expect(map.sourcesContent ?? []).toEqual([]);
    return new Set((map.sources as string[]).flatMap((source) => source.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? []));
  };

  it("keeps each function's zip within its size budget", () => {
    for (const [fn, maxBytes] of Object.entries(MAX_ZIP_BYTES)) {
      const bytes = statSync(join(REPO_ROOT, '.serverless', `${fn}.zip`)).size;
      expect([fn, bytes <= maxBytes]).toEqual([fn, true]);
    }
  });

  it('ships no dcmjs in batch and no yaml in sync-status; the SSM client only where the role may read a parameter', async () => {
    const batch = await packagesIn('batch');
    const sync = await packagesIn('sync-status');
    const intake = await packagesIn('intake');
    expect([batch.has('dcmjs'), sync.has('yaml'), intake.has('dcmjs')]).toEqual([false, false, true]);
    for (const [fn, logical] of Object.entries({ 'sync-status': 'SyncStatusRole', 'pacs-hook': 'PacsHookRole' })) {
      const mayRead = template.Resources[logical].Properties.Policies[0].PolicyDocument.Statement.some((s) =>
        actionsOf(s).includes('ssm:GetParameter'),
      );
      expect([fn, (await packagesIn(fn)).has('@aws-sdk/client-ssm')]).toEqual([fn, mayRead]);
    }
  });
});

describe('packaged template with a stage file (stages/<stage>.yml)', () => {
  const stage = 'ci-vpc';
  const stageFile = join(REPO_ROOT, 'stages', `${stage}.yml`);
  let staged: Template;

  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), 'package-vpc-'));
    const home = mkdtempSync(join(tmpdir(), 'no-aws-'));
    writeFileSync(
      stageFile,
      [
        'vpc:',
        '  subnetIds: [subnet-1, subnet-2]',
        '  securityGroupIds: [sg-1]',
        'workerEnv: |',
        '  {"OS_AUTH_URL": "https://k.example/v3"}',
        '',
      ].join('\n'),
    );
    try {
      await run('bash', ['local/on-node.sh', 'npx', 'osls', 'package', '--stage', stage, '--package', out], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH!, HOME: home, CI: '1' },
        timeout: 120_000,
      });
      staged = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
    } finally {
      rmSync(stageFile, { force: true });
      rmSync(out, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  }, 180_000);

  it("puts every function in the VPC it names, turns on the roles' VPC access, and passes its workerEnv JSON", () => {
    for (const [fn, logical] of Object.entries(FUNCTIONS)) {
      expect([fn, staged.Resources[`${logical}LambdaFunction`].Properties.VpcConfig]).toEqual([
        fn,
        { SubnetIds: ['subnet-1', 'subnet-2'], SecurityGroupIds: ['sg-1'] },
      ]);
    }
    expect(staged.Conditions.HasVpc).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['subnet-1', ''] }] });
    expect(staged.Resources.BatchLambdaFunction.Properties.Environment.Variables.WORKER_ENV).toBe(
      '{"OS_AUTH_URL": "https://k.example/v3"}\n',
    );
  });
});
