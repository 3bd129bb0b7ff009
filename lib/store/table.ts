/**
 * The single DynamoDB table: key schema, secondary indexes and item keys.
 * dynalite has no TransactWriteItems, so every invariant rests on conditional single-item writes.
 *
 * Items:
 *   VIDEO#<videoId> / VIDEO            one video (never its original name)     byBatch: BATCH#<batchId> / VIDEO#<videoId>
 *   BATCH#<batchId> / BATCH            one batch = one key = one job           active:  BATCH#ACTIVE / <createdAt>#<batchId> (sparse)
 *   TENANT#<tenant> / OPEN_BATCH       the tenant's open batch pointer
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

export const INDEX = { byBatch: 'byBatch', active: 'active', byTenant: 'byTenant' } as const;

export const keys = {
  video: (videoId: string) => ({ pk: `VIDEO#${videoId}`, sk: 'VIDEO' }),
  batch: (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: 'BATCH' }),
  openBatch: (tenant: string) => ({ pk: `TENANT#${tenant}`, sk: 'OPEN_BATCH' }),
};

/** The item without its key and index attributes. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ...rest } = item;
  void pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk;
  return rest as T;
}

export const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';

const indexKeys = (name: string, pk: string, sk: string) => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' as const },
    { AttributeName: sk, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as const },
});

/** Creates the table with its indexes if it does not exist (local stack and tests; CloudFormation in the cloud). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'].map((name) => ({
          AttributeName: name,
          AttributeType: 'S' as const,
        })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          indexKeys(INDEX.byBatch, 'gsi1pk', 'gsi1sk'),
          indexKeys(INDEX.active, 'gsi2pk', 'gsi2sk'),
          indexKeys(INDEX.byTenant, 'gsi3pk', 'gsi3sk'),
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}
