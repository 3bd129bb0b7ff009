/**
 * Counts the requests a unit makes through the clients it is given: every request-making call of a Swift store
 * (a client's own retries inside one call are not counted again), every `send` of a DynamoDB document client, and
 * every S3 command. Used by the intake's tests and its benchmark; the clients are wrapped, never changed.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SwiftStore } from '#lib/swift/index.js';

export interface RequestCounts {
  swift: number;
  table: number;
  s3: number;
  /** Swift calls by method, e.g. `putObject`. */
  swiftCalls: Record<string, number>;
  /** Table requests by command, e.g. `UpdateCommand`. */
  tableCalls: Record<string, number>;
}

export const newRequestCounts = (): RequestCounts => ({ swift: 0, table: 0, s3: 0, swiftCalls: {}, tableCalls: {} });

/** Calls that make no request of their own. */
const LOCAL_SWIFT_CALLS = new Set(['storageUrl', 'objectUrl', 'tempUrl', 'listAllObjects', 'currentSession']);

export function countedSwift<T extends SwiftStore>(swift: T, counts: RequestCounts, onCall?: (method: string, args: unknown[]) => void): T {
  return new Proxy(swift, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = String(property);
      if (LOCAL_SWIFT_CALLS.has(method)) return value.bind(target);
      return (...args: unknown[]) => {
        counts.swift++;
        counts.swiftCalls[method] = (counts.swiftCalls[method] ?? 0) + 1;
        onCall?.(method, args);
        return value.apply(target, args);
      };
    },
  });
}

export function countedDocumentClient(doc: DynamoDBDocumentClient, counts: RequestCounts): DynamoDBDocumentClient {
  return new Proxy(doc, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'send' || typeof value !== 'function') return value;
      return (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        counts.table++;
        const name = command.constructor.name;
        counts.tableCalls[name] = (counts.tableCalls[name] ?? 0) + 1;
        return value.call(target, command, ...rest);
      };
    },
  });
}

export function countS3Requests(s3: S3Client, counts: RequestCounts): void {
  s3.middlewareStack.add(
    (next) => (input) => {
      counts.s3++;
      return next(input);
    },
    { step: 'initialize', name: 'countS3Requests' },
  );
}

/** `after − before`, per client. */
export function requestsBetween(before: RequestCounts, after: RequestCounts): { swift: number; table: number; s3: number } {
  return { swift: after.swift - before.swift, table: after.table - before.table, s3: after.s3 - before.s3 };
}

export const snapshotCounts = (counts: RequestCounts): RequestCounts => ({
  ...counts,
  swiftCalls: { ...counts.swiftCalls },
  tableCalls: { ...counts.tableCalls },
});
