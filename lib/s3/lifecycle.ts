/**
 * The intake bucket's lifecycle rule that expires refused patient data: objects the intake tagged
 * `radiomics-status=rejected` (lib/s3/bucket.ts) are deleted after N days, and so are their noncurrent versions in a
 * versioned bucket. The bucket exists outside the stack, so the rule is merged into whatever lifecycle it already
 * has (other rules are kept) and removed again on its own, by id.
 */
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
  S3ServiceException,
  type LifecycleRule,
} from '@aws-sdk/client-s3';

export const REJECTED_EXPIRY_RULE_ID = 'radiomics-expire-rejected';

export function rejectedExpiryRule(days: number): LifecycleRule {
  if (!Number.isSafeInteger(days) || days < 1)
    throw new RangeError('the expiry of rejected objects must be a whole number of days, at least 1');
  return {
    ID: REJECTED_EXPIRY_RULE_ID,
    Status: 'Enabled',
    Filter: { Tag: { Key: 'radiomics-status', Value: 'rejected' } },
    Expiration: { Days: days },
    NoncurrentVersionExpiration: { NoncurrentDays: days },
  };
}

/** `rules` with the rejected-objects rule replaced by `own`, or removed when `own` is undefined; other rules untouched. */
export function withRejectedExpiry(rules: LifecycleRule[], own: LifecycleRule | undefined): LifecycleRule[] {
  const others = rules.filter((rule) => rule.ID !== REJECTED_EXPIRY_RULE_ID);
  return own === undefined ? others : [...others, own];
}

export class BucketLifecycle {
  constructor(private readonly s3: S3Client) {}

  /** In Lambda: the function's own region and role. */
  static inThisRegion(): BucketLifecycle {
    return new BucketLifecycle(new S3Client({}));
  }

  /** Sets (days) or removes (undefined) the rejected-objects rule on `bucket`. */
  async setRejectedExpiry(bucket: string, days: number | undefined): Promise<void> {
    const own = days === undefined ? undefined : rejectedExpiryRule(days);
    const rules = withRejectedExpiry(await this.rules(bucket), own);
    if (rules.length === 0) {
      await this.s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
      return;
    }
    await this.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
  }

  private async rules(bucket: string): Promise<LifecycleRule[]> {
    try {
      return (await this.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NoSuchLifecycleConfiguration') return [];
      throw error;
    }
  }
}
