/**
 * CloudFormation custom resource `Custom::RejectedExpiry` (serverless.yml): keeps the intake bucket's lifecycle
 * rule that expires objects tagged `radiomics-status=rejected` after `ExpireRejectedAfterDays` (lib/s3/lifecycle.ts).
 * Create and Update set the rule; Delete removes it, leaving the bucket's other rules as they were. A Delete that
 * cannot reach the bucket still succeeds (the rule left behind only expires refused data), so a rollback never sticks.
 */
import { answerCustomResource, type CustomResourceRequest } from '#lib/aws/cfn-custom-resource.js';
import { errorFields } from '#lib/log.js';
import { eventFunction } from '#lib/middleware/event-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { BucketLifecycle } from '#lib/s3/lifecycle.js';

const tools = functionTools('bucket-lifecycle');
const { log } = tools;
let lifecycle: BucketLifecycle | undefined;

export const handler = eventFunction<CustomResourceRequest, void>(tools, async (request) => {
  lifecycle ??= BucketLifecycle.inThisRegion();
  const { BucketName: bucket, ExpireRejectedAfterDays: days } = request.ResourceProperties;
  const status = await answerCustomResource(request, `${String(bucket)}/rejected-expiry`, async () => {
    if (typeof bucket !== 'string' || bucket === '') throw new Error('BucketName is required');
    if (request.RequestType !== 'Delete') return lifecycle!.setRejectedExpiry(bucket, Number(days));
    await lifecycle!.setRejectedExpiry(bucket, undefined).catch((error: unknown) => log.warn('rule not removed', errorFields(error)));
  });
  log.info('rejected-objects expiry', { requestType: request.RequestType, status, days: Number(days) });
});
