// The ranges a scheduler config must keep, checked in ONE place that every scheduler passes
// through (createScheduler): a config parsed from a file (parseSchedulerConfig, from_config) and a
// SchedulerConfig a library user builds by hand alike. Out of range, the schedulers do not fail:
// they compute NaN (betas >= 1 make alphas_cumprod <= 0, a square root of a negative), index past
// their tables (steps_offset beyond the timesteps, a short trained_betas) or silently run every
// step at t = 1 (more steps than training timesteps). So each value is refused with the key, the
// valid range and the file it came from (E_BAD_CONFIG, exit 3); a number of steps the config
// cannot make is refused as a usage error (E_USAGE, exit 2) with the range that works.
import { TgateError } from '../../base/errors.js';
import { MAX_STEPS } from '../../build/schedule.js';
import type { SchedulerConfig } from './config-types.js';
import { alphasCumprod } from './noise-schedule.js';
import type { Scheduler } from './scheduler.js';

/** Tables of this many entries are built per scheduler: bounded so a config cannot exhaust memory. */
export const MAX_TRAIN_TIMESTEPS = 100_000;

export { MAX_STEPS };

const show = (v: unknown): string => {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

const HINT =
  'Fix the value in the scheduler config, or leave the key out for the default (Stable Diffusion: num_train_timesteps 1000, beta_start 0.00085, beta_end 0.012, beta_schedule "scaled_linear", steps_offset 1).';

export interface ConfigCheckOptions {
  /** The file the config came from (null: built in code). */
  source: string | null;
  /** tgate's scheduler name: keys only one scheduler reads are checked for it alone. */
  name?: string;
}

/** A config value out of its range (or of the wrong type): E_BAD_CONFIG naming key, range and file. */
export function badConfigValue(key: string, want: string, value: unknown, source: string | null): TgateError {
  return new TgateError('E_BAD_CONFIG', `Scheduler config${source ? ` ${source}` : ''}: ${key} must be ${want}, not ${show(value)}.`, {
    ...(source ? { subject: { file: source } } : {}),
    hint: HINT,
  });
}

const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const inUnit = (v: unknown): v is number => isNumber(v) && v > 0 && v < 1;

/** Refuses a config the schedulers would compute garbage from. */
export function checkSchedulerConfig(c: SchedulerConfig, o: ConfigCheckOptions): void {
  const src = o.source;
  if (!c || typeof c !== 'object' || Array.isArray(c))
    throw new TgateError('E_BAD_CONFIG', `Scheduler config${src ? ` ${src}` : ''} is not an object (${show(c)}).`, { hint: HINT });
  const bad = (key: keyof SchedulerConfig, want: string) => badConfigValue(key, want, c[key], src);
  const n = c.num_train_timesteps;
  if (!isWhole(n) || n < 1 || n > MAX_TRAIN_TIMESTEPS)
    throw bad('num_train_timesteps', `a whole number from 1 to ${MAX_TRAIN_TIMESTEPS} (Stable Diffusion trains with 1000)`);
  const enums: [keyof SchedulerConfig, readonly unknown[]][] = [
    ['beta_schedule', ['linear', 'scaled_linear', 'squaredcos_cap_v2']],
    ['prediction_type', ['epsilon', 'v_prediction', 'sample']],
    ['timestep_spacing', ['leading', 'linspace', 'trailing', null]],
    ['solver_order', [1, 2]],
    ['solver_type', ['midpoint', 'heun']],
    ['final_sigmas_type', ['zero', 'sigma_min']],
  ];
  for (const [key, ok] of enums) if (!ok.includes(c[key])) throw bad(key, `one of ${ok.map(show).join(', ')}`);
  for (const key of ['set_alpha_to_one', 'skip_prk_steps', 'clip_sample', 'lower_order_final', 'euler_at_final'] as const) {
    if (typeof c[key] !== 'boolean') throw bad(key, 'true or false');
  }
  if (c.trained_betas !== null) {
    const b = c.trained_betas;
    if (!Array.isArray(b)) throw bad('trained_betas', 'null or a list of numbers');
    if (b.length !== n) throw bad('trained_betas', `null or a list of num_train_timesteps (${n}) numbers`);
    const i = b.findIndex((x) => !inUnit(x));
    if (i >= 0) throw badConfigValue(`trained_betas[${i}]`, 'a number between 0 and 1 (exclusive)', b[i], src);
  } else if (c.beta_schedule !== 'squaredcos_cap_v2') {
    // The cosine schedule derives its betas from t alone; the linear ones interpolate these two.
    if (!inUnit(c.beta_start)) throw bad('beta_start', 'a number between 0 and 1 (exclusive)');
    if (!inUnit(c.beta_end)) throw bad('beta_end', 'a number between 0 and 1 (exclusive)');
    if (c.beta_start > c.beta_end) throw bad('beta_start', `at most beta_end (${c.beta_end}): noise grows with the timestep`);
  }
  if (!isWhole(c.steps_offset) || c.steps_offset < 0 || c.steps_offset >= n)
    throw bad('steps_offset', `a whole number from 0 to ${n - 1} (below num_train_timesteps)`);
  if (!isNumber(c.clip_sample_range) || c.clip_sample_range <= 0) throw bad('clip_sample_range', 'a number > 0');
  if (typeof c.lambda_min_clipped !== 'number' || Number.isNaN(c.lambda_min_clipped)) throw bad('lambda_min_clipped', 'a number (or -Infinity)');
  if (!isNumber(c.timestep_scaling)) throw bad('timestep_scaling', 'a number');
  if (o.name === 'lcm' && (!isWhole(c.original_inference_steps) || c.original_inference_steps < 1 || c.original_inference_steps > n)) {
    throw bad('original_inference_steps', `a whole number from 1 to num_train_timesteps (${n})`);
  }
  // In range one by one, the betas can still drive the cumulative product to 0 in float32 over a
  // long schedule: every sigma from there on is infinite.
  const ac = alphasCumprod(c);
  const zero = ac.findIndex((a) => !(a > 0));
  if (zero >= 0) {
    throw new TgateError(
      'E_BAD_CONFIG',
      `Scheduler config${src ? ` ${src}` : ''}: the betas make alphas_cumprod reach 0 at timestep ${zero} of ${n}, so the noise levels from there on are infinite.`,
      {
        ...(src ? { subject: { file: src } } : {}),
        hint: 'Use smaller betas (beta_end, trained_betas) or fewer num_train_timesteps.',
      },
    );
  }
}

/**
 * The number of steps, before anything is built from it (a huge count must not allocate or plan):
 * at most MAX_STEPS (a plan's bound, build/schedule.ts) and, given a scheduler's
 * num_train_timesteps `n`, at most n (one step per training timestep at most).
 */
export function checkSteps(steps: unknown, n?: number): asserts steps is number {
  const byScheduler = n !== undefined && n <= MAX_STEPS;
  const max = byScheduler ? n : MAX_STEPS;
  if (!isWhole(steps) || steps < 1 || steps > max) {
    throw new TgateError(
      'E_USAGE',
      `steps must be a whole number from 1 to ${max} (${byScheduler ? "the scheduler's num_train_timesteps" : `tgate plans at most ${MAX_STEPS} steps`}), not ${show(steps)}.`,
      {
        hint: byScheduler
          ? `A scheduler makes at most one step per training timestep: use at most ${max} steps (25-50 usually).`
          : 'Diffusion models sample in 1 to a few hundred steps (25-50 usually).',
      },
    );
  }
}

/**
 * Why a built schedule cannot run, or null: every timestep a training timestep (0..n-1), in
 * decreasing order (only PNDM repeats one on purpose), every sigma finite. Some configs make
 * timesteps past the table for some step counts (leading spacing with a steps_offset, trailing
 * spacing that rounds to -1) or repeat one (DPM-Solver with nearly as many steps as timesteps,
 * a zero step size and NaN); diffusers indexes past its table there, or divides by zero.
 */
export function scheduleProblem(s: Scheduler, n: number): string | null {
  const ts = s.timesteps;
  const outside = ts.find((t) => !Number.isFinite(t) || t < 0 || t > n - 1);
  if (outside !== undefined) return `it would sample timestep ${outside}, outside the training timesteps 0..${n - 1}`;
  // PNDM evaluates some timesteps twice by design (PLMS's second evaluation, the Runge-Kutta pairs).
  const repeats = ts.findIndex((t, i) => i > 0 && (s.name === 'pndm' ? t > ts[i - 1]! : !(t < ts[i - 1]!)));
  if (repeats > 0) return `timestep ${ts[repeats]} would follow ${ts[repeats - 1]} (the timesteps must decrease: a zero step divides by zero)`;
  const sigma = s.sigmas?.findIndex((x, i) => !Number.isFinite(x) || x < 0 || (i < s.sigmas!.length - 1 && x === 0));
  if (sigma !== undefined && sigma >= 0) return `the noise level (sigma) of evaluation ${sigma} would be ${s.sigmas![sigma]}`;
  return null;
}
