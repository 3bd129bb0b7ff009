import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CvRng } from '#enclave/radiomics/rng.js';
import { bgrToHsv, grayOpenCv, rgbToLabF32 } from '#enclave/radiomics/color.js';
import { kmeansPP } from '#enclave/radiomics/kmeans.js';
import { erodeCross, wrapToUint8, isDopplerCluster } from '#enclave/radiomics/segmentation.js';
import { gaussianBlur3x3, quantisedGray, firstOrderFeatures } from '#enclave/radiomics/texture.js';
import { encodePngFromBgr, maskBurnedInText } from '#enclave/radiomics/anonymise.js';
import { clipFeatureVector, pythonMax, nanmedian } from '#enclave/radiomics/aggregate.js';
import { fusedMultiplyAdd, glibcCbrt } from '#enclave/radiomics/float-ops.js';

/** Values computed with Debian's OpenCV 4.6 / scikit-image 0.19.3 by test/fixtures/radiomics/make-opencv-reference.py */
const ref = JSON.parse(readFileSync(new URL('../../../fixtures/radiomics/opencv-reference.json', import.meta.url), 'utf8')) as {
  pixels_bgr: number[][];
  hsv: number[][];
  gray: number[];
  lab_rgb: number[][];
  lab: number[][];
  blur_src: number[][];
  blur: number[][];
  erode_src: number[][];
  erode: number[][];
  kmeans: { compactness: number; labels: number[]; centers: number[][] }[];
};

describe('cv::RNG', () => {
  it('starts at state 0xffffffff and yields the multiply-with-carry sequence', () => {
    const rng = new CvRng();
    // state = (uint32)state * 4164903690 + (state >> 32), computed independently with BigInt
    let state = 0xffffffffn;
    for (let i = 0; i < 1000; i++) {
      state = (state & 0xffffffffn) * 4164903690n + (state >> 32n);
      expect(rng.next()).toBe(Number(state & 0xffffffffn));
    }
    expect(rng.state).toBe(state);
  });

  it('gives the first outputs of a fresh generator (OpenCV itself is checked end to end by the k-means test)', () => {
    const rng = new CvRng();
    expect([rng.next(), rng.next(), rng.next()]).toEqual([130063606, 3003295397, 3870020839]);
  });

  it('builds doubles from two draws and floats from one, like RNG::operator double/float', () => {
    const a = new CvRng();
    const hi = a.next();
    const lo = a.next();
    const b = new CvRng();
    expect(b.nextDouble()).toBe(Number((BigInt(hi) << 32n) | BigInt(lo)) / 2 ** 64);
    const c = new CvRng();
    expect(c.nextFloat()).toBe(Math.fround(hi * 2 ** -32));
    const d = new CvRng();
    expect(d.uniformInt(0, 10)).toBe(hi % 10);
  });
});

describe('colour conversions', () => {
  it('matches OpenCV 8-bit BGR2HSV for every reference pixel', () => {
    for (const [i, [b, g, r]] of ref.pixels_bgr.entries()) expect(bgrToHsv(b, g, r)).toEqual(ref.hsv[i]);
  });

  it('matches OpenCV BGR2GRAY', () => {
    for (const [i, [b, g, r]] of ref.pixels_bgr.entries()) expect(grayOpenCv(b, g, r)).toBe(ref.gray[i]);
    expect(grayOpenCv(255, 255, 255)).toBe(255);
    expect(grayOpenCv(10, 20, 30)).toBe((3735 * 10 + 19235 * 20 + 9798 * 30 + 16384) >> 15);
  });

  it('matches skimage rgb2lab cast to float32, including colours where pow/cbrt/fma rounding matters', () => {
    const out = new Float32Array(3);
    ref.lab_rgb.forEach(([c0, c1, c2], i) => {
      rgbToLabF32(c0, c1, c2, out, 0);
      expect(Array.from(out)).toEqual(ref.lab[i]);
    });
  });

  it('emulates a correctly rounded fma and glibc cbrt', () => {
    expect(fusedMultiplyAdd(0.1, 10, -1)).toBe(5.551115123125783e-17);
    expect(fusedMultiplyAdd(2, 3, 4)).toBe(10);
    // glibc's cbrt is not correctly rounded; numpy's np.cbrt gives exactly these (Math.cbrt gives 3 and 0.5)
    expect(glibcCbrt(27)).toBe(3.0000000000000004);
    expect(glibcCbrt(0.125)).toBe(0.49999999999999994);
    expect(glibcCbrt(0.3)).toBe(0.6694329500821694);
    expect(glibcCbrt(0)).toBe(0);
  });
});

