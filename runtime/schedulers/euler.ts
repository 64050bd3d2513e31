// Euler discrete, as diffusers' EulerDiscreteScheduler (no churn), and Euler ancestral, as
// EulerAncestralDiscreteScheduler: sigmas interpolated at the (possibly fractional, float32)
// timesteps, the final sigma appended, the model input divided by sqrt(sigma^2 + 1); torch's
// float32 arithmetic op by op. The ancestral sampler adds fresh noise each step, drawn from the
// pipeline's generator (randn_tensor(model_output.shape, generator=generator)).
import { TgateError } from '../../base/errors.js';
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, arange, interpAtIndex, linspace, roundHalfEven, trainingSigmas } from './noise-schedule.js';
import { evaluationOrder, type NormalGenerator, type Scheduler } from './scheduler.js';

const f = Math.fround;

/** Euler-type timesteps (float32 values) and sigmas (float32, the final one appended). */
export function eulerSchedule(
  c: SchedulerConfig,
  steps: number,
  finalSigma: 'zero' | 'sigma_min',
): { timesteps: number[]; sigmas: number[]; initNoiseSigma: number } {
  const ac = alphasCumprod(c);
  const n = c.num_train_timesteps;
  const spacing = c.timestep_spacing ?? 'linspace';
  let timesteps: number[];
  if (spacing === 'linspace')
    timesteps = linspace(0, n - 1, steps)
      .reverse()
      .map(f);
  else if (spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    timesteps = Array.from({ length: steps }, (_, i) => i * ratio)
      .reverse()
      .map((t) => f(t + c.steps_offset));
  } else timesteps = arange(n, 0, -n / steps).map((t) => f(roundHalfEven(t) - 1));
  const train = trainingSigmas(ac);
  const last = finalSigma === 'zero' ? 0 : train[0]!;
  const sigmas = [...timesteps.map((t) => f(interpAtIndex(t, train))), last];
  const maxSigma = Math.max(...sigmas);
  const initNoiseSigma = spacing === 'linspace' || spacing === 'trailing' ? maxSigma : f(Math.sqrt(f(f(maxSigma * maxSigma) + 1)));
  return { timesteps, sigmas, initNoiseSigma };
}

function scaleBySigma(x: Float32Array, sigma: number): Float32Array {
  const d = f(Math.sqrt(f(f(sigma * sigma) + 1)));
  return x.map((v) => v / d);
}

/** pred_original_sample of the Euler schedulers in float32 (sample prediction: Euler only). */
function eulerX0(kind: SchedulerConfig['prediction_type'], out: Float32Array, x: Float32Array, sigma: number): Float32Array {
  if (kind === 'epsilon') return x.map((s, i) => s - f(sigma * out[i]!));
  if (kind === 'sample') return out.slice();
  const s2 = f(f(sigma * sigma) + 1);
  const co = f(-sigma / f(Math.sqrt(s2)));
  return x.map((s, i) => f(out[i]! * co) + f(s / s2));
}

/**
 * With a generator, each step makes the noise draw diffusers' EulerDiscreteScheduler.step makes
 * and, with s_churn 0, never uses: the samples do not change, but the generator ends where
 * diffusers' does (which matters only to whoever draws from it next).
 */
export function euler(c: SchedulerConfig, steps: number, generator?: NormalGenerator): Scheduler {
  const { timesteps, sigmas, initNoiseSigma } = eulerSchedule(c, steps, c.final_sigmas_type);
  return {
    name: 'euler',
    className: 'EulerDiscreteScheduler',
    steps,
    order: 1,
    timesteps,
    sigmas,
    initNoiseSigma,
    scaleModelInput: (x, k) => scaleBySigma(x, sigmas[k]!),
    step(out, k, x) {
      // s_churn 0: gamma 0, sigma_hat = sigma; the noise drawn for the churn is not used.
      if (generator) generator.randn([x.length]);
      const sigma = sigmas[k]!;
      const x0 = eulerX0(c.prediction_type, out, x, sigma);
      const dt = f(sigmas[k + 1]! - sigma);
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) next[i] = x[i]! + f(f(f(x[i]! - x0[i]!) / sigma) * dt);
      return next;
    },
    addNoise(x0, noise, k) {
      const s = sigmas[k]!;
      return x0.map((v, i) => v + f(noise[i]! * s));
    },
  };
}

export function eulerAncestral(c: SchedulerConfig, steps: number, generator: NormalGenerator | undefined): Scheduler {
  if (!generator) {
    throw new TgateError('E_USAGE', 'euler-ancestral draws fresh noise at every step: it needs the generator of the generation.', {
      hint: 'Pass the pipeline generator (a TorchGenerator seeded like the latents): createScheduler(name, steps, config, { generator }).',
    });
  }
  if (c.prediction_type === 'sample') {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      'EulerAncestralDiscreteScheduler does not implement prediction_type "sample" (diffusers raises NotImplementedError).',
    );
  }
  const { timesteps, sigmas, initNoiseSigma } = eulerSchedule(c, steps, 'zero');
  // sigma_up and sigma_down of each step, in torch's float32. From a sigma thousands of times the
  // next, sigma_up rounds to the next sigma and sigma_down takes the root of a rounding error below
  // 0: NaN (diffusers too). Computed up front so such a schedule is refused before anything runs.
  const moves = timesteps.map((_, k) => {
    const from2 = f(sigmas[k]! * sigmas[k]!);
    const to = sigmas[k + 1]!;
    const to2 = f(to * to);
    const up = f(Math.sqrt(f(f(to2 * f(from2 - to2)) / from2)));
    const down = f(Math.sqrt(f(to2 - f(up * up))));
    return { up, down };
  });
  const lost = moves.findIndex((m) => !Number.isFinite(m.up) || !Number.isFinite(m.down));
  if (lost >= 0) {
    throw new TgateError(
      'E_USAGE',
      `EulerAncestralDiscreteScheduler cannot run ${steps} steps with this config: the ancestral step from sigma ${sigmas[lost]} to ${sigmas[lost + 1]} (evaluation ${lost}) is NaN in float32 (diffusers' arithmetic too).`,
      {
        hint: 'Use more steps (smaller jumps between noise levels), or another scheduler (euler, dpmpp-2m).',
      },
    );
  }
  const order = evaluationOrder('euler-ancestral');
  return {
    name: 'euler-ancestral',
    className: 'EulerAncestralDiscreteScheduler',
    steps,
    order: 1,
    timesteps,
    sigmas,
    initNoiseSigma,
    scaleModelInput: (x, k) => scaleBySigma(x, sigmas[k]!),
    step(out, k, x) {
      order(k, timesteps.length);
      const sigma = sigmas[k]!;
      const x0 = eulerX0(c.prediction_type, out, x, sigma);
      const { up, down } = moves[k]!;
      const dt = f(down - sigma);
      const noise = generator.randn([x.length]);
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const p = f(x[i]! + f(f(f(x[i]! - x0[i]!) / sigma) * dt));
        next[i] = p + f(noise[i]! * up);
      }
      return next;
    },
    addNoise(x0, noise, k) {
      const s = sigmas[k]!;
      return x0.map((v, i) => v + f(noise[i]! * s));
    },
  };
}
