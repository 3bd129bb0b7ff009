/**
 * Where the PACS hook puts a DICOM instance in the intake bucket: `<tenant>/dicom/<SOPInstanceUID>.dcm`, so a
 * re-send overwrites the same object. The status API finds the instance's video by the same key, and names an
 * instance's video by its SOPInstanceUID. No I/O, so readers of the rule do not pull in the S3 client.
 */
import { isDicomUid } from '#lib/dicom/uid.js';

export function dicomKeyOf(tenant: string, sopInstanceUid: string): string {
  return `${tenant}/dicom/${sopInstanceUid}.dcm`;
}

/** The SOPInstanceUID a key of `dicomKeyOf` names, or undefined for any other key. */
export function sopInstanceUidOf(tenant: string, key: string): string | undefined {
  const prefix = `${tenant}/dicom/`;
  const uid = key.startsWith(prefix) && key.endsWith('.dcm') ? key.slice(prefix.length, -'.dcm'.length) : undefined;
  return isDicomUid(uid) ? uid : undefined;
}
