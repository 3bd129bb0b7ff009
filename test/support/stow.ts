/** STOW-RS request bodies exactly as Orthanc sends them (../shared/docs/pacs.md), for tests and the bench. */
import { randomUUID } from 'node:crypto';

export const orthancBoundary = () => `${randomUUID()}-${randomUUID()}`;

export const stowContentType = (boundary: string) => `multipart/related; type="application/dicom"; boundary=${boundary}`;

export function partHead(boundary: string, bytes: number | undefined, first: boolean): Buffer {
  const length = bytes === undefined ? '' : `Content-Length: ${bytes}\r\n`;
  return Buffer.from(`${first ? '' : '\r\n'}--${boundary}\r\nContent-Type: application/dicom\r\n${length}\r\n`, 'latin1');
}

export const closing = (boundary: string, anyParts: boolean) => Buffer.from(`${anyParts ? '\r\n' : ''}--${boundary}--`, 'latin1');

/** No preamble, per-part Content-Type and Content-Length, no CRLF after the closing delimiter. */
export function orthancStowBody(boundary: string, instances: Buffer[]): Buffer {
  const pieces: Buffer[] = [];
  for (const [i, instance] of instances.entries()) pieces.push(partHead(boundary, instance.length, i === 0), instance);
  pieces.push(closing(boundary, instances.length > 0));
  return Buffer.concat(pieces);
}
