/**
 * The single table: its schema and indexes (keys in lib/store/keys.ts), and what every store shares.
 * dynalite has no TransactWriteItems, so every invariant rests on conditional single-item writes.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { INDEX, KEY_ATTRIBUTES } from './keys.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** The item without its key and index attributes. */
export function stripKeys<T>(item: Record<string, unknown>): T {
  const rest = { ...item };
  for (const name of KEY_ATTRIBUTES) delete rest[name];
  return rest as T;
}

export const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';

const indexSchema = (name: string, pk: string, sk: string) => ({
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
        AttributeDefinitions: KEY_ATTRIBUTES.map((name) => ({
          AttributeName: name,
          AttributeType: 'S' as const,
        })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          indexSchema(INDEX.byBatch, 'gsi1pk', 'gsi1sk'),
          indexSchema(INDEX.active, 'gsi2pk', 'gsi2sk'),
          indexSchema(INDEX.byTenant, 'gsi3pk', 'gsi3sk'),
          indexSchema(INDEX.bySource, 'gsi4pk', 'gsi4sk'),
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}
