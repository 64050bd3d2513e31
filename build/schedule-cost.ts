// What a sampling run costs in MACs: each step runs one graph variant at batch 2B (CFG, before
// the gate) or B, so a schedule's cost is the sum of its steps' variant costs. The baseline is
// the source at 2B every step; the bound on the speed-up is the ratio of the two, in both MAC
// conventions. Every plan is a row of options for planSchedule (TGATE v1/v2, DeepCache alone,
// TGATE + DeepCache), costed the same way. Sizes come from the model's inputs: named dims bound from --shape, else defaults
// per family (batch 1, the latent of the family's native resolution, 77 text tokens).
import { latentInput } from './latent-factor.js';
import type { Family } from '../analyses/family.js';
import type { Graph } from '../ir/graph.js';
import type { ManifestIo } from './manifest.js';
import { deepCacheOn, planSchedule, type PlannedStep, type ScheduleOptions } from './schedule.js';
import { DEEPCACHE_DEFAULTS, DEEPCACHE_QUADRATIC_DEFAULTS, type DeepCacheOptions } from './deepcache-steps.js';
import { inferShapes, type ShapeInference } from '../analyses/shapes/infer.js';
import type { VariantName } from './variants.js';
import { countMacs, type GraphCost } from '../analyses/cost/macs.js';
import { TgateError } from '../base/errors.js';

/** Latent side (pixels / 8) and text length each family is used at by default. */
const FAMILY_SIZES: Record<Family, { latent: number; tokens: number }> = {
  sd: { latent: 64, tokens: 77 },
  sdxl: { latent: 128, tokens: 77 },
  pixart: { latent: 128, tokens: 120 },
  lcm: { latent: 64, tokens: 77 },
};

export interface Binding {
  /** Size of every named dim of the inputs. */
  sizes: Record<string, number>;
  /** The batch dim's name (the latent's first dim), when symbolic. */
  batch: string | null;
  /** How each name got its size: "--shape sample", or "default (...)". */
  how: Record<string, string>;
}

/** Parses `--shape NAME=AxBxC` values. */
export function parseShapes(specs: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of specs) {
    const m = /^([^=]+)=(\d+(?:x\d+)*)$/.exec(s);
    if (!m) throw new TgateError('E_USAGE', `--shape takes NAME=AxBxC (e.g. sample=1x4x64x64), not "${s}".`);
    out[m[1]!] = m[2]!.split('x').map(Number);
  }
  return out;
}

export function bindSizes(inputs: ManifestIo[], family: Family, given: Record<string, number[]> = {}): Binding {
  const sizes: Record<string, number> = {};
  const how: Record<string, string> = {};
  for (const [name, dims] of Object.entries(given)) {
    const io = inputs.find((i) => i.name === name);
    if (!io) throw new TgateError('E_USAGE', `--shape names ${name}, which is not an input (inputs: ${inputs.map((i) => i.name).join(', ')}).`);
    if (dims.length !== io.shape.length)
      throw new TgateError('E_USAGE', `--shape ${name} has ${dims.length} dims; the input has ${io.shape.length} ([${io.shape.join(', ')}]).`);
    io.shape.forEach((d, i) => {
      if (typeof d === 'string' && d !== '?') {
        sizes[d] = dims[i]!;
        how[d] = `--shape ${name}`;
      } else if (typeof d === 'number' && d !== dims[i]) {
        throw new TgateError('E_USAGE', `--shape ${name}: dim ${i} is fixed at ${d} in the model, not ${dims[i]}.`);
      }
    });
  }
  const latent = latentInput(inputs);
  const batch = latent && typeof latent.shape[0] === 'string' ? latent.shape[0] : null;
  const d = FAMILY_SIZES[family];
  const defaultFor = (io: ManifestIo, i: number): [number, string] => {
    if (i === 0) return [1, 'default (batch 1)'];
    if (io === latent && i >= 2) return [d.latent, `default (${d.latent * 8} px ${family})`];
    if (io.shape.length === 3 && i === 1) return [d.tokens, `default (${d.tokens} tokens)`];
    return [1, 'default (unknown: 1)'];
  };
  for (const io of inputs) {
    io.shape.forEach((dim, i) => {
      if (typeof dim !== 'string' || dim === '?' || dim in sizes) return;
      [sizes[dim], how[dim]] = defaultFor(io, i);
    });
  }
  return { sizes, batch, how };
}

/** A graph whose cost is asked at several batch sizes: shapes are inferred once. */
export class CostedGraph {
  readonly inferred: ShapeInference;
  private readonly memo = new Map<number, GraphCost>();
  constructor(
    readonly graph: Graph,
    private readonly binding: Binding,
    inferred?: ShapeInference,
  ) {
    this.inferred = inferred ?? inferShapes(graph);
  }