describe('cv::kmeans (KMEANS_PP_CENTERS, 10 attempts, EPS+MAX_ITER 10/0.01)', () => {
  const n = 300;
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = ((i * 37) % 101) / 3.7;
    data[i * 3 + 1] = ((i * 53) % 89) / 2.3 - 10;
    data[i * 3 + 2] = ((i * 11) % 61) * 1.7 - 40;
  }

  it('reproduces labels, centres and compactness of two consecutive OpenCV calls sharing one RNG', () => {
    const rng = new CvRng();
    for (const expected of ref.kmeans) {
      const result = kmeansPP(data, n, 8, { maxCount: 10, epsilon: 0.01 }, 10, rng);
      expect(result.compactness).toBe(expected.compactness);
      expect(Array.from(result.labels)).toEqual(expected.labels);
      const centers: number[][] = [];
      for (let k = 0; k < 8; k++) centers.push(Array.from(result.centers.subarray(k * 3, k * 3 + 3)));
      expect(centers).toEqual(expected.centers);
    }
  });
});

describe('segmentation helpers', () => {
  it('wraps centres to uint8 like numpy (−30.7 → 226)', () => {
    expect(wrapToUint8(-30.7)).toBe(226);
    expect(wrapToUint8(54.9)).toBe(54);
    expect(wrapToUint8(-0.5)).toBe(0);
  });

  it('classifies Doppler clusters on the wrapped values', () => {
    expect(isDopplerCluster(11, 21, 0)).toBe(true);
    expect(isDopplerCluster(10, 100, 100)).toBe(false);
    expect(isDopplerCluster(50, 230, 20)).toBe(false);
    expect(isDopplerCluster(50, 0, 229)).toBe(true);
  });

  it('erodes with the 3×3 ellipse (a cross) like cv2.erode', () => {
    const h = ref.erode_src.length,
      w = ref.erode_src[0].length;
    const out = erodeCross(Uint8Array.from(ref.erode_src.flat()), w, h);
    expect(Array.from(out)).toEqual(ref.erode.flat());
  });
});

describe('texture primitives', () => {
  it('blurs like cv2.GaussianBlur((3,3), 8/sqrt(8 ln 2)) on 8-bit images', () => {
    const h = ref.blur_src.length,
      w = ref.blur_src[0].length;
    expect(Array.from(gaussianBlur3x3(Uint8Array.from(ref.blur_src.flat()), w, h))).toEqual(ref.blur.flat());
  });

  it('quantises grey to round_half_even(gray/4)', () => {
    // gray 2 → 0 (0.5 rounds to even), 6 → 2 (1.5 → 2), 10 → 2 (2.5 → 2), 255 → 64
    const bgr = Uint8Array.from([2, 2, 2, 6, 6, 6, 10, 10, 10, 255, 255, 255]);
    expect(Array.from(quantisedGray(bgr, 4))).toEqual([0, 2, 2, 64]);
  });

  it('computes first-order statistics like numpy/scipy', () => {
    const z = Uint8Array.from([0, 1, 2, 3, 4, 10, 0]);
    const out = new Float64Array(7);
    firstOrderFeatures(z, out);
    // values 1,2,3,4,10: mean 4, m2 = 10, m3 = 36, m4 = 1354/5 ... median 3, p25 2, p75 4
    expect(out[2]).toBe(4);
    expect(out[3]).toBe(Math.sqrt(10));
    expect(out[4]).toBe(3);
    expect(out[5]).toBe(2);
    expect(out[6]).toBe(4);
  });
});

describe('aggregation', () => {
  it('takes the max-velocity column of the Python-max row (lexicographic)', () => {
    const row = (a: number, b: number, v: number) => {
      const r = new Array(28).fill(0);
      r[0] = a;
      r[1] = b;
      r[26] = v;
      return r;
    };
    const rows = [row(5, 1, 0.1), row(7, 0, 0.2), row(7, 3, 0.05), row(6, 9, 0.9)];
    expect(pythonMax(rows)).toBe(rows[2]);
    expect(clipFeatureVector(rows)[56]).toBe(0.05);
    expect(nanmedian([3, NaN, 1, 2, 10])).toBe(2.5);
  });
});

describe('anonymised PNG', () => {
  it('masks the burned-in text and writes correct RGB (not the original BGR-as-RGB)', () => {
    const width = 240,
      height = 320;
    const bgr = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      bgr[i * 3] = 10; // B
      bgr[i * 3 + 1] = 20; // G
      bgr[i * 3 + 2] = 200; // R
    }
    const masked = maskBurnedInText(bgr, width, height);
    const dir = mkdtempSync(join(tmpdir(), 'radiomics-png-'));
    const file = join(dir, '0.png');
    writeFileSync(file, encodePngFromBgr(masked, width, height));
    const rgb = execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
    expect(rgb.length).toBe(width * height * 3);
    const at = (r: number, c: number) => Array.from(rgb.subarray((r * width + c) * 3, (r * width + c) * 3 + 3));
    expect(at(52, 0)).toEqual([0, 0, 0]); // rows 0..52 black
    expect(at(53, 149)).toEqual([200, 20, 10]); // red stays red
    expect(at(53, 150)).toEqual([0, 0, 0]); // columns 150..239 black
    expect(at(319, 0)).toEqual([200, 20, 10]);
  });
});
