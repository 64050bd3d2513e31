// Choosing and configuring a scheduler from a pipeline folder's scheduler_config.json, as diffusers
// does:
// * no name: the class in `_class_name` (what from_pretrained builds);
// * a name (the user's --scheduler): `TargetClass.from_config(config)`, i.e. the target class takes
//   the keys of the config it knows, ITS OWN __init__ defaults for the others (they differ between
//   classes: DDIM's set_alpha_to_one and clip_sample default to true, DPM-Solver's and Euler's
//   timestep_spacing to "linspace", ...), and ignores the keys it does not know. Keys listed in
//   `_use_default_values` (diffusers' in-memory record of defaulted keys) count as absent.
// Unknown classes and settings tgate does not implement are refused (E_UNSUPPORTED_MODEL), naming
// the class or key, the file and what is supported; never silently replaced. A value of the wrong
// type or out of range is a malformed file (E_BAD_CONFIG, config-check.ts), naming key and range.
import { TgateError } from '../../base/errors.js';
import { STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
import { checkSchedulerConfig } from './config-check.js';
import { createScheduler, SCHEDULER_CLASSES, SCHEDULERS, type SchedulerName } from './create.js';
import type { NormalGenerator, Scheduler } from './scheduler.js';

const BETAS = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null };

/** diffusers v0.29.2 __init__ defaults of each supported class (exactly its keys). */
export const CLASS_DEFAULTS: Record<string, Readonly<Record<string, unknown>>> = {
  PNDMScheduler: {
    ...BETAS,
    skip_prk_steps: false,
    set_alpha_to_one: false,
    prediction_type: 'epsilon',
    timestep_spacing: 'leading',
    steps_offset: 0,
  },
  DDIMScheduler: {
    ...BETAS,
    clip_sample: true,
    set_alpha_to_one: true,
    steps_offset: 0,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    clip_sample_range: 1.0,
    sample_max_value: 1.0,
    timestep_spacing: 'leading',
    rescale_betas_zero_snr: false,
  },
  EulerDiscreteScheduler: {
    ...BETAS,
    prediction_type: 'epsilon',
    interpolation_type: 'linear',
    use_karras_sigmas: false,
    sigma_min: null,
    sigma_max: null,
    timestep_spacing: 'linspace',
    timestep_type: 'discrete',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
    final_sigmas_type: 'zero',
  },
  EulerAncestralDiscreteScheduler: {
    ...BETAS,
    prediction_type: 'epsilon',
    timestep_spacing: 'linspace',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
  },
  DPMSolverMultistepScheduler: {
    ...BETAS,
    solver_order: 2,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0,
    algorithm_type: 'dpmsolver++',
    solver_type: 'midpoint',
    lower_order_final: true,
    euler_at_final: false,
    use_karras_sigmas: false,
    use_lu_lambdas: false,
    final_sigmas_type: 'zero',
    lambda_min_clipped: -Infinity,
    variance_type: null,
    timestep_spacing: 'linspace',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
  },
  LCMScheduler: {
    num_train_timesteps: 1000,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    trained_betas: null,
    original_inference_steps: 50,
    clip_sample: false,
    clip_sample_range: 1.0,
    set_alpha_to_one: true,
    steps_offset: 0,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0,
    timestep_spacing: 'leading',
    timestep_scaling: 10.0,
    rescale_betas_zero_snr: false,
  },
};

const NAME_OF_CLASS = Object.fromEntries(Object.entries(SCHEDULER_CLASSES).map(([n, c]) => [c, n])) as Record<string, SchedulerName>;

const SUPPORTED_LIST =
  'PNDMScheduler (pndm), DDIMScheduler (ddim), EulerDiscreteScheduler (euler), EulerAncestralDiscreteScheduler (euler-ancestral), ' +
  'DPMSolverMultistepScheduler (dpmpp-2m: algorithm_type dpmsolver++, solver_order 1 or 2) and LCMScheduler (lcm)';

