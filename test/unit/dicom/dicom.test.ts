/** DICOM intake: the streaming probe, de-identification (exact values), transfer-syntax rules, burned-in masking, MP4 conversion. */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import dcmjs from 'dcmjs';
import { DicomProbe } from '#lib/dicom/probe.js';
import { deidentifyDataset, pseudonymousUid, CODE_BASIC_PROFILE, CODE_CLEAN_PIXELS } from '#lib/dicom/deidentify.js';
import { convertDicomToMp4, readDicom } from '#lib/dicom/convert.js';
import { annotationMask, applyMask, geometryOf, rgbFrames, FALLBACK_BAND_FRACTION } from '#lib/dicom/pixels.js';
import { RejectedInput } from '#lib/errors.js';
import { buildUncompressedLoop, dcmtkAvailable, loopValue, makeUsLoopWithDcmtk, patchAscii } from '#local/dicom-fixtures.js';

const UID_KEY = Buffer.alloc(32, 7);
const REGIONS = [
  {
    RegionSpatialFormat: 1,
    RegionDataType: 1,
    RegionFlags: 0,
    RegionLocationMinX0: 4,
    RegionLocationMinY0: 3,
    RegionLocationMaxX1: 11,
    RegionLocationMaxY1: 8,
  },
];

async function probe(file: Buffer, chunk = 97) {
  const p = new DicomProbe({ maxBytes: 1 << 30 });
  const chunks = [];
  for (let i = 0; i < file.length; i += chunk) chunks.push(file.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    p,
    new Writable({
      write(c, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return { summary: p.summary!, passed: Buffer.concat(out) };
}

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<RejectedInput> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof RejectedInput) return error;
    throw error;
  }
  throw new Error('expected a RejectedInput');
}

/** Appends `count` 10-byte (0002,0100) elements to the meta group (about 10 × count bytes) and fixes its group length. */
function withLargeMeta(file: Buffer, count: number): Buffer {
  const groupLength = file.readUInt32LE(132 + 8);
  const metaEnd = 132 + 12 + groupLength;
  const element = Buffer.alloc(10);
  element.writeUInt16LE(0x0002, 0);
  element.writeUInt16LE(0x0100, 2);
  element.write('UI', 4, 'latin1');
  element.writeUInt16LE(2, 6);
  element.write('1\0', 8, 'latin1');
  const out = Buffer.concat([file.subarray(0, metaEnd), ...Array.from({ length: count }, () => element), file.subarray(metaEnd)]);
  out.writeUInt32LE(groupLength + 10 * count, 132 + 8);
  return out;
}

const hasDcmtk = dcmtkAvailable();
let usLoop: Buffer;
beforeAll(() => {
  if (hasDcmtk) usLoop = makeUsLoopWithDcmtk({ frames: 4 });
  else process.stdout.write('dcmtk is not installed: the dcmtk-made fixture cases are skipped (apt-get install dcmtk)\n');
});

describe('DicomProbe (streaming check at the hook)', () => {
  it('reads identity and study/series UIDs and passes every byte through unchanged, in 97-byte chunks', async () => {
    const file = buildUncompressedLoop();
    const { summary, passed } = await probe(file);
    expect(summary).toEqual({
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.3.1',
      sopInstanceUid: '1.2.826.0.1.3680043.8.498.1001',
      studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
      seriesInstanceUid: '1.2.826.0.1.3680043.8.498.2',
      hasPixelData: true,
      bytes: file.length,
    });
    expect(passed.equals(file)).toBe(true);
  });

  it('walks JPEG Baseline encapsulated files made by dcmtk', async () => {
    if (!hasDcmtk) return;
    const { summary } = await probe(usLoop, 4096);
    expect(summary.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.50');
    expect(summary.hasPixelData).toBe(true);
  });

  it('not DICOM → not_dicom', async () => {
    expect((await rejection(probe(Buffer.from('%PDF-1.7\n'.repeat(40))))).reason).toBe('not_dicom');
  });

  it('no top-level PixelData → dicom_no_pixel_data, even with an icon image inside a sequence', async () => {
    const file = buildUncompressedLoop(
      {
        IconImageSequence: [
          {
            Rows: 1,
            Columns: 1,
            SamplesPerPixel: 1,
            PhotometricInterpretation: 'MONOCHROME2',
            BitsAllocated: 8,
            BitsStored: 8,
            HighBit: 7,
            PixelRepresentation: 0,
            PixelData: new Uint8Array([1, 2]).buffer,
          },
        ],
      },
      { pixels: false },
    );
    expect((await rejection(probe(file))).reason).toBe('dicom_no_pixel_data');
  });

  it('an unsupported transfer syntax → dicom_unsupported_transfer_syntax, naming it', async () => {
    if (!hasDcmtk) return;
    const error = await rejection(probe(patchAscii(usLoop, '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51')));
    expect(error.reason).toBe('dicom_unsupported_transfer_syntax');
    expect(error.message).toBe(
      'transfer syntax JPEG Extended (1.2.840.10008.1.2.4.51) is not accepted; send JPEG Baseline (1.2.840.10008.1.2.4.50) or uncompressed little endian',
    );
  });

  it('another SOP class → dicom_unsupported_sop_class', async () => {
    const file = patchAscii(buildUncompressedLoop(), '1.2.840.10008.5.1.4.1.1.3.1', '1.2.840.10008.5.1.4.1.1.7.1', 2);
    expect((await rejection(probe(file))).reason).toBe('dicom_unsupported_sop_class');
  });

  it('a 60 kB meta header of 6,000 elements fed one byte at a time is read (constant work per byte)', async () => {
    const file = withLargeMeta(buildUncompressedLoop(), 6_000);
    const p = new DicomProbe({ maxBytes: 1 << 30 });
    const bytes = async function* () {
      for (let i = 0; i < file.length; i++) {
        if (i % 1000 === 0) await new Promise(setImmediate); // lets the test's ceiling fire if the work is quadratic
        yield file.subarray(i, i + 1);
      }
    };
    const out: Buffer[] = [];
    await pipeline(
      bytes,
      p,
      new Writable({
        write(c, _e, cb) {
          out.push(c);
          cb();
        },
      }),
    );
    const [summary, passed] = [p.summary!, Buffer.concat(out)];
    expect([summary.sopInstanceUid, summary.hasPixelData]).toEqual(['1.2.826.0.1.3680043.8.498.1001', true]);
    expect(passed.equals(file)).toBe(true);
  }, 20_000);

  it('an instance of another study than the one named → study_mismatch; of the same study → stored', async () => {
    const file = buildUncompressedLoop();
    const run = (studyInstanceUid: string) =>
      pipeline(
        Readable.from([file]),
        new DicomProbe({ maxBytes: 1 << 30, studyInstanceUid }),
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      );
    expect((await rejection(run('9.9.9'))).reason).toBe('study_mismatch');
    await expect(run('1.2.826.0.1.3680043.8.498.1')).resolves.toBeUndefined();
  });

  it('a StudyInstanceUID that is not a PS3.5 UID → bad_uid (never echoed in a RetrieveURL)', async () => {
    const file = buildUncompressedLoop({ StudyInstanceUID: '../../../evil?x=' });
    expect((await rejection(probe(file))).reason).toBe('bad_uid');
  });

  it('more bytes than the cap → too_large', async () => {
    const p = new DicomProbe({ maxBytes: 500 });
    const error = await rejection(
      pipeline(
        Readable.from([buildUncompressedLoop()]),
        p,
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      ),
    );
    expect(error.reason).toBe('too_large');
  });
});

describe('de-identification (PS3.15 Annex E Basic Profile)', () => {
  const original = {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.3.1',
    SOPInstanceUID: '1.2.3.4.100',
    StudyInstanceUID: '1.2.3.4.1',
    SeriesInstanceUID: '1.2.3.4.2',
    FrameOfReferenceUID: '1.2.3.4.3',
    PatientName: 'DOE^JANE',
    PatientID: 'MRN-12345',
    PatientBirthDate: '19700101',
    PatientSex: 'F',
    PatientAge: '055Y',
    PatientWeight: 70,
    PatientAddress: '1 Main St',
    OtherPatientIDs: 'X-1',
    AccessionNumber: 'ACC9',
    ReferringPhysicianName: 'WHO^DR',
    PerformingPhysicianName: 'HOUSE^G',
    OperatorsName: 'TECH^A',
    InstitutionName: 'General Hospital',
    StationName: 'ECHO-3',
    StudyDate: '20240102',
    StudyTime: '101010',
    SeriesDate: '20240102',
    ContentDate: '20240102',
    StudyID: 'S1',
    StudyDescription: 'Echo for Jane',
    SeriesDescription: 'apical 4ch',
    ImageComments: 'called Jane',
    Modality: 'US',
    Manufacturer: 'Acme',
    Rows: 12,
    Columns: 16,
    '00091010': { vr: 'LO', Value: ['private'] },
    '60003000': { vr: 'OW', Value: [] },
    _vrMap: {},
  };

  it('sets dummy and empty values, removes the listed tags, maps the four UIDs, and says so', () => {
    const out = deidentifyDataset(original, { uidKey: UID_KEY, pixelsCleaned: true });
    expect(out).toEqual({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.3.1',
      SOPInstanceUID: pseudonymousUid(UID_KEY, '1.2.3.4.100'),
      StudyInstanceUID: pseudonymousUid(UID_KEY, '1.2.3.4.1'),
      SeriesInstanceUID: pseudonymousUid(UID_KEY, '1.2.3.4.2'),
      FrameOfReferenceUID: pseudonymousUid(UID_KEY, '1.2.3.4.3'),
      PatientName: 'ANONYMOUS',
      PatientID: out.PatientID,
      PatientBirthDate: '',
      PatientSex: '',
      AccessionNumber: '',
      ReferringPhysicianName: '',
      StudyDate: '',
      StudyTime: '',
      StudyID: '',
      Modality: 'US',
      Manufacturer: 'Acme',
      Rows: 12,
      Columns: 16,
      PatientIdentityRemoved: 'YES',
      DeidentificationMethod: 'PS3.15 E Basic Profile; Clean Pixel Data',
      DeidentificationMethodCodeSequence: [CODE_BASIC_PROFILE, CODE_CLEAN_PIXELS],
      LongitudinalTemporalInformationModified: 'REMOVED',
      BurnedInAnnotation: 'NO',
      _vrMap: {},
    });
    expect(out.PatientID).toMatch(/^ANON[0-9A-F]{16}$/);
    expect(CODE_BASIC_PROFILE.CodeValue).toBe('113100');
    expect(CODE_CLEAN_PIXELS.CodeValue).toBe('113101');
    expect(JSON.stringify(out)).not.toMatch(/Jane|DOE|MRN-12345|House|HOUSE|TECH|General|ECHO-3|ACC9|19700101|20240102/);
  });

  it('without pixel cleaning the code sequence holds 113100 only', () => {
    const out = deidentifyDataset(original, { uidKey: UID_KEY, pixelsCleaned: false });
    expect(out.DeidentificationMethodCodeSequence).toEqual([
      { CodeValue: '113100', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Basic Application Confidentiality Profile' },
    ]);
    expect(out.BurnedInAnnotation).toBeUndefined();
  });

  it('UIDs are consistent across instances under one key, different under another, and valid 2.25 UIDs', () => {
    const a = deidentifyDataset({ ...original, SOPInstanceUID: '1.2.3.4.101' }, { uidKey: UID_KEY, pixelsCleaned: false });
    const b = deidentifyDataset({ ...original, SOPInstanceUID: '1.2.3.4.102' }, { uidKey: UID_KEY, pixelsCleaned: false });
    const other = deidentifyDataset(original, { uidKey: Buffer.alloc(32, 8), pixelsCleaned: false });
    expect(a.StudyInstanceUID).toBe(b.StudyInstanceUID);
    expect(a.SeriesInstanceUID).toBe(b.SeriesInstanceUID);
    expect(a.PatientID).toBe(b.PatientID);
    expect(a.SOPInstanceUID).not.toBe(b.SOPInstanceUID);
    expect(other.StudyInstanceUID).not.toBe(a.StudyInstanceUID);
    for (const uid of [a.StudyInstanceUID, a.SOPInstanceUID]) {
      expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(String(uid).length).toBeLessThanOrEqual(64);
    }
  });

  it('the de-identified data set writes and reads back as DICOM with the same values', () => {
    const parsed = readDicom(buildUncompressedLoop({ InstitutionName: 'General Hospital', StudyDescription: 'Echo for Jane' }));
    const out = deidentifyDataset(parsed.dataset, { uidKey: UID_KEY, pixelsCleaned: true });
    const dict = new dcmjs.data.DicomDict(
      dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
        TransferSyntaxUID: '1.2.840.10008.1.2.1',
        MediaStorageSOPClassUID: out.SOPClassUID,
        MediaStorageSOPInstanceUID: out.SOPInstanceUID,
      }),
    );
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(out);
    const back = readDicom(Buffer.from(dict.write())).dataset;
    expect(back.PatientName).toEqual([{ Alphabetic: 'ANONYMOUS' }]);
    expect(back.PatientIdentityRemoved).toBe('YES');
    expect(back.DeidentificationMethodCodeSequence).toEqual([
      expect.objectContaining({ CodeValue: '113100' }),
      expect.objectContaining({ CodeValue: '113101' }),
    ]);
    expect(back.InstitutionName).toBeUndefined();
    expect(back.StudyDescription).toBeUndefined();
    expect(back.StudyInstanceUID).toBe(pseudonymousUid(UID_KEY, '1.2.826.0.1.3680043.8.498.1'));
  });
});

describe('transfer syntax and content rules at conversion', () => {
  it('an unsupported transfer syntax is rejected with a clear reason', async () => {
    if (!hasDcmtk) return;
    const error = await rejection(() => readDicom(patchAscii(usLoop, '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.91')));
    expect([error.reason, error.message]).toEqual([
      'dicom_unsupported_transfer_syntax',
      'transfer syntax JPEG 2000 (1.2.840.10008.1.2.4.91) is not accepted; send JPEG Baseline (1.2.840.10008.1.2.4.50) or uncompressed little endian',
    ]);
  });

  it('DICOM without pixel data is rejected as dicom_no_pixel_data', async () => {
    expect((await rejection(() => readDicom(buildUncompressedLoop({}, { pixels: false })))).reason).toBe('dicom_no_pixel_data');
  });

  it.each([50, 80, 95, 99])(
    'an uncompressed loop cut at %i %% is rejected as truncated_dicom (not padded with black frames)',
    (percent) => {
      const file = buildUncompressedLoop({}, { width: 64, height: 48, frames: 10 });
      const cut = file.subarray(0, Math.floor((file.length * percent) / 100));
      let caught: unknown;
      try {
        readDicom(cut);
      } catch (error) {
        caught = error;
      }
      expect(caught instanceof RejectedInput ? [caught.reason, caught.message] : caught).toEqual([
        'truncated_dicom',
        'the DICOM instance ends inside an element: it is truncated',
      ]);
    },
  );

  it('implicit VR little endian is accepted', () => {
    expect(readDicom(buildUncompressedLoop({}, { transferSyntax: '1.2.840.10008.1.2' })).transferSyntaxUid).toBe('1.2.840.10008.1.2');
  });
});

describe('burned-in annotation masking', () => {
  const framesOf = (file: Buffer) => {
    const { dataset, transferSyntaxUid } = readDicom(file);
    const mask = annotationMask(dataset, geometryOf(dataset));
    const frames = [...rgbFrames(dataset, transferSyntaxUid)];
    if (mask) for (const f of frames) applyMask(f, mask.keep);
    return { frames, mask };
  };

  it('BurnedInAnnotation YES with regions: every frame keeps exactly the region, everything outside is 0', () => {
    const { frames, mask } = framesOf(buildUncompressedLoop({ BurnedInAnnotation: 'YES', SequenceOfUltrasoundRegions: REGIONS }));
    expect(mask?.source).toBe('regions');
    expect(frames).toHaveLength(3);
    frames.forEach((rgb, f) => {
      for (let y = 0; y < 12; y++) {
        for (let x = 0; x < 16; x++) {
          const inside = x >= 4 && x <= 11 && y >= 3 && y <= 8;
          const expected = inside ? loopValue(f, x, y) : 0;
          const i = (y * 16 + x) * 3;
          expect([rgb[i], rgb[i + 1], rgb[i + 2]]).toEqual([expected, expected, expected]);
        }
      }
    });
  });

  it('BurnedInAnnotation absent without regions: the top band is blanked on every frame', () => {
    const { frames, mask } = framesOf(buildUncompressedLoop());
    expect(mask?.source).toBe('band');
    const bandRows = Math.ceil(12 * FALLBACK_BAND_FRACTION);
    frames.forEach((rgb, f) => {
      for (let y = 0; y < 12; y++) expect(rgb[(y * 16 + 5) * 3]).toBe(y < bandRows ? 0 : loopValue(f, 5, y));
    });
  });

  it('BurnedInAnnotation NO: pixels untouched', () => {
    const { frames, mask } = framesOf(buildUncompressedLoop({ BurnedInAnnotation: 'NO' }));
    expect(mask).toBeUndefined();
    expect(frames[2][(0 * 16 + 0) * 3]).toBe(loopValue(2, 0, 0));
  });
});

describe('conversion to H.264 MP4', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dicom-mp4-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an uncompressed loop with regions becomes an MP4 whose decoded pixels outside the region are black', async () => {
    const out = join(dir, 'regions.mp4');
    const file = buildUncompressedLoop(
      { BurnedInAnnotation: 'YES', SequenceOfUltrasoundRegions: REGIONS },
      { width: 32, height: 24, frames: 5 },
    );
    const loop = await convertDicomToMp4(file, { ffmpegPath: '/usr/bin/ffmpeg', outPath: out, uidKey: UID_KEY });
    expect({ frames: loop.frames, width: loop.width, height: loop.height, fps: loop.framesPerSecond, masked: loop.masked }).toEqual({
      frames: 5,
      width: 32,
      height: 24,
      fps: 25,
      masked: 'regions',
    });
    const gray = execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-i', out, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
    expect(gray.length).toBe(32 * 24 * 5);
    let outsideMax = 0;
    for (let f = 0; f < 5; f++)
      for (let y = 0; y < 24; y++)
        for (let x = 0; x < 32; x++) {
          if (x >= 2 && x <= 13 && y >= 1 && y <= 10) continue; // one block's margin around the region for the codec
          outsideMax = Math.max(outsideMax, gray[f * 768 + y * 32 + x]);
        }
    expect(outsideMax).toBeLessThanOrEqual(20); // limited-range black is 16
    const probe = execFileSync('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-show_entries',
      'stream=codec_name,nb_read_frames',
      '-of',
      'csv=p=0',
      out,
    ])
      .toString()
      .trim();
    expect(probe).toBe('h264,5');
  });

  it('the dcmtk-made JPEG Baseline loop converts frame for frame, and the MP4 carries no PHI', async () => {
    if (!hasDcmtk) return;
    const out = join(dir, 'us.mp4');
    const loop = await convertDicomToMp4(usLoop, { ffmpegPath: '/usr/bin/ffmpeg', outPath: out, uidKey: UID_KEY });
    expect({ frames: loop.frames, width: loop.width, height: loop.height, masked: loop.masked }).toEqual({
      frames: 4,
      width: 240,
      height: 320,
      masked: 'band',
    });
    const mp4 = execFileSync('cat', [out]);
    expect(mp4.includes('TEST^ECHO')).toBe(false);
    expect(mp4.includes('ECHO001')).toBe(false);
    expect(loop.deidentified.PatientName).toBe('ANONYMOUS');
    expect(loop.deidentified.BurnedInAnnotation).toBe('NO');
  });
});
