// torch.randn on CPU, bit for bit: what `g = torch.Generator("cpu").manual_seed(seed)` then
// `torch.randn(shape, generator=g)` (float32) returns with PyTorch 1.13 on an x86-64 CPU with AVX2,
// the build and machine that made ../shared/fixtures/sd15-pipeline-tiny/ref.
//
// Guarantees:
// * the mt19937 stream, the uniforms and the stream position after each draw are exactly torch's,
//   so consecutive draws from one generator continue as torch's do (diffusers' img2img draws twice);
// * >= 16 elements: the AVX2 kernel (`normal_fill_AVX2`: Cephes-style log256_ps / sincos256_ps in
//   float32), emulated op by op with Math.fround and an exact fmaf, so the floats are identical,
//   not just close (checked on 3.4M values against torch);
// * < 16 elements: `normal_distribution<double>` with its cached second Box-Muller value, which
//   lives on the generator and so carries over between calls (and is untouched by large draws).
//   This path uses V8's double log/sin/cos where torch used glibc's: both are within an ulp of
//   exact, and a difference would survive the cast to float32 only by a ~2^-29 coincidence.
// Not covered: torch's non-AVX2 kernel (ATEN_CPU_CAPABILITY=default, or ARM) rounds differently
// (~40% of the values move by an ulp); a torch build whose compiler fused other multiply-adds
// would too; CUDA generators, other dtypes, mean/std other than 0/1.

// Math's functions bound once: in Jest's vm context every `Math.x` in a loop is a slow global
// lookup that also keeps V8 from inlining the builtin (Math.sqrt ran ~50x slower there).
const { fround: f, sqrt, log, sin, cos, clz32, imul, PI } = Math;
const TWO_24 = 2 ** 24,
  TWO_M24 = 2 ** -24,
  TWO_32 = 2 ** 32,
  TWO_M53 = 2 ** -53;

/** The Mersenne Twister as torch's at::mt19937 (identical to std::mt19937 for 32-bit seeds). */
class MT19937 {
  private readonly state = new Uint32Array(624);
  private next = 624;

