// Scheduler names the CLI and API accept, and the factory from a ready SchedulerConfig.
import { TgateError } from '../../compiler/errors.js';
import { STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
import { ddim } from './ddim.js';
import { dpmSolverPP } from './dpm-solver.js';
import { euler, eulerAncestral } from './euler.js';
import { lcm } from './lcm.js';
import { pndm } from './pndm.js';
import type { NormalGenerator, Scheduler } from './scheduler.js';

export const SCHEDULERS = ['ddim', 'euler', 'dpmpp-2m', 'pndm', 'euler-ancestral', 'lcm'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

/** The diffusers class behind each name. */
export const SCHEDULER_CLASSES: Record<SchedulerName, string> = {
  ddim: 'DDIMScheduler',
  euler: 'EulerDiscreteScheduler',
  'dpmpp-2m': 'DPMSolverMultistepScheduler',
  pndm: 'PNDMScheduler',
  'euler-ancestral': 'EulerAncestralDiscreteScheduler',
  lcm: 'LCMScheduler',
};


export interface CreateSchedulerOptions {
  /**
   * The generation's generator (a TorchGenerator): euler-ancestral and lcm draw from it at each
   * step, continuing after the draws of the initial latents, as diffusers pipelines do (euler,
   * given one, makes diffusers' unused per-step draw too, so the generator ends where diffusers'
   * does).
   */
  generator?: NormalGenerator;
  /**
   * lcm: the strength of LatentConsistencyModelImg2ImgPipeline, which makes the timesteps for it
   * (img2img then starts at 0); the other schedulers ignore it.
   */
  strength?: number;
}

/**
 * A scheduler for one generation of `steps` steps. The config is used as given (parseSchedulerConfig
 * overlays a file on the Stable Diffusion settings); for diffusers' from_config semantics (each
 * class's own defaults) use schedulerFromConfig.
 */
export function createScheduler(name: string, steps: number, config: SchedulerConfig = STABLE_DIFFUSION_CONFIG, opts: CreateSchedulerOptions = {}): Scheduler {
  if (!Number.isInteger(steps) || steps < 1) throw new TgateError('E_USAGE', `steps must be a positive whole number, not ${steps}.`);
  if (steps > config.num_train_timesteps) throw new TgateError('E_USAGE', `steps (${steps}) cannot be more than the ${config.num_train_timesteps} training timesteps.`);
  switch (name) {
    case 'ddim': return ddim(config, steps);
    case 'euler': return euler(config, steps, opts.generator);
    case 'dpmpp-2m': return dpmSolverPP(config, steps);
    case 'pndm': return pndm(config, steps);
    case 'euler-ancestral': return eulerAncestral(config, steps, opts.generator);
    case 'lcm': return lcm(config, steps, opts.generator, opts.strength);
    default:
      throw new TgateError('E_USAGE', `Unknown scheduler "${name}".`, { hint: `Use one of ${SCHEDULERS.join(', ')}.` });
  }
}
