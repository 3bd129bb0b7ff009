/**
 * `if_doppler` of the original pipeline (§1 of docs/radiomics.md): only frame 0 is tested. OpenCV 8-bit BGR2HSV,
 * blue = inRange([110,50,50], [130,255,255]), red = inRange([169,50,50], [189,255,255]); the masks are 0/255 and
 * the clip is Doppler unless both mask sums are below 25000 (i.e. Doppler from 99 pixels of either colour).
 */
import { bgrToHsvPacked } from './color.js';

export const DOPPLER_MASK_SUM_THRESHOLD = 25000;

export interface DopplerColourCounts {
  bluePixels: number;
  redPixels: number;
}

export function dopplerColourCounts(bgr: Uint8Array, n: number): DopplerColourCounts {
  let bluePixels = 0;
  let redPixels = 0;
  for (let i = 0; i < n; i++) {
    const hsv = bgrToHsvPacked(bgr[i * 3], bgr[i * 3 + 1], bgr[i * 3 + 2]);
    const h = hsv >>> 16;
    if (((hsv >>> 8) & 255) < 50 || (hsv & 255) < 50) continue;
    if (h >= 110 && h <= 130) bluePixels++;
    if (h >= 169 && h <= 189) redPixels++;
  }
  return { bluePixels, redPixels };
}

/** True when the frame shows colour Doppler (the original's `if_doppler`, applied to the first frame). */
export function isDopplerFrame(bgr: Uint8Array, n: number): boolean {
  const { bluePixels, redPixels } = dopplerColourCounts(bgr, n);
  return !(bluePixels * 255 < DOPPLER_MASK_SUM_THRESHOLD && redPixels * 255 < DOPPLER_MASK_SUM_THRESHOLD);
}
