/** The slice of dcmjs (no bundled types) that lib/dicom uses. */
declare module 'dcmjs' {
  type Dict = Record<string, { vr: string; Value?: unknown[]; InlineBinary?: string }>;
  export interface DicomDict {
    meta: Dict;
    dict: Dict;
    write(options?: { fragmentMultiframe?: boolean; allowInvalidVRLength?: boolean }): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: { ignoreErrors?: boolean; untilTag?: string; includeUntilTagValue?: boolean }): DicomDict;
      };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Dict): Record<string, unknown>;
        denaturalizeDataset(dataset: Record<string, unknown>): Dict;
        uid(): string;
      };
      DicomDict: new (meta: Dict) => DicomDict;
    };
    /** loglevel: the root logger and its named children (e.g. `validation.dcmjs`). */
    log: { setLevel(level: 'silent'): void; getLoggers(): Record<string, { setLevel(level: 'silent'): void }> };
  };
  export default dcmjs;
}
