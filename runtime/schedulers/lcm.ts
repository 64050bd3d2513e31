// LCM multistep sampling, as diffusers' LCMScheduler: timesteps picked from the
// original_inference_steps-long distillation schedule, the consistency function's boundary-condition
// scalings (c_skip, c_out) on the x0 prediction give the denoised latent, and between steps (not
// after the last) the denoised latent is noised again to the next timestep with noise drawn from
// the pipeline's generator. In torch's float32. LCMScheduler.set_timesteps ignores
// timestep_spacing and steps_offset (diffusers does too); `strength` is set_timesteps' strength, as
// LatentConsistencyModelImg2ImgPipeline passes it.
import { TgateError } from '../../base/errors.js';
import type { SchedulerConfig } from './config.js';
import { clipSample, predictX0, vpAddNoise } from './ddim.js';
import { alphasCumprod, linspace } from './noise-schedule.js';
import { evaluationOrder, type NormalGenerator, type Scheduler } from './scheduler.js';

const f = Math.fround;

export function lcmTimesteps(c: SchedulerConfig, steps: number, strength = 1): number[] {
  const n = c.num_train_timesteps;
  const original = c.original_inference_steps;
  const bad = (why: string) => new TgateError('E_USAGE', `LCM with ${steps} steps: ${why}.`);
  if (!Number.isInteger(original) || original < 1) throw bad(`original_inference_steps must be a positive whole number, not ${original}`);
  if (original > n) throw bad(`original_inference_steps ${original} cannot be larger than num_train_timesteps ${n}`);
  if (steps > n) throw bad(`num_inference_steps cannot be larger than num_train_timesteps ${n}`);
  const k = Math.floor(n / original);
  const count = Math.trunc(original * strength);
  const origin = Array.from({ length: Math.max(count, 0) }, (_, i) => (i + 1) * k - 1);
  if (Math.floor(origin.length / steps) < 1) {
    throw bad(`original_inference_steps x strength (${original} x ${strength}) is smaller than the number of steps; use at most ${count} steps`);
  }
  if (steps > original) throw bad(`num_inference_steps cannot be larger than original_inference_steps ${original}`);
  origin.reverse();
  return linspace(0, origin.length, steps, false).map((i) => origin[Math.floor(i)]!);
}

/**
 * `strength` given: the timesteps of LatentConsistencyModelImg2ImgPipeline (strength inside
 * set_timesteps, img2img starting at 0); absent: set_timesteps' default 1, and an img2img
 * pipeline of another kind (StableDiffusionImg2ImgPipeline with LCM-LoRA) slices them as usual.
 */
export function lcm(c: SchedulerConfig, steps: number, generator: NormalGenerator | undefined, strength?: number): Scheduler {
  if (!generator) {
    throw new TgateError('E_USAGE', 'lcm noises the denoised latent again between steps: it needs the generator of the generation.', {
      hint: 'Pass the pipeline generator (a TorchGenerator seeded like the latents): createScheduler(name, steps, config, { generator }).',
    });
  }
  const ac = alphasCumprod(c);
  const timesteps = lcmTimesteps(c, steps, strength ?? 1);
  const finalAlpha = c.set_alpha_to_one ? 1 : ac[0]!;
  const order = evaluationOrder('lcm');
  const sigmaData2 = 0.25; // sigma_data = 0.5
  return {
    name: 'lcm',
    className: 'LCMScheduler',
    steps,
    order: 1,
    timesteps,
    ...(strength !== undefined ? { strength } : {}),
    initNoiseSigma: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      order(k, timesteps.length);
      const t = timesteps[k]!;
      const prevT = k + 1 < timesteps.length ? timesteps[k + 1]! : t;
      const at = ac[t]!;
      const aPrev = prevT >= 0 ? ac[prevT]! : finalAlpha;
      // get_scalings_for_boundary_condition_discrete, with the int64 timestep times a float.
      const scaled = f(t * f(c.timestep_scaling));
      const d = f(f(scaled * scaled) + sigmaData2);
      const cSkip = f(sigmaData2 / d);
      const cOut = f(scaled / f(Math.sqrt(d)));
      const { x0 } = predictX0(c.prediction_type, out, x, at, false);
      if (c.clip_sample) clipSample(x0, c.clip_sample_range);
      const denoised = x0.map((v, i) => f(cOut * v) + f(cSkip * x[i]!));
      if (k === steps - 1) return denoised;
      // alpha_prod_t_prev.sqrt() * denoised + beta_prod_t_prev.sqrt() * noise
      return vpAddNoise(denoised, generator.randn([x.length]), aPrev);
    },
    addNoise: (x0, noise, k) => vpAddNoise(x0, noise, ac[timesteps[k]!]!),
  };
}
