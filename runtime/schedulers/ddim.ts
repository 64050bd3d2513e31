// DDIM with eta 0 (deterministic), as diffusers' DDIMScheduler: leading spacing by default.
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, spacedTimesteps } from './noise-schedule.js';
import { splitPrediction, type Scheduler } from './scheduler.js';

export function ddim(c: SchedulerConfig, steps: number): Scheduler {
  const ac = alphasCumprod(c);
  const n = c.num_train_timesteps;
  const timesteps = spacedTimesteps(c.timestep_spacing ?? 'leading', n, steps, c.steps_offset, true);
  const finalAlpha = c.set_alpha_to_one ? 1 : ac[0]!;
  const ratio = Math.floor(n / steps);
  return {
    name: 'ddim',
    timesteps,
    initNoiseSigma: 1,
    callsPerStep: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      const t = timesteps[k]!;
      const prev = t - ratio;
      const at = ac[t]!;
      const aPrev = prev >= 0 ? ac[prev]! : finalAlpha;
      const { x0, eps } = splitPrediction(c.prediction_type, out, x, Math.sqrt(at), Math.sqrt(1 - at));
      if (c.clip_sample) for (let i = 0; i < x0.length; i++) x0[i] = Math.min(c.clip_sample_range, Math.max(-c.clip_sample_range, x0[i]!));
      const sa = Math.sqrt(aPrev);
      const sb = Math.sqrt(1 - aPrev);
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) next[i] = sa * x0[i]! + sb * eps[i]!;
      return next;
    },
    addNoise(x0, noise, k) {
      const a = ac[timesteps[k]!]!;
      return Float32Array.from(x0, (v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * noise[i]!);
    },
  };
}
