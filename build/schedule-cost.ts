// What a sampling run costs in MACs: each step runs one graph variant at batch 2B (CFG, before
// the gate) or B, so a schedule's cost is the sum of its steps' variant costs. The baseline is
// the source at 2B every step; the bound on the speed-up is the ratio of the two, in both MAC
// conventions. Sizes come from the model's inputs: named dims bound from --shape, else defaults
// per family (batch 1, the latent of the family's native resolution, 77 text tokens).
import { latentInput } from './latent-factor.js';
import type { Family } from '../analyses/family.js';
import type { Graph } from '../ir/graph.js';
import type { ManifestIo } from './manifest.js';
import { planSchedule, type ScheduleOptions } from './schedule.js';
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

export interface ScheduleCost {
  steps: number;
  batch: number;
  cfg: boolean;
  baseline: RunCost;
  v1: RunCost & { gateStep: number };
  v2: (RunCost & { schedule: ScheduleOptions }) | null;
}

function runCost(plan: ReturnType<typeof planSchedule>, graphs: Partial<Record<VariantName, CostedGraph>>, B: number): { linear: number; all: number } {
  let linear = 0;
  let all = 0;
  for (const p of plan) {
    const g = graphs[p.variant];
    if (!g) throw new TgateError('E_INTERNAL', `No ${p.variant} graph to cost.`);
    const c = g.at(p.paired ? 2 * B : B);
    linear += c.linearMacs;
    all += c.linearMacs + c.attentionMacs;
  }
  return { linear, all };
}

/**
 * The MACs of a baseline run and of TGATE v1 and v2 runs over `steps`, and the speed-up bounds.
 * v2 is null when no self-attention variant was given.
 */
export function scheduleCost(
  graphs: Partial<Record<VariantName, CostedGraph>>,
  o: { steps: number; batch: number; cfg: boolean; schedule: ScheduleOptions },
): ScheduleCost {
  const B = o.batch;
  const base = runCost(planSchedule(o.steps, o.cfg, { ...o.schedule, version: 1, gateStep: Number.POSITIVE_INFINITY }), graphs, B);
  const mk = (r: { linear: number; all: number }): RunCost => ({
    linearMacs: r.linear,
    allMacs: r.all,
    boundLinear: base.linear / r.linear,
    boundAll: base.all / r.all,
  });
  const v1 = mk(runCost(planSchedule(o.steps, o.cfg, { ...o.schedule, version: 1 }), graphs, B));
  const v2 = graphs['reuse-self']
    ? { ...mk(runCost(planSchedule(o.steps, o.cfg, { ...o.schedule, version: 2 }), graphs, B)), schedule: { ...o.schedule, version: 2 as const } }
    : null;
  return { steps: o.steps, batch: B, cfg: o.cfg, baseline: mk(base), v1: { ...v1, gateStep: o.schedule.gateStep }, v2 };
}