  constructor(seed: number) {
    const s = this.state;
    s[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const p = s[i - 1]!;
      s[i] = (imul(1812433253, (p ^ (p >>> 30)) >>> 0) + i) >>> 0;
    }
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % 624]! & 0x7fffffff);
      s[i] = s[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.next = 0;
  }

  u32(): number {
    if (this.next >= 624) this.twist();
    let y = this.state[this.next++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

// avx_mathfun.h constants, as the float32 values the kernel holds.
const SQRTHF = f(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const LOG_Q1 = f(-2.1219444e-4);
const LOG_Q2 = f(0.693359375);
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853515625e-4);
const DP3 = f(-3.77489497744594108e-8);
const SIN_P0 = f(-1.9515295891e-4),
  SIN_P1 = f(8.3321608736e-3),
  SIN_P2 = f(-1.6666654611e-1);
const COS_P0 = f(2.443315711809948e-5),
  COS_P1 = f(-1.388731625493765e-3),
  COS_P2 = f(4.166664568298827e-2);
const FOPI = f(1.27323954473516);
const TWO_PI = f(2 * PI); // _mm256_set1_ps(2.0f * c10::pi<double>)

/**
 * fmaf(a, b, c) for float32 a, b, c: a*b is exact in a double, so s = a*b + c in double is off
 * from the exact sum by at most half a double ulp, and rounding s to float32 is right unless s
 * lands exactly on a midpoint between two floats. Then (and only then) 2s - r is the float on the
 * other side, and the tie goes the way the bits lost in s (TwoSum's error term) point.
 * (Plain arithmetic, no DataView: typed arrays are slow in Jest's cross-realm test environment.)
 */
function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = f(s);
  if (r === s) return r;
  const other = 2 * s - r;
  if (f(other) !== other) return r;
  const t = s - p;
  const err = p - (s - t) + (c - t);
  if (err === 0) return r;
  return err > 0 === other > r ? other : r;
}

// The op order below is the one GCC 12 emitted for torch 1.13's AVX2 kernel (read off the
// disassembly of libtorch_cpu.so): avx_mathfun.h spells every step as _mm256_mul_ps/_add_ps, but
// with -mfma and GNU C++'s default -ffp-contract=fast most multiply-adds became fused, which
// changes about 1% of the outputs by an ulp. fma32 marks exactly the fused ones.

/**
 * log256_ps for one lane at x = k * 2^-24, k in [1, 2^24] (u1 = 1 - uniform is always such an x,
 * so none of the NaN/denormal guards fire). The kernel splits x = m * 2^e, m in [0.5, 1), with bit
 * masks; for x = k * 2^-24 that is m = k / 2^bitlength(k), e = bitlength(k) - 24.
 */
function log256(k: number): number {
  const len = 32 - clz32(k);
  let x = k / (1 << len);
  let e = len - 24;
  if (x < SQRTHF) {
    e = e - 1;
    x = f(f(x - 1) + x);
  } else x = f(x - 1);
  const z = f(x * x);
  let y = LOG_P[0]!;
  for (let i = 1; i < 9; i++) y = fma32(y, x, LOG_P[i]!);
  y = fma32(f(y * x), z, f(e * LOG_Q1));
  y = f(y - z * 0.5); // fnmadd, but z * 0.5 is exact
  return fma32(e, LOG_Q2, f(x + y));
}

/** sincos256_ps's sine, set by each sincos256 call (a plain number: no allocation per lane). */
let sinOut = 0;

/** sincos256_ps for one lane, x >= 0 (theta = 2*pi*u): returns the cosine, leaves the sine in sinOut. */
function sincos256(xIn: number): number {
  // Octant j, rounded up to even, and x reduced by j*pi/4 in three float32 pieces (Cody-Waite).
  const j = ((f(xIn * FOPI) | 0) + 1) & ~1; // j is a small integer, exact in float32
  const x = fma32(j, DP3, fma32(j, DP2, fma32(j, DP1, xIn)));
  const z = f(x * x);
  let c = fma32(fma32(COS_P0, z, COS_P1), z, COS_P2);
  c = f(fma32(f(c * z), z, -(z * 0.5)) + 1);
  let s = fma32(fma32(SIN_P0, z, SIN_P1), z, SIN_P2);
  s = fma32(f(s * z), x, x);
  // Octants 0, 3, 4, 7 (j & 2 == 0) take sin from the sine polynomial; the others swap them.
  const swap = (j & 2) !== 0;
  const sv = swap ? c : s;
  const cv = swap ? s : c;
  sinOut = (j & 4) !== 0 ? -sv : sv;
  return ((j - 2) & 4) === 0 ? -cv : cv;
}

/**
 * normal_fill_16_AVX2 on each block of 16 in d[from, to): lane j pairs u1 = 1 - d[j] (in (0, 1]
 * for the log) with u2 = d[j + 8], and writes the cosine value to j, the sine value to j + 8.
 */
function boxMuller16(d: Float32Array, from: number, to: number): void {
  for (let at = from; at < to; at += 16) {
    for (let j = at; j < at + 8; j++) {
      // 1 - u with u = a * 2^-24 is exactly (2^24 - a) * 2^-24: hand log256 that integer.
      const radius = f(sqrt(f(-2 * log256(TWO_24 - d[j]! * TWO_24))));
      const cosine = sincos256(f(TWO_PI * d[j + 8]!));
      // fmadd(n, std=1, mean=0) is exact, but turns -0 into +0: so does `+ 0`.
      d[j] = f(radius * cosine) + 0;
      d[j + 8] = f(radius * sinOut) + 0;
    }
  }
}

/** torch.Generator("cpu").manual_seed(seed), for the draws diffusers pipelines make. */
export class TorchGenerator {
  private readonly mt: MT19937;
  /** CPUGeneratorImpl::next_double_normal_sample_: the spare sine value of the last double Box-Muller. */
  private spareNormal: number | null = null;

  constructor(seed: number | bigint) {
    // torch takes the seed mod 2^64 (so -1 is 2^64 - 1) and the engine its low 32 bits
    // (initial_seed() would still report the full value). BigInt() throws on a non-integer.
    const s = Number(BigInt.asUintN(32, typeof seed === 'bigint' ? seed : BigInt(seed)));
    this.mt = new MT19937(s);
  }

  /** uniform_real_distribution<float>(0, 1) into d[from, to): the low 24 bits of one output each, times 2^-24. */
  private uniformsF32(d: Float32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) d[i] = (this.mt.u32() & 0xffffff) * TWO_M24;
  }

  /** uniform_real_distribution<double>(0, 1): random64() = (first << 32 | second), low 53 bits, times 2^-53. */
  private uniformF64(): number {
    const hi = this.mt.u32() & 0x1fffff;
    const lo = this.mt.u32();
    return (hi * TWO_32 + lo) * TWO_M53;
  }

  /** torch.randn(shape, generator=this, dtype=torch.float32) on CPU: the same numbers, bit for bit. */
  randn(shape: number[]): Float32Array {
    const n = shape.reduce((a, b) => {
      if (!Number.isSafeInteger(b) || b < 0) throw new Error(`randn: bad shape [${shape.join(', ')}]`);
      return a * b;
    }, 1);
    const out = new Float32Array(n);
    if (n < 16) {
      for (let i = 0; i < n; i++) out[i] = this.normalF64();
      return out;
    }
    // normal_fill_AVX2: all uniforms first, then Box-Muller on blocks of 16 in place. (The loops
    // live in helpers so that V8 keeps them optimised whichever branches a call takes.)
    this.uniformsF32(out, 0, n);
    boxMuller16(out, 0, n - (n % 16));
    if (n % 16 !== 0) {
      // The tail block overlaps the last full one: torch draws 16 fresh uniforms for it.
      this.uniformsF32(out, n - 16, n);
      boxMuller16(out, n - 16, n);
    }
    return out;
  }

  /** normal_distribution<double>: a cached value if there is one, else a fresh pair (caching the sine). */
  private normalF64(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v + 0;
    }
    const u1 = this.uniformF64();
    const u2 = this.uniformF64();
    // torch 1.13: log(1 - u2) (later versions: log1p(-u2), the same value); u2 in [0, 1) on a
    // 2^-53 grid, so 1 - u2 is exact and never 0.
    const r = sqrt(-2 * log(1 - u2));
    const theta = 2 * PI * u1;
    this.spareNormal = r * sin(theta);
    return r * cos(theta) + 0;
  }
}