type Kind = 'int' | 'float' | 'float-or-inf' | 'float-or-null' | 'bool' | 'betas' | readonly (string | null)[];
const KINDS: Record<string, Kind> = {
  num_train_timesteps: 'int',
  beta_start: 'float',
  beta_end: 'float',
  trained_betas: 'betas',
  steps_offset: 'int',
  beta_schedule: ['linear', 'scaled_linear', 'squaredcos_cap_v2'],
  prediction_type: ['epsilon', 'v_prediction', 'sample'],
  timestep_spacing: ['leading', 'linspace', 'trailing'],
  skip_prk_steps: 'bool',
  set_alpha_to_one: 'bool',
  clip_sample: 'bool',
  clip_sample_range: 'float',
  thresholding: 'bool',
  dynamic_thresholding_ratio: 'float',
  sample_max_value: 'float',
  rescale_betas_zero_snr: 'bool',
  interpolation_type: ['linear', 'log_linear'],
  use_karras_sigmas: 'bool',
  sigma_min: 'float-or-null',
  sigma_max: 'float-or-null',
  timestep_type: ['discrete', 'continuous'],
  final_sigmas_type: ['zero', 'sigma_min'],
  solver_order: 'int',
  algorithm_type: ['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver', 'deis'],
  solver_type: ['midpoint', 'heun', 'logrho', 'bh1', 'bh2'],
  lower_order_final: 'bool',
  euler_at_final: 'bool',
  use_lu_lambdas: 'bool',
  lambda_min_clipped: 'float-or-inf',
  variance_type: [null, 'learned', 'learned_range', 'fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log'],
  original_inference_steps: 'int',
  timestep_scaling: 'float',
};

export interface ResolvedSchedulerConfig {
  /** tgate's scheduler name and the diffusers class. */
  name: SchedulerName;
  className: string;
  /** The class's config as diffusers' from_config makes it (its keys only; _-keys dropped). */
  config: Record<string, unknown>;
  /** The settings the scheduler implementations read. */
  settings: SchedulerConfig;
}

export interface SchedulerFromConfigOptions {
  steps: number;
  /** The file the config came from, for messages. */
  source: string;
  /** A tgate scheduler name (--scheduler): TargetClass.from_config(json) instead of _class_name. */
  name?: string;
  /** The generation's generator: euler-ancestral and lcm draw noise from it while sampling. */
  generator?: NormalGenerator;
  /** lcm only: set_timesteps' strength (the LCM img2img pipeline). */
  strength?: number;
}

const show = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** The diffusers class a config names (`_class_name`), or the class of `name` (--scheduler). */
function classNameOf(raw: Record<string, unknown>, source: string, name: string | undefined): string {
  if (name !== undefined) {
    if (!(SCHEDULERS as readonly string[]).includes(name)) {
      throw new TgateError('E_USAGE', `Unknown scheduler "${name}".`, { hint: `Use one of ${SCHEDULERS.join(', ')}.` });
    }
    return SCHEDULER_CLASSES[name as SchedulerName];
  }
  const c = raw._class_name;
  if (typeof c !== 'string') {
    throw new TgateError('E_UNSUPPORTED_MODEL', `Scheduler config ${source} has no _class_name, so it does not say which scheduler the pipeline uses.`, {
      subject: { file: source },
      hint: `Choose one with --scheduler (${SCHEDULERS.join(', ')}); tgate supports ${SUPPORTED_LIST}.`,
    });
  }
  return c;
}

function classDefaults(className: string, source: string): Readonly<Record<string, unknown>> {
  const defaults = CLASS_DEFAULTS[className];
  if (!defaults) {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `Scheduler config ${source}: the scheduler class ${className} is not supported. tgate supports ${SUPPORTED_LIST}.`,
      {
        subject: { file: source },
        hint: `Choose a supported scheduler with --scheduler (${SCHEDULERS.join(', ')}); the folder's config is then converted as diffusers' from_config does.`,
      },
    );
  }
  return defaults;
}

