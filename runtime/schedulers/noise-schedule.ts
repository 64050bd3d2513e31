// The training noise schedule (betas, cumulative alphas, sigmas) and the timestep spacings,
// computed as diffusers v0.29.2 computes them with torch 1.13 / numpy on CPU, so timesteps are
// identical and the float32 schedule is bit for bit torch's:
// * torch.linspace(float32) as the AVX2 kernel runs it (blocks of 8 from a fused base);
// * torch.cumprod accumulates in double and stores float32;
// * numpy's arange / linspace / interp / round with their own rounding.
import type { SchedulerConfig, TimestepSpacing } from './config-types.js';

const f = Math.fround;

/** torch.linspace(a, b, n, dtype=torch.float32) on CPU (AVX2 build), bit for bit. */
export function torchLinspaceF32(a: number, b: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 0) return out;
  const start = f(a);
  const end = f(b);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = f(f(end - start) / (n - 1));
  const halfway = Math.floor(n / 2);
  // `start + step * idx` is compiled to a fused multiply-add: one rounding (the double sum is
  // exact here: a float32 plus a float32 times a small integer).
  const fromIdx = (idx: number) => (idx < halfway ? f(start + step * idx) : f(end - step * (n - idx - 1)));
  const vectorEnd = Math.floor(n / 16) * 16; // cpu_serial_kernel_vec: pairs of 8-lane vectors
  for (let v = 0; v < vectorEnd; v += 8) {
    const base = fromIdx(v);
    out[v] = base;
    for (let j = 1; j < 8; j++) out[v + j] = f(base + f(j * step)); // Vectorized::arange
  }
  for (let i = vectorEnd; i < n; i++) out[i] = fromIdx(i);
  return out;
}

/** betas_for_alpha_bar (cosine), in Python floats, then float32. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => {
    const c = Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2);
    return c * c;
  };
  return Float32Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
}

export function betas(c: SchedulerConfig): Float32Array {
  const n = c.num_train_timesteps;
  if (c.trained_betas) return Float32Array.from(c.trained_betas);
  if (c.beta_schedule === 'linear') return torchLinspaceF32(c.beta_start, c.beta_end, n);
  if (c.beta_schedule === 'scaled_linear') return torchLinspaceF32(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => f(b * b));
  return cosineBetas(n);
}

/** alphas_cumprod = torch.cumprod(1.0 - betas): float32, accumulated in double. */
export function alphasCumprod(c: SchedulerConfig): Float32Array {
  const b = betas(c);
  const out = new Float32Array(b.length);
  let acc = 1;
  for (let i = 0; i < b.length; i++) {
    acc *= f(1 - b[i]!);
    out[i] = acc;
  }
  return out;
}

/** ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5 in float32 (index = training timestep). */
export function trainingSigmas(ac: Float32Array): Float32Array {
  return ac.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
}

/** numpy.linspace(a, b, n, endpoint) in float64. */
export function linspace(a: number, b: number, n: number, endpoint = true): number[] {
  if (n <= 0) return [];
  const div = endpoint ? n - 1 : n;
  if (div === 0) return [a];
  const step = (b - a) / div;
  const out = Array.from({ length: n }, (_, i) => i * step + a);
  if (endpoint && n > 1) out[n - 1] = b;
  return out;
}

/** numpy.arange(start, stop, step) in float64: numpy's length and fill (start + i * delta). */
export function arange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  if (len === 0) return [];
  if (len === 1) return [start];
  const delta = start + step - start;
  return Array.from({ length: len }, (_, i) => (i === 0 ? start : i === 1 ? start + step : start + i * delta));
}

/** numpy.round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.interp(x, arange(len(ys)), ys), float64 result. */
export function interpAtIndex(x: number, ys: ArrayLike<number>): number {
  const n = ys.length;
  if (x < 0) return ys[0]!;
  if (x >= n - 1) return ys[n - 1]!;
  const j = Math.floor(x);
  if (j === x) return ys[j]!;
  const slope = ys[j + 1]! - ys[j]!;
  return slope * (x - j) + ys[j]!;
}

/**
 * The timesteps of DDIM / Euler-type schedulers for `steps` steps, descending, as float64 values
 * before any dtype cast (integers for leading/trailing and for rounded linspace).
 */
export function spacedTimesteps(spacing: TimestepSpacing, n: number, steps: number, offset: number, round: boolean): number[] {
  if (spacing === 'linspace') {
    const ts = linspace(0, n - 1, steps).reverse();
    return round ? ts.map(roundHalfEven) : ts;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    return Array.from({ length: steps }, (_, i) => i * ratio + offset).reverse();
  }
  return arange(n, 0, -n / steps).map((t) => roundHalfEven(t) - 1);
}

/** sigma(t) = sqrt((1 - abar) / abar) in float32, linearly interpolated at fractional t (numpy.interp). */
export function sigmaAt(ac: Float32Array, t: number): number {
  return f(interpAtIndex(t, trainingSigmas(ac)));
}
