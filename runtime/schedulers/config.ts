// Scheduler configuration with the keys of diffusers' scheduler_config.json. parseSchedulerConfig
// overlays a config on the Stable Diffusion settings whatever its class (the `tgate run
// --scheduler-config` route); from-config.ts does what diffusers' `from_config` does instead
// (each class's own defaults, its own keys). Unknown keys are ignored (diffusers keeps bookkeeping
// keys like _class_name); known keys with bad values are refused.
import { TgateError } from '../../base/errors.js';
import { checkSchedulerConfig } from './config-check.js';

export type { BetaSchedule, PredictionType, SchedulerConfig, TimestepSpacing } from './config-types.js';
import type { SchedulerConfig } from './config-types.js';

/** The Stable Diffusion scheduler config (SD-1.x/2.x/XL pipelines ship these values). */
export const STABLE_DIFFUSION_CONFIG: SchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  prediction_type: 'epsilon',
  timestep_spacing: null,
  steps_offset: 1,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  clip_sample: false,
  clip_sample_range: 1,
  solver_order: 2,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  final_sigmas_type: 'zero',
  lambda_min_clipped: -Infinity,
  interpolation_type: 'linear',
  original_inference_steps: 50,
  timestep_scaling: 10,
};

const CHOICES: Partial<Record<keyof SchedulerConfig, readonly unknown[]>> = {
  beta_schedule: ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
  timestep_spacing: ['leading', 'linspace', 'trailing', null],
  prediction_type: ['epsilon', 'v_prediction', 'sample'],
  algorithm_type: ['dpmsolver++'],
  solver_type: ['midpoint', 'heun'],
  final_sigmas_type: ['zero', 'sigma_min'],
  interpolation_type: ['linear'],
};

/** Unsupported settings that change the numbers: refused rather than silently ignored. */
const MUST_BE: Record<string, unknown[]> = {
  thresholding: [false, undefined],
  use_karras_sigmas: [false, undefined, null],
  use_exponential_sigmas: [false, undefined, null],
  use_beta_sigmas: [false, undefined, null],
  use_lu_lambdas: [false, undefined, null],
  rescale_betas_zero_snr: [false, undefined],
  variance_type: [null, undefined, 'fixed_small', 'fixed_small_log'],
  timestep_type: ['discrete', undefined],
};

const INFINITIES: Record<string, number> = { '-inf': -Infinity, '-Infinity': -Infinity, inf: Infinity, Infinity: Infinity };

/**
 * The settings of `json` (a parsed scheduler_config.json) over `base`. A value of the wrong type
 * or out of range is E_BAD_CONFIG (exit 3) naming the key, the range and the file; a setting
 * tgate does not implement (thresholding, Karras sigmas, an unknown choice) E_UNSUPPORTED_MODEL.
 */
export function parseSchedulerConfig(json: Record<string, unknown>, source: string, base: SchedulerConfig = STABLE_DIFFUSION_CONFIG): SchedulerConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new TgateError('E_BAD_CONFIG', `Scheduler config ${source} is not a JSON object ({"key": value, ...}).`, {
      subject: { file: source },
      hint: 'Use a diffusers scheduler_config.json.',
    });
  }
  const out: SchedulerConfig = { ...base };
  const hint =
    'Use a diffusers scheduler_config.json (PNDM, DDIM, Euler, Euler ancestral, DPM-Solver multistep, LCM), or leave the key out for the Stable Diffusion default.';
  const unsupported = (key: string, why: string) =>
    new TgateError('E_UNSUPPORTED_MODEL', `Scheduler config ${source}: ${key} ${why}.`, { subject: { file: source }, hint });
  const bad = (key: string, why: string) => new TgateError('E_BAD_CONFIG', `Scheduler config ${source}: ${key} ${why}.`, { subject: { file: source }, hint });
  for (const [key, allowed] of Object.entries(MUST_BE)) {
    if (!allowed.includes(json[key])) throw unsupported(key, `= ${JSON.stringify(json[key])} is not supported by tgate's schedulers`);
  }
  for (const key of Object.keys(base) as (keyof SchedulerConfig)[]) {
    if (!(key in json)) continue;
    const v = json[key];
    const choices = CHOICES[key];
    if (choices) {
      // A choice tgate does not know is unsupported; a value that is no choice at all is malformed.
      if (!choices.includes(v))
        throw (typeof v === 'string' ? unsupported : bad)(key, `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, not ${JSON.stringify(v)}`);
    } else if (key === 'trained_betas') {
      if (v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'number'))) throw bad(key, 'must be null or a list of numbers');
    } else if (key === 'lambda_min_clipped') {
      // Python's -Infinity, also as strict-JSON renditions write it ("-inf", "-Infinity").
      const x = typeof v === 'string' ? INFINITIES[v] : v;
      if (typeof x !== 'number' || Number.isNaN(x)) throw bad(key, `must be a number, not ${JSON.stringify(v)}`);
      out.lambda_min_clipped = x;
      continue;
    } else if (typeof base[key] === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(key, `must be a number, not ${JSON.stringify(v)}`);
    } else if (typeof base[key] === 'boolean') {
      if (typeof v !== 'boolean') throw bad(key, `must be true or false, not ${JSON.stringify(v)}`);
    }
    (out as unknown as Record<string, unknown>)[key] = v;
  }
  if (out.solver_order !== 1 && out.solver_order !== 2) throw unsupported('solver_order', `= ${out.solver_order}: tgate implements orders 1 and 2`);
  checkSchedulerConfig(out, { source });
  return out;
}
