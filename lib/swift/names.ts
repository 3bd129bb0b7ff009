/**
 * Swift names in URLs. Each path segment is percent-encoded on its own (an unencoded `#` would silently cut the
 * name, `?` would start a query, `%` would be decoded). `/` inside an object name stays a separator, as Swift expects.
 * Names with `.` or `..` segments are refused: every URL parser (fetch included) would resolve them away.
 */
import { RejectedInput } from '#lib/errors.js';

const MAX_CONTAINER_BYTES = 256;
const MAX_OBJECT_BYTES = 1024;

function encodeSegment(segment: string): string {
  try {
    return encodeURIComponent(segment);
  } catch {
    throw new RejectedInput('invalid_swift_name', 'a Swift name contains an unpaired surrogate');
  }
}

export function encodeContainer(container: string): string {
  if (!container || container.includes('/')) {
    throw new RejectedInput('invalid_swift_name', 'a container name must be non-empty and contain no "/"');
  }
  if (container === '.' || container === '..') throw new RejectedInput('invalid_swift_name', 'a container cannot be named "." or ".."');
  if (Buffer.byteLength(container) > MAX_CONTAINER_BYTES) {
    throw new RejectedInput('invalid_swift_name', `a container name is at most ${MAX_CONTAINER_BYTES} bytes`);
  }
  return encodeSegment(container);
}

export function encodeObjectName(name: string): string {
  if (!name) throw new RejectedInput('invalid_swift_name', 'an object name must be non-empty');
  if (Buffer.byteLength(name) > MAX_OBJECT_BYTES) {
    throw new RejectedInput('invalid_swift_name', `an object name is at most ${MAX_OBJECT_BYTES} bytes`);
  }
  const segments = name.split('/');
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new RejectedInput('invalid_swift_name', 'an object name cannot have "." or ".." path segments');
  }
  return segments.map(encodeSegment).join('/');
}

/** `/<container>/<object>` encoded, relative to the storage URL. */
export function objectPath(container: string, name: string): string {
  return `/${encodeContainer(container)}/${encodeObjectName(name)}`;
}

export function containerPath(container: string): string {
  return `/${encodeContainer(container)}`;
}