  at(batch: number): GraphCost {
    let c = this.memo.get(batch);
    if (!c) {
      const sizes = this.binding.batch ? { ...this.binding.sizes, [this.binding.batch]: batch } : this.binding.sizes;
      c = countMacs(this.graph, this.inferred, sizes);
      this.memo.set(batch, c);
    }
    return c;
  }
}

export interface RunCost {
  /** MACs of the whole run, in both conventions. */
  linearMacs: number;
  allMacs: number;
  /** Baseline MACs over this run's (1 for the baseline itself). */
  boundLinear: number;
  boundAll: number;
}

/** Where a run's MACs go: the steps one variant serves at one batch. */
export interface VariantSteps {
  variant: VariantName;
  batch: number;
  steps: number;
  linearMacs: number;
  allMacs: number;
}

/**
 * One plan of the schedule table costed: TGATE, DeepCache or both are data here (the options
 * planSchedule takes), so a new caching method is a new entry, not a new code path.
 */
export interface PlanCost extends RunCost {
  /** Stable id: 'baseline', 'tgate-v1', 'tgate-v2', 'deepcache-n3', 'tgate+deepcache-n3', ... */
  name: string;
  /** What the tables print. */
  description: string;
  /** The TGATE version, or null when nothing is gated. */
  version: 1 | 2 | null;
  /** The gate step, or null when nothing is gated. */
  gateStep: number | null;
  /** DeepCache's options, or null without DeepCache. */
  deepcache: DeepCacheOptions | null;
  /** Steps that run the whole UNet, and DeepCache's shallow steps. */
  fullSteps: number;
  shallowSteps: number;
  /** One character per step as the reference trajectories record it: F full, s shallow. */
  stepPlan: string;
  /** The run's MACs by variant and batch, in order of first use. */
  byVariant: VariantSteps[];
}

export interface ScheduleCost {
  steps: number;
  batch: number;
  cfg: boolean;
  baseline: RunCost;
  v1: RunCost & { gateStep: number };
  v2: (RunCost & { schedule: ScheduleOptions }) | null;
  /** Every plan the compiled variants can run, the baseline first (baseline, v1 and v2 above are three of them). */
  plans: PlanCost[];
}

/** The DeepCache intervals every cost report shows: the official loaders' N 3 and the paper's N 5. */
export const COSTED_DEEPCACHE_INTERVALS = [3, 5] as const;

/** A DeepCache plan's id: deepcache-n3 alone, tgate+deepcache-n3 with the gate; a quadratic schedule names its center and pow. */
export function deepCachePlanName(dc: DeepCacheOptions, gated: boolean): string {
  const q = dc.schedule === 'quadratic' ? `-quadratic-c${dc.center ?? DEEPCACHE_QUADRATIC_DEFAULTS.center}-p${dc.pow ?? DEEPCACHE_QUADRATIC_DEFAULTS.pow}` : '';
  return `${gated ? 'tgate+' : ''}deepcache-n${dc.interval}${q}`;
}

function deepCacheText(dc: DeepCacheOptions): string {
  return dc.schedule === 'quadratic'
    ? `DeepCache N ${dc.interval} quadratic (center ${dc.center ?? DEEPCACHE_QUADRATIC_DEFAULTS.center}, pow ${dc.pow ?? DEEPCACHE_QUADRATIC_DEFAULTS.pow})`
    : `DeepCache N ${dc.interval}`;
}

function costPlan(
  name: string,
  describe: (fullSteps: number, shallowSteps: number) => string,
  plan: PlannedStep[],
  graphs: Partial<Record<VariantName, CostedGraph>>,
  B: number,
  meta: Pick<PlanCost, 'version' | 'gateStep' | 'deepcache'>,
): Omit<PlanCost, 'boundLinear' | 'boundAll'> {
  const byVariant: VariantSteps[] = [];
  for (const p of plan) {
    const g = graphs[p.variant];
    if (!g) throw new TgateError('E_INTERNAL', `No ${p.variant} graph to cost.`);
    const batch = p.paired ? 2 * B : B;
    const c = g.at(batch);
    let row = byVariant.find((r) => r.variant === p.variant && r.batch === batch);
    if (!row) byVariant.push((row = { variant: p.variant, batch, steps: 0, linearMacs: 0, allMacs: 0 }));
    row.steps++;
    row.linearMacs += c.linearMacs;
    row.allMacs += c.linearMacs + c.attentionMacs;
  }
  const stepPlan = plan.map((p) => (p.deep === 'reuse' ? 's' : 'F')).join('');
  const shallowSteps = plan.filter((p) => p.deep === 'reuse').length;
  return {
    name,
    description: describe(plan.length - shallowSteps, shallowSteps),
    ...meta,
    fullSteps: plan.length - shallowSteps,
    shallowSteps,
    stepPlan,
    linearMacs: byVariant.reduce((a, r) => a + r.linearMacs, 0),
    allMacs: byVariant.reduce((a, r) => a + r.allMacs, 0),
    byVariant,
  };
}