/** The errors about one key of the effective config, naming the file, the class and the value. */
function configErrors(source: string, className: string, config: Record<string, unknown>) {
  const unsupported = (key: string, supported: string) =>
    new TgateError(
      'E_UNSUPPORTED_MODEL',
      `Scheduler config ${source}: ${className} with ${key} = ${show(config[key])} is not supported by tgate (it supports ${supported}).`,
      {
        subject: { file: source },
        hint: `Use a supported setting, or choose another scheduler with --scheduler (${SCHEDULERS.join(', ')}). tgate supports ${SUPPORTED_LIST}.`,
      },
    );
  // A value of the wrong type is a malformed file (E_BAD_CONFIG, exit 3); a name tgate does not
  // know among a key's choices is a setting it does not implement (E_UNSUPPORTED_MODEL, exit 4).
  const malformed = (key: string, want: string, code: 'E_BAD_CONFIG' | 'E_UNSUPPORTED_MODEL' = 'E_BAD_CONFIG') =>
    new TgateError(code, `Scheduler config ${source}: ${className} ${key} must be ${want}, not ${show(config[key])}.`, {
      subject: { file: source },
      hint: code === 'E_BAD_CONFIG' ? 'Fix the value in the file, or leave the key out for the class default.' : `tgate supports ${SUPPORTED_LIST}.`,
    });
  return { unsupported, malformed };
}

type ConfigErrors = ReturnType<typeof configErrors>;

/** Every key of the class has a value of its kind (KINDS); ranges are checked on the settings. */
function checkKinds(config: Record<string, unknown>, keys: string[], className: string, { malformed }: ConfigErrors): void {
  for (const key of keys) {
    const v = config[key];
    const kind = KINDS[key];
    if (!kind) throw new TgateError('E_INTERNAL', `from-config: no value kind for ${className}.${key}.`);
    if (Array.isArray(kind)) {
      if (key === 'timestep_spacing' && className === 'LCMScheduler' && typeof v === 'string') continue; // never read
      if (!kind.includes(v as string | null))
        throw malformed(key, `one of ${kind.map(show).join(', ')}`, typeof v === 'string' ? 'E_UNSUPPORTED_MODEL' : 'E_BAD_CONFIG');
    } else if (kind === 'int') {
      // Ranges (num_train_timesteps, steps_offset, ...) are checked on the settings, below.
      if (typeof v !== 'number' || !Number.isInteger(v)) throw malformed(key, 'a whole number');
    } else if (kind === 'float') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw malformed(key, 'a number');
    } else if (kind === 'float-or-inf') {
      if (typeof v !== 'number' || Number.isNaN(v)) throw malformed(key, 'a number');
    } else if (kind === 'float-or-null') {
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw malformed(key, 'a number or null');
    } else if (kind === 'bool') {
      if (typeof v !== 'boolean') throw malformed(key, 'true or false');
    } else if (v !== null) {
      if (!Array.isArray(v) || !v.every((b) => typeof b === 'number')) throw malformed(key, 'null or a list of numbers');
    }
  }
}

