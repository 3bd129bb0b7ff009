/**
 * Frame thumbnails for the report: the worker's PNGs (8-bit RGB, as enclave/radiomics/anonymise.ts writes them)
 * decoded, shrunk by an integer factor (box average) and re-encoded as small PNGs (with the worker's own encoder),
 * so a report of hundreds of frames stays a few MB. A PNG this decoder does not handle is embedded as it is.
 */
import { inflateSync } from 'node:zlib';
import { encodePngFromBgr } from '#lib/radiomics/png.js';

interface Rgb {
  width: number;
  height: number;
  /** 3 bytes per pixel */
  pixels: Uint8Array;
}

const SIGNATURE = '89504e470d0a1a0a';

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** 8-bit RGB or RGBA, non-interlaced PNGs; undefined for anything else. */
export function decodePng(png: Buffer): Rgb | undefined {
  if (png.length < 33 || png.subarray(0, 8).toString('hex') !== SIGNATURE) return undefined;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) return undefined;
      channels = colour === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at += 12 + length;
  }
  if (!channels || width === 0 || height === 0) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return undefined;
  }
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) return undefined;
  const rows = new Uint8Array(stride * height);
  for (let r = 0; r < height; r++) {
    const filter = raw[r * (stride + 1)];
    const line = raw.subarray(r * (stride + 1) + 1, (r + 1) * (stride + 1));
    const out = r * stride;
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? rows[out + i - channels] : 0;
      const up = r > 0 ? rows[out - stride + i] : 0;
      const upLeft = r > 0 && i >= channels ? rows[out - stride + i - channels] : 0;
      const predictor =
        filter === 0
          ? 0
          : filter === 1
            ? left
            : filter === 2
              ? up
              : filter === 3
                ? (left + up) >> 1
                : filter === 4
                  ? paeth(left, up, upLeft)
                  : -1;
      if (predictor < 0) return undefined;
      rows[out + i] = (line[i] + predictor) & 0xff;
    }
  }
  const pixels = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) pixels[p * 3 + c] = rows[p * channels + c];
  return { width, height, pixels };
}

/** Box-averages `factor`×`factor` blocks, giving BGR (the PNG encoder's input). */
function shrinkToBgr(image: Rgb, factor: number): { width: number; height: number; bgr: Uint8Array } {
  const width = Math.max(1, Math.floor(image.width / factor));
  const height = Math.max(1, Math.floor(image.height / factor));
  const bgr = new Uint8Array(width * height * 3);
  const area = factor * factor;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < factor; dy++)
          for (let dx = 0; dx < factor; dx++) sum += image.pixels[((y * factor + dy) * image.width + x * factor + dx) * 3 + c];
        bgr[(y * width + x) * 3 + 2 - c] = (sum + (area >> 1)) / area;
      }
    }
  }
  return { width, height, bgr };
}

/** A data: URI of the frame, at most `maxWidthPx` wide. */
export function thumbnailDataUri(png: Buffer, maxWidthPx = 80): string {
  const image = decodePng(png);
  if (!image) return `data:image/png;base64,${png.toString('base64')}`;
  const small = shrinkToBgr(image, Math.max(1, Math.ceil(image.width / maxWidthPx)));
  return `data:image/png;base64,${encodePngFromBgr(small.bgr, small.width, small.height).toString('base64')}`;
}
