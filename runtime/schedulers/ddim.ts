// DDIM with eta 0 (deterministic), as diffusers' DDIMScheduler: leading spacing by default. The
// arithmetic is torch's float32, op by op (Math.fround after each), so a step reproduces
// diffusers' to the last bit or so.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, spacedTimesteps } from './noise-schedule.js';
import type { Scheduler } from './scheduler.js';

const f = Math.fround;

/** The add_noise of DDPM-family schedulers (DDIM, PNDM, LCM) at alphas_cumprod value a (float32). */
export function vpAddNoise(x0: Float32Array, noise: Float32Array, a: number): Float32Array {
  const sa = f(Math.sqrt(a));
  const sb = f(Math.sqrt(f(1 - a)));
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = f(sa * x0[i]!) + f(sb * noise[i]!);
  return out;
}

/** pred_original_sample (and pred_epsilon) as DDIM/LCM compute them, in float32. */
export function predictX0(
  kind: SchedulerConfig['prediction_type'],
  out: Float32Array,
  x: Float32Array,
  at: number,
  withEps: boolean,
): { x0: Float32Array; eps: Float32Array | null } {
  const n = x.length;
  const sa = f(Math.sqrt(at));
  const sb = f(Math.sqrt(f(1 - at)));
  const x0 = new Float32Array(n);
  const eps = withEps ? new Float32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const m = out[i]!;
    const s = x[i]!;
    if (kind === 'epsilon') {
      x0[i] = f(s - f(sb * m)) / sa;
      if (eps) eps[i] = m;
    } else if (kind === 'sample') {
      x0[i] = m;
      if (eps) eps[i] = f(s - f(sa * m)) / sb;
    } else {
      x0[i] = f(sa * s) - f(sb * m);
      if (eps) eps[i] = f(sa * m) + f(sb * s);
    }
  }
  return { x0, eps };
}

export function clipSample(x0: Float32Array, range: number): void {
  const r = f(range);
  for (let i = 0; i < x0.length; i++) x0[i] = Math.min(r, Math.max(-r, x0[i]!));
}

export function ddim(c: SchedulerConfig, steps: number): Scheduler {
  const ac = alphasCumprod(c);
  const n = c.num_train_timesteps;
  const timesteps = spacedTimesteps(c.timestep_spacing ?? 'leading', n, steps, c.steps_offset, true);
  const finalAlpha = c.set_alpha_to_one ? 1 : ac[0]!;
  const ratio = Math.floor(n / steps);
  return {
    name: 'ddim',
    className: 'DDIMScheduler',
    steps,
    order: 1,
    timesteps,
    initNoiseSigma: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      const t = timesteps[k]!;
      const prev = t - ratio;
      const at = ac[t]!;
      const aPrev = prev >= 0 ? ac[prev]! : finalAlpha;
      const { x0, eps } = predictX0(c.prediction_type, out, x, at, true);
      if (c.clip_sample) clipSample(x0, c.clip_sample_range);
      // eta = 0: std_dev_t = 0, direction (1 - a_prev - 0) ** 0.5 * eps.
      const sa = f(Math.sqrt(aPrev));
      const sb = f(Math.sqrt(f(1 - aPrev)));
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) next[i] = f(sa * x0[i]!) + f(sb * eps![i]!);
      return next;
    },
    addNoise: (x0, noise, k) => vpAddNoise(x0, noise, ac[timesteps[k]!]!),
  };
}
