/** What each refusal reason code means, for the hospital reading GET /pacs/refusals (fixed text: nothing from the request). */
const TEXT: Record<string, string> = {
  too_large: 'the instance or request is larger than the hook accepts; send it through POST /uploads',
  request_too_large: 'the request passed the byte cap while streaming; send fewer instances per request, or use POST /uploads',
  part_too_large: 'a multipart part is larger than the instance cap',
  too_many_parts: 'the STOW-RS request holds more instances than the hook accepts in one request',
  zero_parts: 'the STOW-RS body holds no instance (Orthanc sends this when a failed job is resubmitted)',
  bad_study_uid: 'the study in the STOW-RS path is not a DICOM UID',
  study_mismatch: 'the instance belongs to another study than the STOW-RS path names',
  bad_uid: 'the StudyInstanceUID or SeriesInstanceUID is not a DICOM UID',
  bad_sop_instance_uid: 'the meta header has no valid MediaStorageSOPInstanceUID',
  not_dicom: 'the body is not DICOM Part 10',
  bad_dicom_meta: 'the DICOM meta header is missing or malformed',
  truncated_dicom: 'the DICOM instance is truncated',
  dicom_no_pixel_data: 'the DICOM instance has no pixel data',
  dicom_unsupported_sop_class: 'only Ultrasound Multi-frame images are accepted',
  dicom_unsupported_transfer_syntax: 'only JPEG Baseline and uncompressed little endian are accepted',
  length_mismatch: 'the instance is shorter or longer than its declared length',
  wrong_part_type: 'a multipart part is not application/dicom',
  unsupported_media_type: 'STOW-RS needs Content-Type multipart/related; type="application/dicom"',
  truncated_body: 'the body ends before the closing multipart delimiter',
  bad_json: 'the /uploads body is not JSON',
  unexpected_field: 'the /uploads body has fields other than studyUid, sopUid, size and sha256 or md5',
  bad_upload_request: 'the /uploads body is not {studyUid, sopUid, size, sha256 | md5}',
};

export const refusalText = (reason: string): string => TEXT[reason] ?? 'the request was refused';
