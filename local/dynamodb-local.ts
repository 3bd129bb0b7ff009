/**
 * Local DynamoDB: dynalite (the DynamoDB API on LevelDB, in memory or on disk).
 * Emulates: tables, GSIs, conditional writes, queries, pagination. Does not emulate TransactWriteItems,
 * so the project uses only conditional single-item writes.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable } from '#lib/store/table.js';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  close(): Promise<void>;
}

export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function dynamoClients(endpoint: string, region = 'eu-west-1') {
  const client = new DynamoDBClient({ endpoint, region, credentials: LOCAL_AWS_CREDENTIALS });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc };
}

export async function startLocalDynamo(options: { tableName: string; port?: number; path?: string }): Promise<LocalDynamo> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.path });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { client, doc } = dynamoClients(endpoint);
  await ensureTable(client, options.tableName);
  return {
    endpoint,
    client,
    doc,
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
