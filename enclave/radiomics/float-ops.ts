/**
 * Floating-point operations that must round exactly like the native code the original pipeline ran:
 * - `fusedMultiplyAdd`: a correctly rounded a·b + c. numpy's `arr @ M.T` went through OpenBLAS, whose kernel on
 *   this machine (AVX2/FMA) evaluates each output as fma(b, m2, fma(g, m1, r·m0)).
 * - `glibcCbrt`: glibc's dbl-64 `cbrt` (sysdeps/ieee754/dbl-64/s_cbrt.c), which numpy's np.cbrt calls. It is not
 *   correctly rounded, and V8's Math.cbrt differs from it in the last bit for some inputs.
 */

const { abs, pow } = Math;
const isFiniteNumber = Number.isFinite;
// Globals (Math, Infinity, …) are read once here: inside jest's vm sandbox every global lookup in a hot loop goes
// through the context's interceptors and is very slow.

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp split)

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer); // little-endian: words[0] low, words[1] high

/** Round-to-odd of v given the exact remainder w (v + w exact, v = RN(v + w)). */
function roundToOdd(v: number, w: number): number {
  if (w === 0) return v;
  bits[0] = v;
  if ((words[0] & 1) === 1) return v;
  // v has an even mantissa and is inexact: move one ulp towards w.
  const towardsLarger = w > 0 === v > 0;
  if (towardsLarger) {
    words[0] = (words[0] + 1) >>> 0;
    if (words[0] === 0) words[1] = (words[1] + 1) >>> 0;
  } else {
    if (words[0] === 0) words[1] = (words[1] - 1) >>> 0;
    words[0] = (words[0] - 1) >>> 0;
  }
  return bits[0];
}

/**
 * Correctly rounded a·b + c (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms
 * using rounding to odd", IEEE TC 2008). Valid away from overflow and underflow, which holds for colour values.
 */
export function fusedMultiplyAdd(a: number, b: number, c: number): number {
  // Exact product ph + pl (Dekker / Veltkamp).
  const ph = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const pl = al * bl - (ph - ah * bh - al * bh - ah * bl);
  // Exact sum c + ph = uh + ul (Knuth TwoSum).
  const uh = c + ph;
  const bv = uh - c;
  const ul = c - (uh - bv) + (ph - bv);
  // v = RO(ul + pl)
  const v = ul + pl;
  const bv2 = v - ul;
  const w = ul - (v - bv2) + (pl - bv2);
  return uh + roundToOdd(v, w);
}

// s_cbrt.c's constants, each written as the shortest decimal that reads back as the same double.
const CBRT2 = 1.2599210498948732;
const SQR_CBRT2 = 1.5874010519681996;
const CBRT_FACTOR = [1.0 / SQR_CBRT2, 1.0 / CBRT2, 1.0, CBRT2, SQR_CBRT2];

/** glibc's `cbrt` (generic dbl-64 implementation), for finite normal inputs; 0, ±Inf and NaN pass through. */
export function glibcCbrt(x: number): number {
  if (x === 0 || !isFiniteNumber(x)) return x + x;
  // frexp(|x|): |x| = xm · 2^xe with xm in [0.5, 1).
  const ax = abs(x);
  bits[0] = ax;
  let biased = (words[1] >>> 20) & 0x7ff;
  let xe: number;
  if (biased === 0) {
    // subnormal: scale up by 2^54 first
    bits[0] = ax * 18014398509481984;
    biased = (words[1] >>> 20) & 0x7ff;
    xe = biased - 1022 - 54;
  } else {
    xe = biased - 1022;
  }
  words[1] = (words[1] & 0x800fffff) | (1022 << 20);
  const xm = bits[0];

  const u =
    0.35489576504391984 +
    (1.508191937815849 +
      (-2.114994941673713 + (2.4469312256353444 + (-1.8346927748361308 + (0.7849323449766392 - 0.14526389938548637 * xm) * xm) * xm) * xm) *
        xm) *
      xm;
  const t2 = u * u * u;
  // C's % and / truncate towards zero.
  const rem = xe % 3;
  const ym = ((u * (t2 + 2.0 * xm)) / (2.0 * t2 + xm)) * CBRT_FACTOR[2 + rem];
  const q = (xe - rem) / 3;
  const r = ym * pow(2, q);
  return x < 0 ? -r : r;
}