/** What tgate implements, class by class (diffusers itself raises for some of these). */
function checkImplemented(config: Record<string, unknown>, className: string, { unsupported }: ConfigErrors): void {
  const is = (key: string, ...ok: unknown[]) => !(key in config) || ok.includes(config[key]);
  if (!is('rescale_betas_zero_snr', false)) throw unsupported('rescale_betas_zero_snr', 'false');
  if (!is('thresholding', false)) throw unsupported('thresholding', 'false (dynamic thresholding is not implemented)');
  if (className === 'PNDMScheduler' || className === 'EulerAncestralDiscreteScheduler') {
    if (!is('prediction_type', 'epsilon', 'v_prediction')) throw unsupported('prediction_type', '"epsilon" and "v_prediction", as diffusers');
  }
  if (className === 'EulerDiscreteScheduler') {
    if (!is('interpolation_type', 'linear')) throw unsupported('interpolation_type', '"linear"');
    if (!is('use_karras_sigmas', false)) throw unsupported('use_karras_sigmas', 'false');
    if (config.timestep_type === 'continuous' && config.prediction_type === 'v_prediction')
      throw unsupported('timestep_type', '"discrete" (or "continuous" without v_prediction)');
  }
  if (className === 'DPMSolverMultistepScheduler') {
    // diffusers maps the DEIS/UniPC names onto these before anything runs.
    if (!is('algorithm_type', 'dpmsolver++', 'deis')) throw unsupported('algorithm_type', '"dpmsolver++"');
    if (!is('solver_order', 1, 2)) throw unsupported('solver_order', '1 and 2');
    if (!is('use_karras_sigmas', false)) throw unsupported('use_karras_sigmas', 'false');
    if (!is('use_lu_lambdas', false)) throw unsupported('use_lu_lambdas', 'false');
    if (config.variance_type === 'learned' || config.variance_type === 'learned_range')
      throw unsupported('variance_type', 'null (a model without learned variance)');
  }
}

/** The settings the implementations read: SD's, overridden by the config's keys they share. */
function settingsOf(config: Record<string, unknown>, className: string): SchedulerConfig {
  const settings: SchedulerConfig = { ...STABLE_DIFFUSION_CONFIG };
  const target = settings as unknown as Record<string, unknown>;
  for (const key of Object.keys(STABLE_DIFFUSION_CONFIG)) if (key in config) target[key] = config[key];
  if (className === 'DPMSolverMultistepScheduler') {
    settings.algorithm_type = 'dpmsolver++';
    if (!['midpoint', 'heun'].includes(config.solver_type as string)) settings.solver_type = 'midpoint';
  }
  return settings;
}

/** diffusers' from_config for one of the supported classes: class, effective config, settings. */
export function resolveSchedulerConfig(json: unknown, source: string, name?: string): ResolvedSchedulerConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new TgateError('E_BAD_CONFIG', `Scheduler config ${source} is not a JSON object ({"key": value, ...}).`, {
      subject: { file: source },
      hint: 'Use a diffusers scheduler_config.json (scheduler.save_config writes one).',
    });
  }
  const raw = json as Record<string, unknown>;
  const className = classNameOf(raw, source, name);
  const defaults = classDefaults(className, source);
  // The class's keys: the file's value unless diffusers recorded it as defaulted, else the class default.
  const usedDefaults = Array.isArray(raw._use_default_values) ? (raw._use_default_values as unknown[]) : [];
  const config: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(defaults)) {
    config[key] = Object.prototype.hasOwnProperty.call(raw, key) && !usedDefaults.includes(key) ? raw[key] : d;
  }
  const errors = configErrors(source, className, config);
  checkKinds(config, Object.keys(defaults), className, errors);
  checkImplemented(config, className, errors);
  const settings = settingsOf(config, className);
  const tgateName = NAME_OF_CLASS[className]!;
  checkSchedulerConfig(settings, { source, name: tgateName });
  return { name: tgateName, className, config, settings };
}

/**
 * The scheduler a pipeline folder's scheduler_config.json asks for (or `name`'s class configured
 * from it, as diffusers' from_config), made for one generation of `steps` steps.
 */
export function schedulerFromConfig(json: unknown, opts: SchedulerFromConfigOptions): Scheduler {
  const r = resolveSchedulerConfig(json, opts.source, opts.name);
  const create: { generator?: NormalGenerator; strength?: number } = {};
  if (opts.generator) create.generator = opts.generator;
  if (opts.strength !== undefined) create.strength = opts.strength;
  return createScheduler(r.name, opts.steps, r.settings, { ...create, source: opts.source });
}
