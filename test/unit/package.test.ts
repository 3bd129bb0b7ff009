/** `osls package` produces the CloudFormation artefacts offline, with no AWS credentials. */
import { describe, it, expect, beforeAll } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/services.js';

const run = promisify(execFile);
type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
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
    expect(table.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual(['byBatch', 'active', 'byTenant']);
  });

  it('passes secrets only as SSM parameter names, never as values', () => {
    for (const fn of ['IntakeLambdaFunction', 'BatchLambdaFunction']) {
      const env = template.Resources[fn].Properties.Environment.Variables;
      expect(env.MASTER_KEY_SSM).toBe('/trustworthy-radiomics/dev/master-key');
      expect(env.OS_PASSWORD_SSM).toBe('/trustworthy-radiomics/dev/swift-password');
      expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$|CERT$|_ENV$/.test(name) && name !== 'WORKER_ENV')).toEqual([]);
    }
  });

  it('runs the batch closer every minute, one at a time, from its own zip', () => {
    expect(template.Resources.BatchEventsRuleSchedule1.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const fn = template.Resources.BatchLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/batch.handler');
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['BatchRole', 'Arn'] });
  });

  it('grants no wildcard actions, and each function only its own role', () => {
    const roles = Object.entries(template.Resources).filter(([name, r]) => r.Type === 'AWS::IAM::Role' && !name.startsWith('IamRoleCustomResources'));
    expect(roles.map(([name]) => name).sort()).toEqual(['BatchRole', 'BatchSchedulerRole', 'BucketLifecycleRole', 'IntakeRole', 'PacsHookRole', 'StatusApiRole', 'SyncStatusRole']);
    for (const [, role] of roles) {
      for (const policy of role.Properties.Policies) {
        for (const statement of policy.PolicyDocument.Statement) {
          for (const action of [statement.Action].flat()) expect(action).not.toContain('*');
        }
      }
    }
    const actionsOf = (role: string) =>
      template.Resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()));
    expect(actionsOf('IntakeRole')).not.toContain('dynamodb:Query');
    expect(actionsOf('BatchRole')).not.toContain('s3:GetObject');
  });

  it('syncs job status every minute on its own role: query the active and byBatch indexes, update rows, read the Swift password', () => {
    expect(template.Resources.SyncDashstatusEventsRuleSchedule1.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const fn = template.Resources.SyncDashstatusLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/sync-status.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['SyncStatusRole', 'Arn'] });
    expect(fn.Timeout).toBe(55);
    const statements = template.Resources.SyncStatusRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.flatMap((s: any) => [s.Action].flat()).sort()).toEqual(['dynamodb:Query', 'dynamodb:UpdateItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameter']);
    expect(statements.find((s: any) => [s.Action].flat().includes('dynamodb:Query')).Resource).toEqual([
      { 'Fn::Sub': '${RadiomicsTable.Arn}/index/active' },
      { 'Fn::Sub': '${RadiomicsTable.Arn}/index/byBatch' },
    ]);
    expect(statements.find((s: any) => [s.Action].flat().includes('ssm:GetParameter')).Resource).toEqual({
      'Fn::Sub': 'arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/trustworthy-radiomics/dev/swift-password',
    });
    expect(fn.Environment.Variables).toMatchObject({ PROGRESS_FROM_RESULTS: 'true', OS_PASSWORD_SSM: '/trustworthy-radiomics/dev/swift-password' });
  });

  it('serves the status API over httpApi on its own read-only role', () => {
    const fn = template.Resources.StatusDashapiLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/status-api.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['StatusApiRole', 'Arn'] });
    const routes = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey).filter((key) => key.startsWith('GET ')).sort();
    expect(routes).toEqual(['GET /', 'GET /batches/{id}', 'GET /jobs', 'GET /jobs/{id}', 'GET /videos/{id}']);
    const actions = template.Resources.StatusApiRole.Properties.Policies[0].PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()).sort();
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameter']);
    const env = fn.Environment.Variables;
    expect(env.TEMPURL_KEY_SSM).toBe('/trustworthy-radiomics/dev/tempurl-key');
    expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$/.test(name))).toEqual([]);
  });

  it('serves the PACS hook over httpApi on its own role, which may only put DICOM under <tenant>/dicom/ and read its credentials', () => {
    const fn = template.Resources.PacsDashhookLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/pacs-hook.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['PacsHookRole', 'Arn'] });
    const routes = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties.RouteKey).filter((key) => key.startsWith('POST ')).sort();
    expect(routes).toEqual(['POST /dicomweb/studies', 'POST /dicomweb/studies/{study}', 'POST /instances', 'POST /uploads', 'POST /{source}/instances']);
    const statements = template.Resources.PacsHookRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.flatMap((s: any) => [s.Action].flat()).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:AbortMultipartUpload', 's3:PutObject', 'ssm:GetParameter']);
    expect(statements.find((s: any) => [s.Action].flat().includes('s3:PutObject')).Resource).toBe('arn:aws:s3:::dev-radiomics-intake/*/dicom/*');
    const env = fn.Environment.Variables;
    expect(env.PACS_CREDENTIALS_SSM).toBe('/trustworthy-radiomics/dev/pacs-credentials');
    expect(Object.keys(env).filter((name) => /KEY$|PASSWORD$|SECRET$|TOKEN$|CREDENTIALS$/.test(name))).toEqual([]);
  });

  it('gives PACS writes their own JWT audience and scope, and both HTTP functions a 12 h token lifetime cap', () => {
    const pacs = template.Resources.PacsDashhookLambdaFunction.Properties.Environment.Variables;
    const status = template.Resources.StatusDashapiLambdaFunction.Properties.Environment.Variables;
    expect([pacs.PACS_AUTH_AUDIENCE, pacs.PACS_AUTH_SCOPE, status.AUTH_AUDIENCE]).toEqual(['radiomics-pacs', 'pacs:write', 'radiomics-status']);
    expect([pacs.AUTH_MAX_TOKEN_LIFETIME_SECS, status.AUTH_MAX_TOKEN_LIFETIME_SECS]).toEqual(['43200', '43200']);
  });

  it('expires intake objects tagged radiomics-status=rejected after rejectedExpiryDays (7), through a custom resource on its own role', () => {
    expect(template.Resources.IntakeRejectedExpiry).toEqual({
      Type: 'Custom::RejectedExpiry',
      Properties: { ServiceToken: { 'Fn::GetAtt': ['BucketDashlifecycleLambdaFunction', 'Arn'] }, BucketName: 'dev-radiomics-intake', ExpireRejectedAfterDays: 7 },
    });
    const fn = template.Resources.BucketDashlifecycleLambdaFunction.Properties;
    expect(fn.Handler).toBe('functions/bucket-lifecycle.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['BucketLifecycleRole', 'Arn'] });
    const statements = template.Resources.BucketLifecycleRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.find((s: any) => [s.Action].flat().includes('s3:PutLifecycleConfiguration'))).toEqual({
      Effect: 'Allow',
      Action: ['s3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration'],
      Resource: 'arn:aws:s3:::dev-radiomics-intake',
    });
  });
});
