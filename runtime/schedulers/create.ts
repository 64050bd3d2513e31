// Scheduler names the CLI and API accept, and the factory from a ready SchedulerConfig.
import { TgateError } from '../../base/errors.js';
import { STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
import { checkSchedulerConfig, checkSteps, scheduleProblem } from './config-check.js';
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
  /** The file the config came from, for messages (its values are then E_BAD_CONFIG naming it). */
  source?: string;
}

/**
 * A scheduler for one generation of `steps` steps. The config is used as given (parseSchedulerConfig
 * overlays a file on the Stable Diffusion settings); for diffusers' from_config semantics (each
 * class's own defaults) use schedulerFromConfig. Every scheduler is made here, so this is where
 * the config's ranges, the number of steps and the resulting timesteps are checked
 * (config-check.ts): a scheduler that exists can run without NaN from its own arithmetic.
 */
export function createScheduler(name: string, steps: number, config: SchedulerConfig = STABLE_DIFFUSION_CONFIG, opts: CreateSchedulerOptions = {}): Scheduler {
  if (!(SCHEDULERS as readonly string[]).includes(name)) {
    throw new TgateError('E_USAGE', `Unknown scheduler "${name}".`, { hint: `Use one of ${SCHEDULERS.join(', ')}.` });
  }
  checkSchedulerConfig(config, { source: opts.source ?? null, name });
  const n = config.num_train_timesteps;
  checkSteps(steps, n);
  const s = build(name as SchedulerName, steps, config, opts);
  const problem = scheduleProblem(s, n);
  if (problem) {
    // The nearest step counts below that this config can make (found by building them: cheap).
    const works: number[] = [];
    for (let k = steps - 1; k >= Math.max(1, steps - 64) && works.length < 1; k--) {
      try {
        if (!scheduleProblem(build(name as SchedulerName, k, config, { ...opts, generator: NO_DRAWS }), n)) works.push(k);
      } catch {
        // not this one either
      }
    }
    const settings = `timestep_spacing ${config.timestep_spacing ?? 'default'}, steps_offset ${config.steps_offset}, num_train_timesteps ${n}`;
    throw new TgateError('E_USAGE', `${SCHEDULER_CLASSES[name as SchedulerName]} cannot run ${steps} steps with this config (${settings}): ${problem}.`, {
      ...(opts.source ? { subject: { file: opts.source } } : {}),
      hint: works.length
        ? `Use fewer steps (${works[0]} works), or change the config's timestep_spacing/steps_offset.`
        : "Use fewer steps, or change the config's timestep_spacing/steps_offset.",
    });
  }
  return s;
}

/** A generator for trial builds (the schedulers that need one only draw when they step). */
const NO_DRAWS: NormalGenerator = { randn: (shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)) };

function build(name: SchedulerName, steps: number, config: SchedulerConfig, opts: CreateSchedulerOptions): Scheduler {
  switch (name) {
    case 'ddim':
      return ddim(config, steps);
    case 'euler':
      return euler(config, steps, opts.generator);
    case 'dpmpp-2m':
      return dpmSolverPP(config, steps);
    case 'pndm':
      return pndm(config, steps);
    case 'euler-ancestral':
      return eulerAncestral(config, steps, opts.generator);
    case 'lcm':
      return lcm(config, steps, opts.generator, opts.strength);
  }
}
