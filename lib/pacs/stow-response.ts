/**
 * The STOW-RS answer (PS3.18 §10.5.3), `application/dicom+json`:
 *   ReferencedSOPSequence (0008,1199): one item per stored instance — SOPClassUID, SOPInstanceUID, RetrieveURL;
 *   FailedSOPSequence (0008,1198): one item per rejected part — SOPClassUID, SOPInstanceUID, FailureReason (0008,1197).
 * Status: 200 all stored, 202 some failed, 409 none stored, 400 zero parts (or a malformed body), 413 too large,
 * 415 a wrong media type. Orthanc fails its job unless every instance it sent is in ReferencedSOPSequence.
 */
export interface StoredInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
}

export interface FailedInstance {
  sopClassUid?: string;
  sopInstanceUid?: string;
  failureReason: number;
}

/** FailureReason codes (PS3.18 Table I.2-1 / PS3.4 Annex GG). */
export const FAILURE = {
  processingFailure: 0x0110,
  sopClassNotSupported: 0x0122,
  outOfResources: 0xa700,
  doesNotMatchSopClass: 0xa900,
  cannotUnderstand: 0xc000,
  transferSyntaxNotSupported: 0xc122,
} as const;

/** Maps a RejectedInput reason to a STOW FailureReason. */
export function failureReasonOf(reason: string): number {
  switch (reason) {
    case 'dicom_unsupported_transfer_syntax':
      return FAILURE.transferSyntaxNotSupported;
    case 'dicom_unsupported_sop_class':
      return FAILURE.sopClassNotSupported;
    case 'dicom_no_pixel_data':
      return FAILURE.doesNotMatchSopClass;
    case 'too_large':
      return FAILURE.outOfResources;
    case 'store_failed':
      return FAILURE.processingFailure;
    // PS3.18 Table I.2-2 has no code of its own for an instance of another study than the request's target;
    // Processing failure is the one Orthanc's STOW-RS server answers for it (with 409 Conflict)
    case 'study_mismatch':
      return FAILURE.processingFailure;
    default:
      return FAILURE.cannotUnderstand;
  }
}

type JsonAttribute = { vr: string; Value?: unknown[] };

const ui = (value: string | undefined): JsonAttribute => (value ? { vr: 'UI', Value: [value] } : { vr: 'UI' });

export function retrieveUrlOf(base: string, instance: StoredInstance): string {
  const study = instance.studyInstanceUid ?? 'unknown';
  const series = instance.seriesInstanceUid ?? 'unknown';
  return `${base.replace(/\/$/, '')}/studies/${study}/series/${series}/instances/${instance.sopInstanceUid}`;
}

export function stowStatus(stored: number, failed: number): 200 | 202 | 400 | 409 {
  if (stored + failed === 0) return 400;
  if (failed === 0) return 200;
  return stored > 0 ? 202 : 409;
}

/** UIDs in the answer were validated (PS3.5) before they got here: the probe refuses instances with other ones. */
export function stowResponseBody(
  retrieveBase: string,
  stored: StoredInstance[],
  failed: FailedInstance[],
  targetStudy?: string,
): Record<string, JsonAttribute> {
  const body: Record<string, JsonAttribute> = {};
  const studies = new Set(stored.map((s) => s.studyInstanceUid).filter(Boolean));
  const study = targetStudy ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (study) body['00081190'] = { vr: 'UR', Value: [`${retrieveBase.replace(/\/$/, '')}/studies/${study}`] };
  if (failed.length > 0) {
    body['00081198'] = {
      vr: 'SQ',
      Value: failed.map((f) => ({
        '00081150': ui(f.sopClassUid),
        '00081155': ui(f.sopInstanceUid),
        '00081197': { vr: 'US', Value: [f.failureReason] },
      })),
    };
  }
  body['00081199'] = {
    vr: 'SQ',
    Value: stored.map((s) => ({
      '00081150': ui(s.sopClassUid),
      '00081155': ui(s.sopInstanceUid),
      '00081190': { vr: 'UR', Value: [retrieveUrlOf(retrieveBase, s)] },
    })),
  };
  if (stored.length === 0) delete body['00081199'].Value;
  return body;
}
