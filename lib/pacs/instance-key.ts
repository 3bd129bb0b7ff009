/**
 * Where the PACS hook puts a DICOM instance in the intake bucket: `<tenant>/dicom/<SOPInstanceUID>.dcm`, so a
 * re-send overwrites the same object. The status API finds the instance's video by the same key. No I/O, so
 * readers of the rule do not pull in the S3 client.
 */
export function dicomKeyOf(tenant: string, sopInstanceUid: string): string {
  return `${tenant}/dicom/${sopInstanceUid}.dcm`;
}
