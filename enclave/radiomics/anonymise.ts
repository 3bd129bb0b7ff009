/**
 * Anonymisation of the enclave worker (§2 of docs/radiomics.md): every frame gets rows 0..floor(H/6)-1 and columns
 * floor(2W/3)-10..W-1 blacked out (for 320×240: rows 0..52, columns 150..239), where the burned-in exam number,
 * date and time sit. Frames are then written as PNG.
 *
 * Colour: the original wrote OpenCV's BGR array as if it were RGB, so its PNGs had red and blue swapped. The port
 * writes correct RGB.
 */
import { crc32, encodePngFromBgr } from '#lib/radiomics/png.js';

export { crc32, encodePngFromBgr };

/** Returns a masked copy of a BGR frame. */
export function maskBurnedInText(bgr: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(bgr);
  const rowEnd = Math.floor(height / 6);
  const colStart = Math.max(0, Math.floor((2 * width) / 3) - 10);
  for (let r = 0; r < rowEnd; r++) out.fill(0, r * width * 3, (r + 1) * width * 3);
  for (let r = rowEnd; r < height; r++) out.fill(0, (r * width + colStart) * 3, (r + 1) * width * 3);
  return out;
}

/** Masks a frame and encodes it: the PNG the worker zips as `<index>.png`. */
export function anonymisedPng(bgr: Uint8Array, width: number, height: number): Buffer {
  return encodePngFromBgr(maskBurnedInText(bgr, width, height), width, height);
}
