// The T-GATE schedule: what every step does with cross- and self-attention, decided exactly as
// the official `tgate_scheduler` does (tgate 1.0.0), and which graph variant serves it.
//   k < G-1   planning: cross computed; self computed before warm_up, stored at warm_up and at
//             every multiple of sp_interval, reused otherwise (v2 only)
//   k = G-1   gate: cross and self computed and stored, averaged over the CFG pair
//   k >= G    fidelity: cross reused; self stored at multiples of fi_interval, reused otherwise
// k counts the steps actually run (img2img starts mid-schedule), as the official pipelines do.
// With DeepCache (SPEC.md §5) each step is also full (the deep feature computed and stored) or
// shallow (fed the feature of the last full step), decided by deepcache-steps.ts; with TGATE, as
// the official TGATE + DeepCache loader runs it: the helper reset before G-1 and G (both full),
// and no self-attention reuse (main.py --deepcache forces sp_interval 1, warm_up 0, fi_interval 1).
// A plan is a table: per step, the variant, the batch and what happens to each kind of cut.
import { TgateError } from '../base/errors.js';
import { checkDeepCache, deepCacheFullSteps, type DeepCacheOptions } from './deepcache-steps.js';
import { SITE_KINDS, VARIANTS, type SiteKind, type VariantName } from './variants.js';
import { checkStepCount, MAX_STEPS } from './step-count.js';

export { checkStepCount, MAX_STEPS };

export type SiteAction = 'compute' | 'store' | 'reuse';
export type Phase = 'planning' | 'gate' | 'fidelity';

export interface ScheduleOptions {
  /** 1: cross-attention gating only; 2: also self-attention reuse (the published v2 method). */
  version: 1 | 2;
  gateStep: number;
  spInterval: number;
  fiInterval: number;
  warmUp: number;
  /** DeepCache's plan (absent or null: every step runs the whole UNet). */
  deepcache?: DeepCacheOptions | null;
}

export interface PlannedStep {
  k: number;
  phase: Phase;
  /** What the official code does with each kind of site at this step. */
  cross: SiteAction;
  self: SiteAction;
  /** Whether a later step reads what this step stores (else the runtime does not fetch it). */
  keepSelf: boolean;
  /** DeepCache: 'store' on a full step, 'reuse' on a shallow one, 'compute' without DeepCache. */
  deep: SiteAction;
  keepDeep: boolean;
  variant: VariantName;
  /** Under CFG, steps before the gate run the [uncond, cond] pair. */
  paired: boolean;
}

function positiveInteger(name: string, v: number, min: number, max = Infinity): void {
  // Infinity is a gate step that never comes: the baseline.
  if (!(Number.isInteger(v) || v === Infinity) || v < min || (v > max && v !== Infinity)) {
    throw new TgateError('E_USAGE', `${name} must be an integer >= ${min}${max < Infinity ? ` and <= ${max}` : ''}, not ${v}.`, {
      hint: 'The official defaults are gate step 10, sp_interval 5, fi_interval 1, warm_up 2 (SD); see `tgate help`.',
    });
  }
}

/**
 * Checks a requested step count and gate step before any work is done for them (inspect and the
 * cost report take them from the user; planSchedule checks them again).
 */
export function checkStepOptions(o: { steps?: number | undefined; gateStep?: number | undefined }): void {
  if (o.steps !== undefined) checkStepCount('The number of steps', o.steps);
  if (o.gateStep !== undefined) positiveInteger('The gate step', o.gateStep, 1, MAX_STEPS);
}

export function checkSchedule(o: ScheduleOptions): void {
  if (o.version !== 1 && o.version !== 2) throw new TgateError('E_USAGE', `The TGATE version must be 1 or 2, not ${String(o.version)}.`);
  positiveInteger('The gate step', o.gateStep, 1, MAX_STEPS);
  positiveInteger('sp_interval', o.spInterval, 1);
  positiveInteger('fi_interval', o.fiInterval, 1);
  positiveInteger('warm_up', o.warmUp, 0);
  if (o.deepcache) checkDeepCache(o.deepcache);
}

/** Whether the plan caches the deep feature at all (an interval of 1 runs every step full, under either schedule: DeepCache off). */
export const deepCacheOn = (o: Pick<ScheduleOptions, 'deepcache'>): o is ScheduleOptions & { deepcache: DeepCacheOptions } =>
  !!o.deepcache && o.deepcache.interval > 1;

/** What T-GATE's main.py --deepcache forces: sp_interval 1, warm_up 0, fi_interval 1, i.e. no self-attention reuse. */
export const DEEPCACHE_FORCED_SELF = { spInterval: 1, fiInterval: 1, warmUp: 0 } as const;

