/**
 * Refused patient data expires: the intake bucket's lifecycle rule for objects tagged radiomics-status=rejected, and
 * the CloudFormation custom resource that keeps it. Neither s3rver nor Swift's s3api implements bucket lifecycle,
 * so the S3 client is mocked here (aws-sdk-client-mock); CloudFormation's response URL is a real local server.
 */
import { describe, it, expect, beforeEach, beforeAll, afterAll } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  S3ServiceException,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { BucketLifecycle, rejectedExpiryRule, withRejectedExpiry } from '#lib/s3/lifecycle.js';
import { handler } from '#functions/bucket-lifecycle.js';
import type { CustomResourceRequest } from '#lib/aws/cfn-custom-resource.js';

const s3 = mockClient(S3Client);
const OTHER: LifecycleRule = {
  ID: 'abort-incomplete-uploads',
  Status: 'Enabled',
  Filter: { Prefix: '' },
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
};
const noLifecycle = () =>
  new S3ServiceException({ name: 'NoSuchLifecycleConfiguration', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'none' });

let server: Server;
let responses: Array<Record<string, unknown>>;
let responseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      responses.push({ method: req.method, ...JSON.parse(body) });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?signature=x`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  s3.reset();
  responses = [];
});

const request = (RequestType: CustomResourceRequest['RequestType'], properties: Record<string, unknown>): CustomResourceRequest => ({
  RequestType,
  ResponseURL: responseUrl,
  StackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/radiomics/1',
  RequestId: 'req-1',
  LogicalResourceId: 'IntakeRejectedExpiry',
  ResourceProperties: { ServiceToken: 'arn:fn', ...properties },
});

describe('expiry of rejected intake objects', () => {
  it('expires objects tagged radiomics-status=rejected, and their noncurrent versions, after the given days', () => {
    expect(rejectedExpiryRule(7)).toEqual({
      ID: 'radiomics-expire-rejected',
      Status: 'Enabled',
      Filter: { Tag: { Key: 'radiomics-status', Value: 'rejected' } },
      Expiration: { Days: 7 },
      NoncurrentVersionExpiration: { NoncurrentDays: 7 },
    });
    expect(() => rejectedExpiryRule(0)).toThrow('the expiry of rejected objects must be a whole number of days, at least 1');
  });

  it("keeps the bucket's other rules, replaces an older copy of its own, and removes only its own", () => {
    expect(withRejectedExpiry([OTHER, rejectedExpiryRule(30)], rejectedExpiryRule(7))).toEqual([OTHER, rejectedExpiryRule(7)]);
    expect(withRejectedExpiry([rejectedExpiryRule(7), OTHER], undefined)).toEqual([OTHER]);
  });

  it('on a bucket without lifecycle puts just the rule; removing the last rule deletes the configuration', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand)
      .rejectsOnce(noLifecycle())
      .resolves({ Rules: [rejectedExpiryRule(7)] });
    const lifecycle = new BucketLifecycle(new S3Client({ region: 'eu-west-1' }));
    await lifecycle.setRejectedExpiry('intake', 7);
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'intake', LifecycleConfiguration: { Rules: [rejectedExpiryRule(7)] } },
    ]);
    await lifecycle.setRejectedExpiry('intake', undefined);
    expect(s3.commandCalls(DeleteBucketLifecycleCommand).map((call) => call.args[0].input)).toEqual([{ Bucket: 'intake' }]);
  });

  it('the custom resource sets the rule with the stack parameter and answers CloudFormation SUCCESS', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [OTHER] });
    s3.on(PutBucketLifecycleConfigurationCommand).resolves({});
    await handler(request('Create', { BucketName: 'prod-radiomics-intake', ExpireRejectedAfterDays: '7' }), {} as Context);
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)[0].args[0].input).toEqual({
      Bucket: 'prod-radiomics-intake',
      LifecycleConfiguration: { Rules: [OTHER, rejectedExpiryRule(7)] },
    });
    expect(responses).toEqual([
      {
        method: 'PUT',
        Status: 'SUCCESS',
        PhysicalResourceId: 'prod-radiomics-intake/rejected-expiry',
        StackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/radiomics/1',
        RequestId: 'req-1',
        LogicalResourceId: 'IntakeRejectedExpiry',
      },
    ]);
  });

  it('answers FAILED with the reason when the rule cannot be set, so the deploy fails instead of hanging', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [OTHER] });
    await handler(request('Update', { BucketName: 'prod-radiomics-intake', ExpireRejectedAfterDays: '0' }), {} as Context);
    expect(responses).toEqual([
      expect.objectContaining({
        Status: 'FAILED',
        Reason: 'RangeError: the expiry of rejected objects must be a whole number of days, at least 1',
      }),
    ]);
  });

  it('on Delete removes only its rule, and answers SUCCESS even when the bucket cannot be reached', async () => {
    s3.on(GetBucketLifecycleConfigurationCommand).resolves({ Rules: [OTHER, rejectedExpiryRule(7)] });
    s3.on(PutBucketLifecycleConfigurationCommand).resolves({});
    await handler(request('Delete', { BucketName: 'prod-radiomics-intake', ExpireRejectedAfterDays: '7' }), {} as Context);
    expect(s3.commandCalls(PutBucketLifecycleConfigurationCommand)[0].args[0].input.LifecycleConfiguration).toEqual({ Rules: [OTHER] });
    s3.reset();
    s3.on(GetBucketLifecycleConfigurationCommand).rejects(new Error('AccessDenied'));
    await handler(request('Delete', { BucketName: 'gone', ExpireRejectedAfterDays: '7' }), {} as Context);
    expect(responses.map((r) => r.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });
});
