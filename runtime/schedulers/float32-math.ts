// torch.log and torch.exp on float32 CPU tensors, bit for bit. torch (1.13, AVX2 kernels; also
// for 0-dim tensors) computes them with SLEEF's Sleef_logf8_u10 / Sleef_expf8_u10, which are
// within 1 ulp but not correctly rounded, so Math.fround(Math.log(x)) differs from torch's value
// by an ulp now and then. DPM-Solver's lambda = log(alpha) - log(sigma) and exp(-h) - 1 amplify
// that to ~1e-6 of the latents; emulating SLEEF 3.5.1's xlogf_u1 / xexpf (the AVX2 FMA build:
// double-float arithmetic, fused multiply-adds) op by op removes it.

const f = Math.fround;
const buf = new Float32Array(1);
const bits = new Uint32Array(buf.buffer);
const toBits = (x: number) => ((buf[0] = x), bits[0]!);
const fromBits = (b: number) => ((bits[0] = b >>> 0), buf[0]!);

/** fmaf(a, b, c) = a * b + c rounded once to float32 (inputs are float32). */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits
  const s = p + c;
  if (!Number.isFinite(s)) return f(s);
  const r = f(s);
  if (r === s) return r;
  // The double sum may sit exactly on a float32 midpoint while the exact sum is not: then the
  // exact sum's side decides. (Anywhere else the double and the exact sum round alike.)
  const bp = s - p;
  const e = p - (s - bp) + (c - bp); // TwoSum: s + e == p + c exactly
  if (e === 0) return r;
  const rb = toBits(r);
  const towardS = s > r === r >= 0 ? 1 : -1; // bit step that moves r toward s
  const other = fromBits(rb + towardS);
  if ((r + other) / 2 !== s) return r;
  const up = e > 0;
  return up === other > r ? other : r;
}

type DF = [number, number];
const add2 = (x: number, y: number): DF => {
  const s = f(x + y);
  const v = f(s - x);
  return [s, f(f(x - f(s - v)) + f(y - v))];
};
const dfmulDfF = (x: DF, y: number): DF => {
  const s = f(x[0] * y);
  return [s, fmaf(x[1], y, fmaf(x[0], y, -s))];
};
const dfdiv = (n: DF, d: DF): DF => {
  const t = f(1 / d[0]);
  const s = f(n[0] * t);
  const u = fmaf(t, n[0], -s);
  const v = fmaf(-d[1], t, fmaf(-d[0], t, 1));
  return [s, fmaf(s, v, fmaf(n[1], t, u))];
};
const dfaddDfDf = (x: DF, y: DF): DF => {
  const s = f(x[0] + y[0]);
  return [s, f(f(f(f(x[0] - s) + y[0]) + x[1]) + y[1])];
};
const dfaddDfF = (x: DF, y: number): DF => {
  const s = f(x[0] + y);
  return [s, f(f(f(x[0] - s) + y) + x[1])];
};

const FLT_MIN = 1.1754943508222875e-38;
const LN2_HI = f(0.69314718246459960938);
const LN2_LO = f(-1.904654323148236017e-9);
const INV_075 = f(1 / 0.75);
const TWO64 = f(2 ** 64);
const L0 = f(0.3027294874);
const L1 = f(0.3996108174);
const L2 = f(0.666669488);

/** torch.log(x) for float32 x (Sleef_logf8_u10, AVX2). */
export function logf(x: number): number {
  let d = f(x);
  if (Number.isNaN(d) || d < 0) return NaN;
  if (d === 0) return -Infinity;
  if (d === Infinity) return Infinity;
  const tiny = d < FLT_MIN;
  if (tiny) d = f(d * TWO64);
  let e = ((toBits(f(d * INV_075)) >>> 23) & 0xff) - 0x7f;
  const m = fromBits(toBits(d) + ((-e << 23) | 0));
  if (tiny) e -= 64;
  let s = dfmulDfF([LN2_HI, LN2_LO], e);
  const q = dfdiv(add2(-1, m), add2(1, m));
  const x2 = f(q[0] * q[0]);
  let t = L0;
  t = fmaf(t, x2, L1);
  t = fmaf(t, x2, L2);
  s = dfaddDfDf(s, [f(q[0] * 2), f(q[1] * 2)]);
  s = dfaddDfF(s, f(f(x2 * q[0]) * t));
  return f(s[0] + s[1]);
}

const R_LN2 = f(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2U = f(0.693145751953125);
const L2L = f(1.428606765330187045e-6);
const E = [
  0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5,
].map(f);

function roundEvenInt(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const pow2i = (q: number) => fromBits(((q + 0x7f) << 23) >>> 0);

/** torch.exp(x) for float32 x (Sleef_expf8_u10, AVX2). */
export function expf(x: number): number {
  const d = f(x);
  if (Number.isNaN(d)) return NaN;
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  const q = roundEvenInt(f(d * R_LN2));
  let s = fmaf(q, -L2U, d);
  s = fmaf(q, -L2L, s);
  let u = E[0]!;
  for (let i = 1; i < E.length; i++) u = fmaf(u, s, E[i]!);
  u = f(1 + fmaf(f(s * s), u, s));
  const h = q >> 1;
  return f(f(u * pow2i(h)) * pow2i(q - h));
}
