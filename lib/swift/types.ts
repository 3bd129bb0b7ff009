/** The Swift client's public types: `SwiftStore` (what the rest of the code depends on), its options and results. */
import type { Readable } from 'node:stream';
import type { Logger } from '#lib/log.js';
import type { FetchFn, SwiftAuthenticator, SwiftSession } from './auth.js';
import type { TempUrlOptions } from './tempurl.js';

export type PutBody = Buffer | Uint8Array | string | Readable | ReadableStream<Uint8Array>;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's idle timeout for this call. */
  timeoutMs?: number;
}

export interface RetryPolicy {
  /** Total tries, including the first (default 4). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** [0, 1) source of jitter; injectable for tests. */
  random: () => number;
}

export interface SwiftClientOptions {
  auth: SwiftAuthenticator;
  /** Injectable fetch (e.g. to count requests); default globalThis.fetch. */
  fetch?: FetchFn;
  retry?: Partial<RetryPolicy>;
  /** Idle timeout per attempt, ms (default 60 000). */
  timeoutMs?: number;
  /** Refresh the token this long before it expires (default 60 000 ms). */
  refreshBeforeExpiryMs?: number;
  /** A session to start with (e.g. cached elsewhere). It is replaced on 401 like any other. */
  session?: SwiftSession;
  logger?: Logger;
}

export interface CreateContainerOptions extends CallOptions {
  /** `X-Container-Read: .r:*`: anonymous GET of objects (not listings). */
  publicRead?: boolean;
  /** An explicit read ACL; wins over publicRead. */
  readAcl?: string;
  headers?: Record<string, string>;
}

export interface ContainerInfo {
  objectCount: number;
  bytesUsed: number;
  readAcl: string | null;
  headers: Headers;
}

export interface ListOptions extends CallOptions {
  prefix?: string;
  marker?: string;
  endMarker?: string;
  delimiter?: string;
  /** Page size (Swift's maximum and default: 10 000). */
  limit?: number;
}

export interface ObjectEntry {
  name: string;
  bytes: number;
  /** md5 hex (for an SLO manifest: the md5 of the manifest's own JSON as stored). */
  hash: string;
  contentType: string;
  lastModified: string;
}

export interface ObjectListingPage {
  objects: ObjectEntry[];
  /** Common prefixes (`subdir`) when a delimiter was given. */
  prefixes: string[];
  /** Pass as `marker` for the next page; null when this page was the last. */
  nextMarker: string | null;
}

export interface PutOptions extends CallOptions {
  /** Known length of a stream body: sent as Content-Length (else chunked). Ignored for Buffer/string bodies. */
  contentLength?: number;
  contentType?: string;
  /** md5 hex Swift must verify (422 on mismatch). Computed automatically for Buffer/string bodies. */
  etag?: string;
  /** `X-Object-Meta-*` values. Keep them small: the device's ext4 holds only ~3.5 KB of xattrs per object. */
  metadata?: Record<string, string>;
  /** `X-Delete-After` seconds. */
  deleteAfterSec?: number;
  headers?: Record<string, string>;
}

export interface PutResult {
  /** md5 hex as returned by Swift (for an SLO: the SLO etag). */
  etag: string;
}

export interface ObjectInfo {
  contentLength: number;
  etag: string;
  contentType: string;
  lastModified: Date | null;
  metadata: Record<string, string>;
  staticLargeObject: boolean;
  headers: Headers;
}

export interface GetOptions extends CallOptions {
  /** Inclusive byte range; `end` omitted means to the end. */
  range?: { start: number; end?: number };
}

export interface ObjectDownload extends ObjectInfo {
  status: number;
  /** The object bytes. Read it or cancel it: the idle timeout keeps watching until it ends. */
  body: ReadableStream<Uint8Array>;
}

export interface SloSegment {
  /** `/<container>/<object>`, NOT URL-encoded (Swift encodes it). */
  path: string;
  /** md5 hex of the segment, or null to skip the check. */
  etag: string | null;
  size_bytes: number | null;
  /** Optional byte range of the segment, e.g. `0-99`. */
  range?: string;
}

export interface DeleteOptions extends CallOptions {
  /** Resolve instead of throwing when the object/container does not exist. */
  ignoreMissing?: boolean;
}

/** What the rest of the code depends on; SwiftClient implements it. */
export interface SwiftStore {
  storageUrl(options?: CallOptions): Promise<string>;
  createContainer(container: string, options?: CreateContainerOptions): Promise<{ created: boolean }>;
  setContainerReadAcl(container: string, acl: string | null, options?: CallOptions): Promise<void>;
  headContainer(container: string, options?: CallOptions): Promise<ContainerInfo | null>;
  deleteContainer(container: string, options?: DeleteOptions): Promise<void>;
  listObjects(container: string, options?: ListOptions): Promise<ObjectListingPage>;
  listAllObjects(container: string, options?: ListOptions): AsyncIterable<ObjectEntry>;
  putObject(container: string, name: string, body: PutBody, options?: PutOptions): Promise<PutResult>;
  getObject(container: string, name: string, options?: GetOptions): Promise<ObjectDownload>;
  getObjectBytes(container: string, name: string, options?: GetOptions): Promise<Buffer>;
  headObject(container: string, name: string, options?: CallOptions): Promise<ObjectInfo | null>;
  deleteObject(container: string, name: string, options?: DeleteOptions): Promise<void>;
  putSlo(container: string, name: string, segments: SloSegment[], options?: PutOptions): Promise<PutResult>;
  deleteSlo(container: string, name: string, options?: DeleteOptions): Promise<{ deleted: number; notFound: number }>;
  setAccountTempUrlKey(key: string, options?: CallOptions & { slot?: 1 | 2 }): Promise<void>;
  setContainerTempUrlKey(container: string, key: string, options?: CallOptions & { slot?: 1 | 2 }): Promise<void>;
  tempUrl(options: TempUrlOptions & CallOptions): Promise<string>;
  objectUrl(container: string, name: string, options?: CallOptions): Promise<string>;
}
