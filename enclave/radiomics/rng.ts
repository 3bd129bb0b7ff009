/**
 * OpenCV's `cv::RNG` (4.6, core/operations.hpp): a multiply-with-carry generator on a 64-bit state.
 *   next(): state = uint32(state) * 4164903690 + (state >> 32); return uint32(state)
 * The default state is 0xffffffff. The original pipeline used the process-global `theRNG()`, so k-means results
 * depended on everything that ran before in the process; the port creates one fresh generator per clip (as the
 * golden outputs were made: one fresh Python process per clip) and threads it through the clip's frames.
 *
 * The 64-bit state is kept as two uint32 halves; the 32×32-bit product is split in 16-bit limbs so every
 * intermediate stays an exact double.
 */
const MULTIPLIER = 4164903690;
const MUL_LO = MULTIPLIER & 0xffff;
const MUL_HI = MULTIPLIER >>> 16;
const TWO_POW_32 = 4294967296;
/** 2^-64, the constant of `RNG::operator double()`. */
const TWO_POW_MINUS_64 = 5.421010862427522e-20;
/** 2^-32, the float constant of `RNG::operator float()`. */
const TWO_POW_MINUS_32 = 2.3283064365386963e-10;

export class CvRng {
  private lo: number;
  private hi: number;

  constructor(state: bigint = 0xffffffffn) {
    const s = state === 0n ? 0xffffffffn : BigInt.asUintN(64, state);
    this.lo = Number(s & 0xffffffffn);
    this.hi = Number(s >> 32n);
  }

  get state(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** `RNG::next()`: advances the state and returns its low 32 bits. */
  next(): number {
    const x = this.lo;
    const carry = this.hi;
    // x * MULTIPLIER + carry, as a 64-bit value split into 32-bit halves.
    const xLo = x & 0xffff;
    const xHi = x >>> 16;
    const ll = xLo * MUL_LO; // < 2^32
    const lh = xLo * MUL_HI; // < 2^32
    const hl = xHi * MUL_LO; // < 2^32
    const hh = xHi * MUL_HI; // < 2^32
    // low 32 bits: ll + ((lh + hl) << 16) + carry
    const mid = lh + hl; // < 2^33
    const midLo = mid % 65536;
    const midHi = Math.floor(mid / 65536);
    let low = ll + midLo * 65536 + carry; // < 2^32 + 2^32 + 2^32
    const lowCarry = Math.floor(low / TWO_POW_32);
    low -= lowCarry * TWO_POW_32;
    const high = hh + midHi + lowCarry; // fits in 32 bits since the full product + carry < 2^64
    this.lo = low >>> 0;
    this.hi = high >>> 0;
    return this.lo;
  }

  /** `(unsigned)rng`. */
  nextUint32(): number {
    return this.next();
  }

  /** `(double)rng`: ((uint64)next() << 32 | next()) * 2^-64, the uint64 → double conversion rounded to nearest. */
  nextDouble(): number {
    const t = this.next();
    const u = this.next();
    // t * 2^32 is exact; the single addition rounds the exact 64-bit integer to nearest-even, like the C++ cast.
    return (t * TWO_POW_32 + u) * TWO_POW_MINUS_64;
  }

  /** `(float)rng`: next() * 2^-32 in float arithmetic. */
  nextFloat(): number {
    return Math.fround(Math.fround(this.next()) * Math.fround(TWO_POW_MINUS_32));
  }

  /** `RNG::uniform(int a, int b)`. */
  uniformInt(a: number, b: number): number {
    if (a === b) return a;
    return ((this.next() % ((b - a) >>> 0)) + a) | 0;
  }

  /** `RNG::uniform(float a, float b)`. */
  uniformFloat(a: number, b: number): number {
    const fa = Math.fround(a);
    const fb = Math.fround(b);
    return Math.fround(Math.fround(this.nextFloat() * Math.fround(fb - fa)) + fa);
  }
}
