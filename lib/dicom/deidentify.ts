/**
 * De-identification per DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile, on a dcmjs
 * naturalized data set (pixel data untouched here; see pixels.ts for the Clean Pixel Data step):
 *   - dummy or empty: PatientName (dummy), PatientID (a keyed pseudonym, so loops of one patient still group),
 *     PatientBirthDate, PatientSex, AccessionNumber, ReferringPhysicianName, StudyDate, StudyTime, StudyID (empty);
 *   - removed: other patient ids and names, age, size, weight, address and the like, institution, station,
 *     physician and operator names, descriptions, comments, other dates and times, private tags, overlays,
 *     references to other instances; and, as a backstop, every remaining person name (PN) at any depth;
 *   - new UIDs for Study, Series, SOP Instance and Frame of Reference: `2.25.<HMAC of the old UID>`, so the same
 *     input UID always maps to the same output UID under one key (consistent across a study's instances);
 *   - then PatientIdentityRemoved (0012,0062) = YES, DeidentificationMethod, and
 *     DeidentificationMethodCodeSequence 113100 (+ 113101 Clean Pixel Data when the pixels were cleaned).
 */
import { createHmac } from 'node:crypto';

export type Dataset = Record<string, unknown>;

const DUMMY: Record<string, string> = { PatientName: 'ANONYMOUS' };
const EMPTY = ['PatientBirthDate', 'PatientSex', 'AccessionNumber', 'ReferringPhysicianName', 'StudyDate', 'StudyTime', 'StudyID'];
export const REMOVED = [
  'OtherPatientIDs',
  'OtherPatientNames',
  'OtherPatientIDsSequence',
  'PatientBirthName',
  'PatientBirthTime',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'PatientAddress',
  'PatientTelephoneNumbers',
  'PatientMotherBirthName',
  'MilitaryRank',
  'BranchOfService',
  'EthnicGroup',
  'Occupation',
  'AdditionalPatientHistory',
  'PatientComments',
  'MedicalRecordLocator',
  'PatientInsurancePlanCodeSequence',
  'PatientReligiousPreference',
  'CountryOfResidence',
  'RegionOfResidence',
  'PregnancyStatus',
  'MedicalAlerts',
  'Allergies',
  'InstitutionName',
  'InstitutionAddress',
  'InstitutionalDepartmentName',
  'InstitutionCodeSequence',
  'StationName',
  'PerformingPhysicianName',
  'PerformingPhysicianIdentificationSequence',
  'NameOfPhysiciansReadingStudy',
  'PhysiciansOfRecord',
  'OperatorsName',
  'OperatorIdentificationSequence',
  'RequestingPhysician',
  'ReferringPhysicianAddress',
  'ReferringPhysicianTelephoneNumbers',
  'ReferringPhysicianIdentificationSequence',
  'RequestAttributesSequence',
  'ScheduledPerformingPhysicianName',
  'StudyDescription',
  'SeriesDescription',
  'ImageComments',
  'DerivationDescription',
  'AdmittingDiagnosesDescription',
  'RequestedProcedureDescription',
  'PerformedProcedureStepDescription',
  'PerformedProcedureStepID',
  'PerformedProcedureStepStartDate',
  'PerformedProcedureStepStartTime',
  'ProtocolName',
  'DeviceSerialNumber',
  'PlateID',
  'DetectorID',
  'GantryID',
  'SeriesDate',
  'SeriesTime',
  'AcquisitionDate',
  'AcquisitionTime',
  'AcquisitionDateTime',
  'ContentDate',
  'ContentTime',
  'InstanceCreationDate',
  'InstanceCreationTime',
  'InstanceCreatorUID',
  'OverlayDate',
  'OverlayTime',
  'CurveDate',
  'CurveTime',
  'ReferencedStudySequence',
  'ReferencedPatientSequence',
  'ReferencedPerformedProcedureStepSequence',
  'ReferencedImageSequence',
  'SourceImageSequence',
  'ReferencedSeriesSequence',
  'ProcedureCodeSequence',
  'IssuerOfPatientID',
  'TextComments',
  'TextString',
  'ContentCreatorName',
  'VerifyingObserverName',
  'PersonName',
  'IconImageSequence',
  'TimezoneOffsetFromUTC',
];
const NEW_UIDS = ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'FrameOfReferenceUID'];

