// DeepCache's step schedules, ported exactly from the official code: which steps run the full UNet
// (and store the deep feature) and which run only the shallow network on the cached feature.
//   uniform    DeepCacheSDHelper (DeepCache/extension/deepcache.py), with the resets the official
//              TGATE + DeepCache loop makes before steps G-1 and G (T-GATE tgate/SD_DeepCache.py)
//   quadratic  the experimental pipelines' `sample_from_quad_center`, with its complex arithmetic and
//              libm rounding reproduced (equal to the official output on 204,871 of 204,876 settings tried)
// Pure: no I/O. Sources: horseee/DeepCache@1691a3ab22308fe06685e4ff151a9ab175be2dc4,
// HaozheLiu-ST/T-GATE@ab2a88fa50319cbb0bfcdc2772405573b266fa13.
import { TgateError } from '../base/errors.js';
import { MAX_STEPS, checkStepCount } from './step-count.js';

export type DeepCacheSchedule = 'uniform' | 'quadratic';

export interface DeepCacheOptions {
  /** N: with `uniform`, a full step every N steps; with `quadratic`, ceil(T / N) full steps. 1 = DeepCache off. */
  interval: number;
  /** cache_branch_id: which up-path block boundary is the cut (block b // 3, layer b % 3); 0 = shallowest. */
  branch: number;
  schedule: DeepCacheSchedule;
  /** quadratic only: the step the full steps cluster around (default DEEPCACHE_QUADRATIC_DEFAULTS.center). */
  center?: number;
  /** quadratic only: the exponent, > 1 (default DEEPCACHE_QUADRATIC_DEFAULTS.pow). */
  pow?: number;
}

/** What `DeepCacheSDHelper.set_params` is called with by T-GATE's loaders and `main.py --deepcache`, and in DeepCache's README. */
export const DEEPCACHE_DEFAULTS = { interval: 3, branch: 0, schedule: 'uniform' } as const;

/**
 * The non-uniform setting for SD-1.5 that ../shared/SPEC.md §5 gives (N 5, center 15, pow 1.4). The
 * official repository does not ship these numbers: experiments/generate.py has `--pow` and
 * `--center` default None (the pipeline then fails), so they must always be chosen.
 */
export const DEEPCACHE_QUADRATIC_DEFAULTS = { interval: 5, center: 15, pow: 1.4 } as const;

const SCHEDULES: readonly DeepCacheSchedule[] = ['uniform', 'quadratic'];

function usage(message: string, hint: string): TgateError {
  return new TgateError('E_USAGE', message, { hint });
}

/** Checks options that do not depend on the number of steps (deepCacheFullSteps checks the rest). */
export function checkDeepCache(o: DeepCacheOptions): void {
  if (!SCHEDULES.includes(o.schedule)) {
    throw usage(
      `The DeepCache schedule must be 'uniform' or 'quadratic', not ${JSON.stringify(o.schedule)}.`,
      "uniform is what DeepCacheSDHelper and the official TGATE + DeepCache loader run; quadratic is the paper's non-uniform schedule.",
    );
  }
  if (!Number.isInteger(o.interval) || o.interval < 1 || o.interval > MAX_STEPS) {
    throw usage(
      `The DeepCache interval must be an integer from 1 to ${MAX_STEPS}, not ${o.interval}.`,
      'N = 1 runs every step in full (DeepCache off); the official loaders use 3, the paper also 5.',
    );
  }
  if (!Number.isInteger(o.branch) || o.branch < 0 || o.branch > MAX_STEPS) {
    throw usage(
      `The DeepCache branch must be an integer from 0 to ${MAX_STEPS}, not ${o.branch}.`,
      'Branch 0 (the official default) caches the shallowest up-path boundary; larger ids cache deeper ones (block b // 3, layer b % 3).',
    );
  }
  if (o.schedule === 'uniform') {
    if (o.center !== undefined || o.pow !== undefined) {
      throw usage(
        'A DeepCache center and pow apply only to the quadratic schedule.',
        'Add --deepcache-schedule quadratic, or leave out --deepcache-center and --deepcache-pow.',
      );
    }
    return;
  }
  // `while pow > 1: ...; if pow <= 1: raise ValueError(...)` - the official code never runs with pow <= 1.
  if (o.pow !== undefined && !(Number.isFinite(o.pow) && o.pow > 1)) {
    throw usage(
      `The DeepCache pow must be a finite number > 1, not ${o.pow}.`,
      `The official sample_from_quad_center raises ValueError for pow <= 1; the SD-1.5 setting is ${DEEPCACHE_QUADRATIC_DEFAULTS.pow}.`,
    );
  }
  if (o.center !== undefined && (!Number.isInteger(o.center) || o.center < 0 || o.center >= MAX_STEPS)) {
    throw usage(
      `The DeepCache center must be a step index (an integer from 0 to ${MAX_STEPS - 1}), not ${o.center}.`,
      `The SD-1.5 setting is ${DEEPCACHE_QUADRATIC_DEFAULTS.center}.`,
    );
  }
}

