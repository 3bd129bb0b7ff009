/**
 * Local S3: s3rver (an S3 API emulator on the file system) with ObjectCreated event delivery.
 * Emulates: buckets, objects, multipart, tagging, presigned URLs, event notifications.
 * Does not emulate: IAM, versioning, real S3's delivery guarantees. s3rver sends event keys unencoded,
 * so the bridge re-encodes them the way real S3 does (URL-encoded, `+` for spaces) before delivery.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

export interface LocalS3 {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

/** Encodes a key as real S3 does in event notifications. */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export async function startLocalS3(options: {
  buckets: string[];
  port?: number;
  directory?: string;
  onObjectCreated?: (event: { Records: unknown[] }) => void;
}): Promise<LocalS3> {
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const address = (await server.run()) as AddressInfo;
  if (options.onObjectCreated) {
    const deliver = options.onObjectCreated;
    server.on('event', (event: { Records: Array<{ eventName: string; s3: { object: { key: string } } }> }) => {
      const record = event.Records[0];
      if (!record?.eventName.startsWith('ObjectCreated:')) return;
      record.s3.object.key = encodeS3EventKey(record.s3.object.key);
      deliver(event);
    });
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async close() {
      await server.close();
      if (!options.directory) rmSync(directory, { recursive: true, force: true });
    },
  };
}
