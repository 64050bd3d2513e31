// Euler discrete, as diffusers' EulerDiscreteScheduler (no churn): sigmas interpolated at the
// (possibly fractional) timesteps, a zero sigma appended, the model input scaled by
// 1/sqrt(sigma^2 + 1).
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, sigmaAt, spacedTimesteps } from './noise-schedule.js';
import type { Scheduler } from './scheduler.js';

export function euler(c: SchedulerConfig, steps: number): Scheduler {
  const ac = alphasCumprod(c);
  const spacing = c.timestep_spacing ?? 'linspace';
  const timesteps = spacedTimesteps(spacing, c.num_train_timesteps, steps, c.steps_offset, false);
  const sigmas = [...timesteps.map((t) => sigmaAt(ac, t)), 0];
  const maxSigma = Math.max(...sigmas);
  return {
    name: 'euler',
    timesteps,
    initNoiseSigma: spacing === 'linspace' || spacing === 'trailing' ? maxSigma : Math.sqrt(maxSigma * maxSigma + 1),
    callsPerStep: 1,
    scaleModelInput(x, k) {
      const s = 1 / Math.sqrt(sigmas[k]! ** 2 + 1);
      return Float32Array.from(x, (v) => v * s);
    },
    step(out, k, x) {
      const sigma = sigmas[k]!;
      const dt = sigmas[k + 1]! - sigma;
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const m = out[i]!;
        const s = x[i]!;
        let x0: number;
        if (c.prediction_type === 'epsilon') x0 = s - sigma * m;
        else if (c.prediction_type === 'v_prediction') x0 = m * (-sigma / Math.sqrt(sigma * sigma + 1)) + s / (sigma * sigma + 1);
        else x0 = m;
        next[i] = s + ((s - x0) / sigma) * dt;
      }
      return next;
    },
    addNoise(x0, noise, k) {
      const s = sigmas[k]!;
      return Float32Array.from(x0, (v, i) => v + s * noise[i]!);
    },
  };
}
