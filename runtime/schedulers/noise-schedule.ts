// The training noise schedule (betas, cumulative alphas) and timestep spacings, as diffusers
// computes them. alphas_cumprod is built in float32 like torch does, so the values match the
// reference pipelines bit for bit where it matters.
import type { SchedulerConfig, TimestepSpacing } from './config.js';

export function alphasCumprod(c: SchedulerConfig): Float32Array {
  const n = c.num_train_timesteps;
  let betas: number[];
  if (c.trained_betas) betas = c.trained_betas.slice();
  else if (c.beta_schedule === 'linear') betas = linspace(c.beta_start, c.beta_end, n);
  else if (c.beta_schedule === 'scaled_linear') betas = linspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => Math.fround(Math.fround(b) * Math.fround(b)));
  else {
    const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
    betas = Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
  }
  const out = new Float32Array(n);
  let acc = Math.fround(1);
  for (let i = 0; i < n; i++) {
    acc = Math.fround(acc * Math.fround(1 - Math.fround(betas[i]!)));
    out[i] = acc;
  }
  return out;
}

export function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** numpy.round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** DDIM/Euler-style spacing over the training steps, descending. */
export function spacedTimesteps(spacing: TimestepSpacing, n: number, steps: number, offset: number, round: boolean): number[] {
  if (spacing === 'linspace') {
    const ts = linspace(0, n - 1, steps).reverse();
    return round ? ts.map(roundHalfEven) : ts;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    return Array.from({ length: steps }, (_, i) => roundHalfEven(i * ratio) + offset).reverse();
  }
  const ratio = n / steps;
  return Array.from({ length: steps }, (_, i) => roundHalfEven(n - i * ratio) - 1);
}

/** sigma(t) = sqrt((1 - abar) / abar), linearly interpolated at fractional t (numpy.interp). */
export function sigmaAt(ac: Float32Array, t: number): number {
  const sig = (i: number) => Math.sqrt((1 - ac[i]!) / ac[i]!);
  const lo = Math.max(0, Math.min(ac.length - 1, Math.floor(t)));
  const hi = Math.min(ac.length - 1, lo + 1);
  const w = t - lo;
  return w === 0 ? sig(lo) : sig(lo) * (1 - w) + sig(hi) * w;
}
