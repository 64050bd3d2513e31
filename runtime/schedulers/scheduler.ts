// What the sampler needs of a scheduler. A scheduler object lives for one generation: create a
// new one per generation, so no state (PNDM's and DPM-Solver's history, a generator's position)
// leaks between runs.
//
// The sampler loops over MODEL EVALUATIONS, not steps. Evaluation k (0 <= k < timesteps.length)
// feeds the model `scaleModelInput(x, k)` at timestep `timesteps[k]`, then calls
// `x = step(output, k, x)`. For every scheduler but PNDM there is one evaluation per step; PNDM
// (PLMS) evaluates the model once more than it has steps (25 steps: 26 evaluations, the first
// timestep repeated: 961, 921, 921, 881, ..., 1), and with skip_prk_steps false its Runge-Kutta
// warm-up adds more.
//
// img2img, as diffusers' StableDiffusionImg2ImgPipeline.get_timesteps does it:
//   init_timestep = min(int(steps * strength), steps)
//   t_start = max(steps - init_timestep, 0)
//   timesteps = scheduler.timesteps[t_start * scheduler.order:]      (and, where the class has it,
//   scheduler.set_begin_index(t_start * scheduler.order))
// so the first evaluation is k0 = img2imgStart(s, strength) = t_start * order: the initial
// latents are addNoise(x0, noise, k0), and the loop runs k = k0 .. timesteps.length - 1. Because
// every method takes the evaluation index, set_begin_index is implied: Euler-type schedulers read
// sigmas[k], DDIM/PNDM/LCM read timesteps[k], and stateful ones (PNDM's counter and ets,
// DPM-Solver's history, the generator draws) start fresh at the first step call, exactly as the
// diffusers scheduler does after set_timesteps.
//
// `step` must be called once per evaluation, in order (k0, k0 + 1, ...): schedulers with state
// or a generator refuse anything else.

import { TgateError } from '../../base/errors.js';

/** A source of standard normal float32 draws: runtime/torch-random.ts's TorchGenerator. */
export interface NormalGenerator {
  randn(shape: number[]): Float32Array;
}

export interface Scheduler {
  /** tgate's name: pndm, ddim, euler, euler-ancestral, dpmpp-2m, lcm. */
  readonly name: string;
  /** The diffusers class it reproduces. */
  readonly className: string;
  /** num_inference_steps. */
  readonly steps: number;
  /** diffusers' `scheduler.order` (1 for all of these: PNDM's extra evaluation is not an order). */
  readonly order: number;
  /** The model timestep of each model evaluation, as diffusers gives it to the UNet. */
  readonly timesteps: number[];
  /** Euler-type and DPM-Solver: the float32 sigma of each evaluation, then the final one. */
  readonly sigmas?: number[];
  /** Initial (text-to-image) latents are multiplied by this. */
  readonly initNoiseSigma: number;
  /**
   * LCM only: the img2img strength its timesteps were made for (diffusers'
   * LatentConsistencyModelImg2ImgPipeline passes strength to set_timesteps and starts at 0).
   */
  readonly strength?: number;
  /** The latent as the model sees it at evaluation k (Euler-type scale it; the others return x). */
  scaleModelInput(x: Float32Array, k: number): Float32Array;
  /** The denoising update after model evaluation k, from x with the (guided) model output. */
  step(modelOutput: Float32Array, k: number, x: Float32Array): Float32Array;
  /** Noises clean latents to the level of evaluation k (img2img: k = img2imgStart). */
  addNoise(x0: Float32Array, noise: Float32Array, k: number): Float32Array;
}

/**
 * The first model evaluation of an img2img run at this strength (diffusers' get_timesteps):
 * t_start * order with t_start = max(steps - min(int(steps * strength), steps), 0).
 * strength 1 gives 0 (the whole schedule). LatentConsistencyModelImg2ImgPipeline is different:
 * its strength goes into set_timesteps (createScheduler(..., { strength })) and it starts at 0.
 */
export function img2imgStart(s: Scheduler, strength: number): number {
  if (!(strength >= 0 && strength <= 1)) throw new TgateError('E_USAGE', `strength must be between 0 and 1, not ${strength}.`);
  if (s.strength !== undefined) {
    if (s.strength !== strength) {
      throw new TgateError(
        'E_USAGE',
        `This ${s.className} was made for img2img strength ${s.strength}, not ${strength}: LCM takes the strength when its timesteps are set.`,
        {
          hint: 'Create it with the strength: createScheduler(name, steps, config, { generator, strength }).',
        },
      );
    }
    return 0;
  }
  const init = Math.min(Math.trunc(s.steps * strength), s.steps);
  const tStart = Math.max(s.steps - init, 0);
  return Math.min(tStart * s.order, s.timesteps.length);
}

/** Checks that step is called once per evaluation, in order, for schedulers that keep state. */
export function evaluationOrder(name: string): (k: number, length: number) => void {
  let last: number | null = null;
  return (k, length) => {
    if (!Number.isInteger(k) || k < 0 || k >= length) {
      throw new TgateError('E_USAGE', `${name}: evaluation index ${k} is outside 0..${length - 1}.`);
    }
    if (last !== null && k !== last + 1) {
      throw new TgateError(
        'E_USAGE',
        `${name}.step was called for evaluation ${k} after ${last}: it keeps state between steps, so it must be called once per model evaluation, in order.`,
        {
          hint: 'Create a new scheduler for each generation and call step for k = start, start + 1, ... .',
        },
      );
    }
    last = k;
  };
}