/**
 * The MACs of a baseline run, of TGATE v1 and v2 runs, and, when the graphs include the shallow
 * variants, of DeepCache runs alone (N 3 and 5, and the interval `schedule.deepcache` asks for)
 * and with TGATE v1 at the gate step (the official TGATE + DeepCache combination), over `steps`,
 * with the speed-up bounds. v1 and v2 never cache the deep feature, whatever `schedule.deepcache`
 * says; v2 is null when no self-attention variant was given.
 */
export function scheduleCost(
  graphs: Partial<Record<VariantName, CostedGraph>>,
  o: { steps: number; batch: number; cfg: boolean; schedule: ScheduleOptions },
): ScheduleCost {
  const B = o.batch;
  const G = o.schedule.gateStep;
  // v1 and v2 are TGATE alone: the deep feature is never cached there (and the key stays out of the JSON).
  const { deepcache: _asked, ...tgate } = o.schedule;
  const plan = (opts: ScheduleOptions) => planSchedule(o.steps, o.cfg, opts);
  const costed = [
    costPlan('baseline', () => 'baseline', plan({ ...tgate, version: 1, gateStep: Number.POSITIVE_INFINITY }), graphs, B, {
      version: null,
      gateStep: null,
      deepcache: null,
    }),
    costPlan('tgate-v1', () => `TGATE v1 (gate step ${G})`, plan({ ...tgate, version: 1 }), graphs, B, { version: 1, gateStep: G, deepcache: null }),
  ];
  if (graphs['reuse-self']) {
    costed.push(
      costPlan(
        'tgate-v2',
        () => `TGATE v2 (sp ${tgate.spInterval}, fi ${tgate.fiInterval}, warm-up ${tgate.warmUp})`,
        plan({ ...tgate, version: 2 }),
        graphs,
        B,
        {
          version: 2,
          gateStep: G,
          deepcache: null,
        },
      ),
    );
  }
  if (graphs.shallow) {
    const asked = deepCacheOn(o.schedule) ? o.schedule.deepcache : null;
    const branch = asked?.branch ?? DEEPCACHE_DEFAULTS.branch;
    const options: DeepCacheOptions[] = COSTED_DEEPCACHE_INTERVALS.map((interval) => ({ interval, branch, schedule: 'uniform' }));
    if (asked && !options.some((d) => deepCachePlanName(d, false) === deepCachePlanName(asked, false))) options.push(asked);
    for (const dc of options) {
      const alone = (full: number, shallow: number) => `${deepCacheText(dc)} (${full} full + ${shallow} shallow steps)`;
      costed.push(
        costPlan(deepCachePlanName(dc, false), alone, plan({ ...tgate, version: 1, gateStep: Number.POSITIVE_INFINITY, deepcache: dc }), graphs, B, {
          version: null,
          gateStep: null,
          deepcache: dc,
        }),
      );
    }
    // TGATE + DeepCache needs the shallow network fed the cross caches after the gate; the official
    // combination is uniform only (deepcache-steps.ts refuses a quadratic schedule with a gate).
    if (graphs['shallow-fidelity']) {
      for (const dc of options.filter((d) => d.schedule === 'uniform')) {
        const both = (full: number, shallow: number) => `TGATE + ${deepCacheText(dc)} (gate step ${G}; ${full} full + ${shallow} shallow steps)`;
        costed.push(
          costPlan(deepCachePlanName(dc, true), both, plan({ ...tgate, version: 1, deepcache: dc }), graphs, B, {
            version: 1,
            gateStep: G,
            deepcache: dc,
          }),
        );
      }
    }
  }
  const base = costed[0]!;
  // Bounds beside the MACs, the breakdown last (the JSON reads in that order).
  const plans: PlanCost[] = costed.map(({ byVariant, ...p }) => ({
    ...p,
    boundLinear: base.linearMacs / p.linearMacs,
    boundAll: base.allMacs / p.allMacs,
    byVariant,
  }));
  const run = (p: PlanCost): RunCost => ({ linearMacs: p.linearMacs, allMacs: p.allMacs, boundLinear: p.boundLinear, boundAll: p.boundAll });
  const v2 = plans.find((p) => p.name === 'tgate-v2');
  return {
    steps: o.steps,
    batch: B,
    cfg: o.cfg,
    baseline: run(plans[0]!),
    v1: { ...run(plans[1]!), gateStep: G },
    v2: v2 ? { ...run(v2), schedule: { ...tgate, version: 2 as const } } : null,
    plans,
  };
}