/** The self-attention settings a plan runs with: with DeepCache, the official combination's. */
export function effectiveSelf(o: ScheduleOptions): ScheduleOptions {
  return deepCacheOn(o) ? { ...o, ...DEEPCACHE_FORCED_SELF } : o;
}

function officialSelf(k: number, o: ScheduleOptions): SiteAction {
  if (o.version === 1) return 'compute';
  const G = o.gateStep;
  if (k < G - 1) {
    if (k < o.warmUp) return 'compute';
    if (k === o.warmUp || k % o.spInterval === 0) return 'store';
    return 'reuse';
  }
  if (k === G - 1) return 'store';
  return k % o.fiInterval === 0 ? 'store' : 'reuse';
}

/**
 * The plan of `steps` scheduler steps, after `leading` model evaluations that come before the
 * first counted step. Those exist when a scheduler evaluates the model more often than it has
 * steps (PNDM: 26 evaluations for 25 steps); the official pipeline then counts
 * `cur_step = i - num_warmup_steps` and leaves the leading evaluations on its initial settings:
 * everything computed, at batch 2B under CFG. k is the evaluation index.
 */
export function planSchedule(steps: number, cfg: boolean, o: ScheduleOptions, leading = 0): PlannedStep[] {
  checkSchedule(o);
  checkStepCount('The number of steps', steps, 0);
  checkStepCount('The number of leading model evaluations', leading, 0);
  const G = o.gateStep;
  const so = effectiveSelf(o);
  // The official loader resets the DeepCache helper before G-1 and before G (tgate/SD_DeepCache.py);
  // a gate at or after the last step is TGATE off (the baseline's convention): DeepCache alone, no reset.
  const full = deepCacheOn(o) ? deepCacheFullSteps(steps, o.deepcache, G < steps ? [G - 1, G] : []) : null;
  if (full && leading > 0) {
    // The official helper counts steps by `timesteps.index(t)`, which PNDM's repeated timestep
    // makes differ from both the evaluation and the step count: no plan here would be its plan.
    throw new TgateError(
      'E_USAGE',
      `DeepCache is not supported with a scheduler that evaluates the model ${leading} more time(s) than it steps (PNDM): the official helper's step count differs there.`,
      { hint: 'Use --scheduler ddim, dpmpp-2m or euler with --deepcache (the official DeepCache references use DDIM and DPM-Solver++).' },
    );
  }
  const plan: PlannedStep[] = [];
  for (let k = 0; k < leading; k++) {
    const p: PlannedStep = {
      k,
      phase: 'planning',
      cross: 'compute',
      self: 'compute',
      keepSelf: false,
      variant: 'planning',
      paired: cfg,
      deep: 'compute',
      keepDeep: false,
    };
    plan.push(p);
  }
  for (let k = 0; k < steps; k++) {
    const phase: Phase = k < G - 1 ? 'planning' : k === G - 1 ? 'gate' : 'fidelity';
    const cross: SiteAction = phase === 'planning' ? 'compute' : phase === 'gate' ? 'store' : 'reuse';
    const self = officialSelf(k, so);
    const deep: SiteAction = full === null ? 'compute' : full[k] ? 'store' : 'reuse';
    const variant = variantFor({ cross, self, deep });
    plan.push({ k: leading + k, phase, cross, self, keepSelf: false, variant, paired: cfg && k < G, deep, keepDeep: false });
  }
  // A stored output is worth fetching only if a reuse follows before the next store.
  markKept(plan, 'self', 'keepSelf');
  markKept(plan, 'deep', 'keepDeep');
  return plan;
}

/**
 * The variant a step runs: the one whose cut decisions are the step's, kind by kind (a reused
 * site is fed, any other computed). Methods decide actions; which graph serves them is data (VARIANTS).
 */
export function variantFor(actions: Record<SiteKind, SiteAction>): VariantName {
  const v = VARIANTS.find((x) => SITE_KINDS.every((kind) => (actions[kind] === 'reuse') === (x[kind] === 'input')));
  if (!v) throw new TgateError('E_INTERNAL', `No variant feeds ${SITE_KINDS.filter((k) => actions[k] === 'reuse').join(' + ')} and computes the rest.`);
  return v.name;
}

function markKept(plan: PlannedStep[], action: 'self' | 'deep', keep: 'keepSelf' | 'keepDeep'): void {
  let reuseAhead = false;
  for (let k = plan.length - 1; k >= 0; k--) {
    const p = plan[k]!;
    if (p[action] === 'store') {
      p[keep] = reuseAhead;
      reuseAhead = false;
    } else if (p[action] === 'reuse') reuseAhead = true;
  }
}

/** The variants a plan runs, in the order of VARIANTS. */
export function variantsUsed(plan: PlannedStep[]): VariantName[] {
  const used = new Set(plan.map((p) => p.variant));
  return VARIANTS.map((v) => v.name).filter((v) => used.has(v));
}
