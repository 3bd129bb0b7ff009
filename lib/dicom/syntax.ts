/** The DICOM we take in: Ultrasound Multi-frame images, JPEG Baseline encapsulated or uncompressed little endian. */
import { RejectedInput } from '#lib/errors.js';

export const US_MULTIFRAME_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.3.1';
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

export const ACCEPTED_TRANSFER_SYNTAXES: readonly string[] = [JPEG_BASELINE, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN];

const NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

export function transferSyntaxRejection(uid: string): RejectedInput {
  const name = NAMES[uid] ? `${NAMES[uid]} (${uid})` : uid || '(none)';
  return new RejectedInput(
    'dicom_unsupported_transfer_syntax',
    `transfer syntax ${name} is not accepted; send JPEG Baseline (${JPEG_BASELINE}) or uncompressed little endian`,
  );
}