// ---- numpy / glibc arithmetic, as the official Python runs it ---------------------------------
// The official function raises a *negative* Python int to 1/pow, which is a complex number
// (`(-15)**(1/1.4)` = -4.31+5.41j), so every sample is complex and `np.int32` keeps the real
// part, truncated toward zero. numpy's complex power is glibc's cpow = cexp(p * clog(z)); the
// port follows glibc 2.36's clog branch by branch. The first and last samples are integers up to
// rounding, so which integer they truncate to hangs on the last bit of libm's results, and a
// collision there makes the official loop retry with a smaller pow. Checked against the official
// function (numpy 1.24.2, glibc 2.36) on T 1-120 x N 2-10 x 13+ centers x 11 pows and T up to
// 1000: 5 of 204,876 differ, all starting from pow 3, where glibc's exp/sin/atan2 are not
// correctly rounded (one with center 0, where numpy's real power is SVML's on AVX-512 machines
// and libm's elsewhere: there the official output itself depends on the machine).

type Complex = readonly [number, number];

/** glibc's mul_split (Dekker): hi + lo = a * b exactly. */
function mulSplit(a: number, b: number): [number, number] {
  const C = 134217729; // 2^27 + 1
  const hi = a * b;
  let a1 = a * C;
  let b1 = b * C;
  a1 = a - a1 + a1;
  b1 = b - b1 + b1;
  const a2 = a - a1;
  const b2 = b - b1;
  return [hi, a1 * b1 - hi + a1 * b2 + a2 * b1 + a2 * b2];
}

// glibc's exp, log, log1p, sin, cos, atan2, pow and hypot round correctly in all but rare cases;
// V8's Math functions (fdlibm) differ from them in the last bit for 3-35 % of arguments. The
// official outputs hang on those bits (an endpoint that should be -2 comes out as
// -1.9999999999999998 and truncates to -1), so these are computed in double-double arithmetic
// (about 100 bits) and rounded once, which gives glibc's result wherever glibc rounds correctly.

