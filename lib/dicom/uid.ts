/**
 * DICOM UIDs (PS3.5 §9.1): numeric components separated by `.`, no leading zero in a component of more than
 * one digit, at most 64 characters. Only UIDs that pass go into object keys, paths and RetrieveURLs.
 */
const UID_SYNTAX = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

export const MAX_UID_LENGTH = 64;

export function isDicomUid(value: string | undefined): value is string {
  return value !== undefined && value.length <= MAX_UID_LENGTH && UID_SYNTAX.test(value);
}