export const CODE_BASIC_PROFILE = {
  CodeValue: '113100',
  CodingSchemeDesignator: 'DCM',
  CodeMeaning: 'Basic Application Confidentiality Profile',
};
export const CODE_CLEAN_PIXELS = { CodeValue: '113101', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Clean Pixel Data Option' };

/** `2.25.<decimal of 128 bits of HMAC-SHA256(key, uid)>`: deterministic per key, at most 44 characters. */
export function pseudonymousUid(key: Uint8Array, uid: string): string {
  const hex = createHmac('sha256', key).update(`uid:${uid}`).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

export function pseudonymousPatientId(key: Uint8Array, patientId: string): string {
  return `ANON${createHmac('sha256', key).update(`patient:${patientId}`).digest('hex').slice(0, 16).toUpperCase()}`;
}

const isPrivateOrOverlayKey = (key: string) =>
  /^[0-9A-Fa-f]{8}$/.test(key) &&
  (parseInt(key.slice(0, 4), 16) % 2 === 1 || /^60[0-9A-Fa-f]{2}$/.test(key.slice(0, 4)) || /^50[0-9A-Fa-f]{2}$/.test(key.slice(0, 4)));

/** A de-identified copy of `dataset` (naturalized); `pixelsCleaned` adds the Clean Pixel Data code. */
export function deidentifyDataset(dataset: Dataset, options: { uidKey: Uint8Array; pixelsCleaned: boolean }): Dataset {
  const out: Dataset = { ...dataset };
  const vrMap: Record<string, string> = { ...(dataset._vrMap ?? {}) };
  for (const key of Object.keys(out)) {
    if (key === '_vrMap' || key === '_meta') continue;
    if (REMOVED.includes(key) || isPrivateOrOverlayKey(key) || key.startsWith('Overlay') || key.startsWith('Curve')) {
      delete out[key];
      delete vrMap[key];
    }
  }
  stripNames(out);
  for (const [key, value] of Object.entries(DUMMY)) out[key] = value;
  if (dataset.PatientID !== undefined) out.PatientID = pseudonymousPatientId(options.uidKey, String(dataset.PatientID ?? ''));
  else out.PatientID = '';
  for (const key of EMPTY) out[key] = '';
  for (const key of NEW_UIDS) {
    if (typeof dataset[key] === 'string' && dataset[key]) out[key] = pseudonymousUid(options.uidKey, dataset[key]);
  }
  out.PatientIdentityRemoved = 'YES';
  out.DeidentificationMethod = options.pixelsCleaned ? 'PS3.15 E Basic Profile; Clean Pixel Data' : 'PS3.15 E Basic Profile';
  out.DeidentificationMethodCodeSequence = options.pixelsCleaned
    ? [{ ...CODE_BASIC_PROFILE }, { ...CODE_CLEAN_PIXELS }]
    : [{ ...CODE_BASIC_PROFILE }];
  out.LongitudinalTemporalInformationModified = 'REMOVED';
  if (options.pixelsCleaned) out.BurnedInAnnotation = 'NO';
  out._vrMap = vrMap;
  return out;
}

/** Removes every person-name value the lists missed, at any depth (the dcmjs `_vrMap` is only kept for binary VRs, so PN is known by keyword). */
function stripNames(dataset: Dataset): void {
  for (const [key, value] of Object.entries(dataset)) {
    if (key === '_vrMap') continue;
    if (
      /(Name|Names)$/.test(key) &&
      key !== 'PatientName' &&
      !/^(CodeMeaning|.*ModelName|ManufacturerModelName|SoftwareVersions|.*TypeName)$/.test(key) &&
      isNameLike(key)
    ) {
      delete dataset[key];
      continue;
    }
    if (Array.isArray(value))
      for (const item of value)
        if (item && typeof item === 'object' && !(item instanceof ArrayBuffer) && !ArrayBuffer.isView(item)) stripNames(item as Dataset);
  }
}

const isNameLike = (key: string) =>
  /Physician|Operator|Patient|Person|Performing|Referring|Requesting|Observer|Author|Creator|Reading|Responsible|Contact|Name(s)?$/.test(
    key,
  ) && !/Station|Institution|Manufacturer|Code|Scheme|Implementation|Device|Application|Software/.test(key);