type DD = readonly [number, number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

function ddAdd(x: DD, y: DD): DD {
  const [s, e0] = twoSum(x[0], y[0]);
  const [t, f] = twoSum(x[1], y[1]);
  const [s1, e1] = quickTwoSum(s, e0 + t);
  return quickTwoSum(s1, e1 + f);
}

function ddMul(x: DD, y: DD): DD {
  const [p, e] = mulSplit(x[0], y[0]);
  return quickTwoSum(p, e + (x[0] * y[1] + x[1] * y[0]));
}

function ddMulD(x: DD, d: number): DD {
  const [p, e] = mulSplit(x[0], d);
  return quickTwoSum(p, e + x[1] * d);
}

function ddDiv(x: DD, y: DD): DD {
  const q1 = x[0] / y[0];
  let r = ddAdd(x, ddMulD(y, -q1));
  const q2 = r[0] / y[0];
  r = ddAdd(r, ddMulD(y, -q2));
  const q3 = r[0] / y[0];
  return ddAdd(quickTwoSum(q1, q2), [q3, 0]);
}

function ddDivD(x: DD, d: number): DD {
  return ddDiv(x, [d, 0]);
}

/** The double nearest to a normalized double-double. */
function round(x: DD): number {
  return x[0] + x[1];
}

/** glibc 2.35+'s hypot (sysdeps/ieee754/dbl-64/e_hypot.c, the kernel without FMA), for finite arguments of moderate size. */
function glibcHypot(x: number, y: number): number {
  const ax = Math.max(Math.abs(x), Math.abs(y));
  const ay = Math.min(Math.abs(x), Math.abs(y));
  if (ay <= ax * 2 ** -54) return ax + ay;
  let h = Math.sqrt(ax * ax + ay * ay);
  let t1: number;
  let t2: number;
  if (h <= 2 * ay) {
    const delta = h - ay;
    t1 = ax * (2 * delta - ax);
    t2 = (delta - 2 * (ax - ay)) * delta;
  } else {
    const delta = h - ax;
    t1 = 2 * delta * (ax - 2 * ay);
    t2 = (4 * delta - ay) * ay + delta * delta;
  }
  h -= (t1 + t2) / (2 * h);
  return h;
}

const LN2: DD = [0.6931471805599453, 2.3190468138462996e-17];

function ddExp(x: DD): DD {
  const k = Math.round(x[0] / LN2[0]);
  // r = (x - k ln2) / 32, |r| < 0.011: 16 Taylor terms, then squared 5 times.
  let r = ddAdd(x, ddMulD(LN2, -k));
  r = [r[0] / 32, r[1] / 32];
  let term: DD = [1, 0];
  let sum: DD = [1, 0];
  for (let i = 1; i <= 16; i++) {
    term = ddDivD(ddMul(term, r), i);
    sum = ddAdd(sum, term);
  }
  for (let i = 0; i < 5; i++) sum = ddMul(sum, sum);
  const scale = 2 ** k;
  return [sum[0] * scale, sum[1] * scale];
}

/** log(x) for x > 0 by two Newton steps on exp from V8's double estimate. */
function ddLog(x: DD): DD {
  let y: DD = [Math.log(x[0]), 0];
  for (let i = 0; i < 2; i++) y = ddAdd(y, ddAdd(ddMul(x, ddExp([-y[0], -y[1]])), [-1, 0]));
  return y;
}

// pi/2 in four parts of 33, 33, 33 and 53 bits (fdlibm's pio2_1, pio2_2, pio2_3, pio2_3t): k * part is exact for k < 2^20.
const PIO2 = [1.5707963267341256, 6.077100506303966e-11, 2.0222662487111665e-21, 8.4784276603689e-32];

/** sin and cos of a double in double-double: the argument reduced by k pi/2, then Taylor series on |r| <= pi/4. */
function ddSinCos(x: number): { sin: DD; cos: DD } {
  const k = Math.round(x / PIO2[0]!);
  let r: DD = [x, 0];
  for (const part of PIO2) r = ddAdd(r, [-k * part, 0]);
  const r2 = ddMul(r, r);
  let s: DD = r;
  let c: DD = [1, 0];
  let ts: DD = r;
  let tc: DD = [1, 0];
  for (let i = 1; i <= 14; i++) {
    ts = ddDivD(ddMul(ts, r2), -(2 * i * (2 * i + 1)));
    tc = ddDivD(ddMul(tc, r2), -((2 * i - 1) * (2 * i)));
    s = ddAdd(s, ts);
    c = ddAdd(c, tc);
  }
  const neg = (v: DD): DD => [-v[0], -v[1]];
  switch (((k % 4) + 4) % 4) {
    case 0:
      return { sin: s, cos: c };
    case 1:
      return { sin: c, cos: neg(s) };
    case 2:
      return { sin: neg(s), cos: neg(c) };
    default:
      return { sin: neg(c), cos: s };
  }
}

const cr = {
  exp: (x: number): number => round(ddExp([x, 0])),
  log: (x: number): number => round(ddLog([x, 0])),
  /** glibc's log1p is fdlibm's, which V8's Math.log1p is too (they agree on all but ~0.06 % of arguments; correct rounding on 92 %). */
  log1p: (x: number): number => Math.log1p(x),
  sin: (x: number): number => (x === 0 ? x : round(ddSinCos(x).sin)),
  cos: (x: number): number => round(ddSinCos(x).cos),
  pow: (a: number, e: number): number => (a === 0 ? 0 : round(ddExp(ddMulD(ddLog([a, 0]), e)))),
  hypot: glibcHypot,
  /** One Newton step on y cos t - x sin t = 0 from V8's estimate. */
  atan2: (y: number, x: number): number => {
    const t = Math.atan2(y, x);
    if (y === 0 || !Number.isFinite(t)) return t;
    const { sin, cos } = ddSinCos(t);
    const num = ddAdd(ddMulD(cos, y), ddMulD(sin, -x));
    const den = ddAdd(ddMulD(cos, x), ddMulD(sin, y));
    return round(ddAdd([t, 0], ddDiv(num, den)));
  },
};

/** glibc's __x2y2m1: x^2 + y^2 - 1 with the error of every operation kept (sysdeps/ieee754/dbl-64/x2y2m1.c). */
function x2y2m1(x: number, y: number): number {
  const byAbs = (p: number, q: number) => Math.abs(p) - Math.abs(q);
  const [xh, xl] = mulSplit(x, x);
  const [yh, yl] = mulSplit(y, y);
  const v = [xl, xh, yl, yh, -1].sort(byAbs);
  for (let i = 0; i <= 3; i++) {
    const a = v[i + 1]!;
    const b = v[i]!;
    const hi = a + b;
    v[i + 1] = hi;
    v[i] = a - hi + b;
    const rest = v.slice(i + 1).sort(byAbs);
    v.splice(i + 1, rest.length, ...rest);
  }
  return v[4]! + v[3]! + v[2]! + v[1]! + v[0]!;
}

/** glibc's clog for finite, non-zero z (math/s_clog_template.c). */
function clog(re: number, im: number): Complex {
  let ax = Math.abs(re);
  let ay = Math.abs(im);
  if (ax < ay) [ax, ay] = [ay, ax];
  const EPS = Number.EPSILON;
  let real: number;
  if (ax === 1) real = cr.log1p(ay * ay) / 2;
  else if (ax > 1 && ax < 2 && ay < 1) {
    let d2m1 = (ax - 1) * (ax + 1);
    if (ay >= EPS) d2m1 += ay * ay;
    real = cr.log1p(d2m1) / 2;
  } else if (ax < 1 && ax >= 0.5 && ay < EPS / 2) real = cr.log1p((ax - 1) * (ax + 1)) / 2;
  else if (ax < 1 && ax >= 0.5 && ax * ax + ay * ay >= 0.5) real = cr.log1p(x2y2m1(ax, ay)) / 2;
  else real = cr.log(cr.hypot(ax, ay));
  return [real, cr.atan2(im, re)];
}

/** numpy's complex multiplication (cmul in umath/funcs.inc.src). */
function cmul(a: Complex, b: Complex): Complex {
  return [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
}

/**
 * numpy's `z ** p` for a complex array and a real p > 1 (nc_pow): 2 is np.square (ndarray's fast
 * scalar power), other integers below 100 are repeated multiplication, 0 stays 0, anything else
 * is glibc's cpow = cexp(p * clog(z)).
 */
function cpowReal(z: Complex, p: number): Complex {
  if (Number.isInteger(p) && p < 100) {
    if (p === 2 || p === 3) return p === 2 ? cmul(z, z) : cmul(z, cmul(z, z));
    let acc: Complex = [1, 0];
    let sq: Complex = z;
    for (let mask = 1; ; mask *= 2) {
      if (Math.floor(p / mask) % 2 === 1) acc = cmul(acc, sq);
      if (p < mask * 2) return acc;
      sq = cmul(sq, sq);
    }
  }
  if (z[0] === 0 && z[1] === 0) return [0, 0];
  const [lr, li] = clog(z[0], z[1]);
  const a = p * lr;
  const b = p * li;
  const e = cr.exp(a);
  return Math.abs(b) > 2.2250738585072014e-308 ? [e * cr.cos(b), e * cr.sin(b)] : [e, e * b];
}

/** Python's `base ** e` for an integer base and a float e that is not an integer: a negative base gives CPython's complex _Py_c_pow. */
function pythonPow(base: number, e: number): Complex {
  if (base >= 0) return [cr.pow(base, e), 0];
  const len = cr.pow(cr.hypot(base, 0), e);
  const phase = Math.PI * e; // atan2(0, base)
  return [len * cr.cos(phase), len * cr.sin(phase)];
}

/** np.linspace(start, stop, num) for complex endpoints (step = delta * (1 / div): numpy's complex division). */
function linspaceComplex(start: Complex, stop: Complex, num: number): Complex[] {
  const div = num - 1;
  const dr = stop[0] - start[0];
  const di = stop[1] - start[1];
  const out: Complex[] = [];
  if (num === 1) return [start];
  const scl = 1 / div;
  const sr = dr * scl;
  const si = di * scl;
  for (let i = 0; i < div; i++) out.push([i * sr + start[0], i * si + start[1]]);
  out.push(stop);
  return out;
}

/** np.linspace(start, stop, num) for real endpoints (step = delta / div). */
function linspaceReal(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  if (num === 1) return [start];
  const step = (stop - start) / div;
  const out: number[] = [];
  for (let i = 0; i < div; i++) out.push(i * step + start);
  out.push(stop);
  return out;
}

/** `np.unique(np.int32(values))`: real part, truncated toward zero, sorted, distinct. */
function uniqueInt32(values: number[]): number[] {
  return [...new Set(values.map((v) => Math.trunc(v)))].sort((a, b) => a - b);
}

/**
 * The official `sample_from_quad_center(total_numbers, n_samples, center, pow)` (DeepCache/sd/
 * pipeline_stable_diffusion.py lines 86-96; the SD-XL and Text2Video-Zero pipelines hold copies):
 *
 *     while pow > 1:
 *         x_values = np.linspace((-center)**(1/pow), (total_numbers-center)**(1/pow), n_samples+1)
 *         indices = [0] + [x+center for x in np.unique(np.int32(x_values**pow))[1:-1]]
 *         if len(indices) == n_samples: break
 *         pow -= 0.02
 *     if pow <= 1: raise ValueError("Cannot find suitable pow. ...")
 *     return indices, pow
 *
 * Returns the indices in the official order (0 first, then ascending) and the pow it settled on;
 * the ValueError becomes E_USAGE.
 */
export function sampleFromQuadCenter(totalNumbers: number, nSamples: number, center: number, pow: number): { indices: number[]; pow: number } {
  let p = pow;
  let indices: number[] = [];
  while (p > 1) {
    const e = 1 / p;
    const start = pythonPow(-center, e);
    const stop = pythonPow(totalNumbers - center, e);
    let samples: number[];
    if (center <= 0 && totalNumbers - center >= 0) {
      // Both ends real: a float64 linspace and numpy's real power (libm pow).
      samples = linspaceReal(start[0], stop[0], nSamples + 1).map((x) => (p === 2 ? x * x : cr.pow(x, p)));
    } else {
      samples = linspaceComplex(start, stop, nSamples + 1).map((z) => cpowReal(z, p)[0]);
    }
    indices = [
      0,
      ...uniqueInt32(samples)
        .slice(1, -1)
        .map((x) => x + center),
    ];
    if (indices.length === nSamples) break;
    p -= 0.02;
  }
  if (p <= 1) {
    throw usage(
      `The quadratic DeepCache schedule has no solution for ${totalNumbers} steps, ${nSamples} full steps and center ${center}: the official sample_from_quad_center finds no pow > 1 that gives ${nSamples} distinct steps.`,
      'Raise the interval N (fewer full steps), move the center, or use the uniform schedule.',
    );
  }
  return { indices, pow: p };
}

/**
 * full[k] for k = 0..steps-1: whether step k runs the whole UNet (and stores the deep feature) or
 * only the shallow network on the feature of the last full step.
 *
 * `resets` are the step indices before which the official helper is reset (`disable(); enable()`
 * clears `start_timestep` and the cache); the official TGATE + DeepCache loop resets before
 * G-1 and G (`if (i-num_warmup_steps) == gate_step or (i-num_warmup_steps) == gate_step-1`), so
 * pass [G-1, G]. Indices outside 0..steps-1 (a gate after the run, Infinity) change nothing.
 *
 * uniform (DeepCacheSDHelper.is_skip_step): `start_timestep = cur_timestep if start_timestep is
 * None`, then a full step `if (cur_timestep - start_timestep) % cache_interval == 0`. k is the
 * helper's cur_timestep, `list(scheduler.timesteps).index(t)`: the loop index when the timesteps
 * are distinct (DDIM, DPM-Solver++); with repeated timesteps (PNDM) the caller maps it.
 *
 * quadratic (the experimental pipelines' `__call__`): `cache_interval == 1` -> every step;
 * else `num_slow_step = ceil(T / N)`, `interval_seq = sorted(sample_from_quad_center(T,
 * num_slow_step, center, pow))` and step i is full `if i in interval_seq`; step 0 is always
 * full (the list starts with 0), duplicates count once. The official code has no quadratic
 * schedule with TGATE: T-GATE's loaders use DeepCacheSDHelper, whose only working skip_mode is
 * 'uniform' (any other value never answers "full", so its first step would read an empty cache),
 * and the pipelines that have the quadratic schedule have no TGATE. A reset inside the run
 * (after step 0) is therefore refused: there is no official behaviour to match.
 */
export function deepCacheFullSteps(steps: number, o: DeepCacheOptions, resets: readonly number[] = []): boolean[] {
  checkDeepCache(o);
  checkStepCount('The number of steps', steps, 0);
  for (const r of resets) {
    if (!(Number.isInteger(r) || r === Infinity || r === -Infinity)) {
      throw usage(`A DeepCache reset must be a step index, not ${r}.`, 'The TGATE + DeepCache loop resets the helper before steps G-1 and G.');
    }
  }
  const N = o.interval;
  if (o.schedule === 'uniform') {
    const at = new Set(resets);
    const full: boolean[] = [];
    let start = 0;
    for (let k = 0; k < steps; k++) {
      if (at.has(k)) start = k;
      full.push((k - start) % N === 0);
    }
    return full;
  }
  const inside = resets.filter((r) => r > 0 && r < steps);
  if (inside.length > 0) {
    throw usage(
      `The quadratic DeepCache schedule cannot be combined with a TGATE gate inside the run (the helper would be reset before step ${inside[0]}): the official code has no such combination.`,
      'Use --deepcache-schedule uniform with TGATE (what the official TGATE + DeepCache loaders run), or the quadratic schedule without TGATE (--baseline).',
    );
  }
  if (N === 1) return Array.from({ length: steps }, () => true);
  if (steps === 0) return [];
  const center = o.center ?? DEEPCACHE_QUADRATIC_DEFAULTS.center;
  const pow = o.pow ?? DEEPCACHE_QUADRATIC_DEFAULTS.pow;
  if (center >= steps) {
    throw usage(
      `The DeepCache center must be a step of the run (0 to ${steps - 1}), not ${center}${o.center === undefined ? ' (the default)' : ''}.`,
      `Give --deepcache-center C with C below ${steps}: the official code takes any integer, but a center outside the run clusters the full steps around a step that never comes (${DEEPCACHE_QUADRATIC_DEFAULTS.center} is the SD-1.5 setting).`,
    );
  }
  const { indices } = sampleFromQuadCenter(steps, Math.ceil(steps / N), center, pow);
  const set = new Set(indices);
  return Array.from({ length: steps }, (_, k) => set.has(k));
}

/** A plan as the reference trajectories record it: one character per step, F full, s shallow. */
export function deepCachePlanString(full: readonly boolean[]): string {
  return full.map((f) => (f ? 'F' : 's')).join('');
}
