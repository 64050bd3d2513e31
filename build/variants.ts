// The graph variants of SPEC.md §2, as (what cross sites do) x (what self sites do). Each is the
// source with the chosen sites either exposed as outputs (computed, and kept for later steps) or
// cut into inputs (fed a cache, their computation gone). One graph serves every schedule step
// that only differs in which outputs are fetched: planning is "full", "store-self" and "gate" at
// once, fidelity is "fidelity" and its store steps (measured: the extra outputs cost <1% of a
// step; see the README).
import type { Model } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import type { Graph } from '../ir/graph.js';
import { runPasses, type PassRecord } from '../passes/pass-manager.js';
import { variantPipeline } from '../passes/variant-pipeline.js';

export type VariantName = 'planning' | 'reuse-self' | 'fidelity' | 'fidelity-reuse-self';

/** What a variant does with a kind of site: computes and outputs it, or takes it as an input. */
export type SiteRole = 'output' | 'input';

export interface VariantSpec {
  name: VariantName;
  file: string;
  cross: SiteRole;
  self: SiteRole;
  /** The schedule steps it serves (SPEC.md §2), for people reading the manifest. */
  usedFor: string;
}

export const VARIANTS: readonly VariantSpec[] = [
  {
    name: 'planning',
    file: 'planning.onnx',
    cross: 'output',
    self: 'output',
    usedFor: 'before the gate at batch 2B: full (k < warm_up), store-self, and the gate step k = G-1',
  },
  {
    name: 'reuse-self',
    file: 'reuse-self.onnx',
    cross: 'output',
    self: 'input',
    usedFor: 'before the gate at batch 2B, steps that reuse the stored self-attention',
  },
  {
    name: 'fidelity',
    file: 'fidelity.onnx',
    cross: 'input',
    self: 'output',
    usedFor: 'after the gate at batch B: cached cross-attention, self-attention computed (every fi_interval-th step)',
  },
  {
    name: 'fidelity-reuse-self',
    file: 'fidelity-reuse-self.onnx',
    cross: 'input',
    self: 'input',
    usedFor: 'after the gate at batch B, steps between fi_interval multiples: both caches fed',
  },
];

export interface SiteTarget {
  kind: 'cross' | 'self';
  tensor: string;
  type: TensorType;
}

export interface BuiltVariant {
  spec: VariantSpec;
  model: Model;
  passes: PassRecord[];
  /** Source inputs this variant no longer reads (the text, once cross-attention is an input). */
  removedInputs: string[];
}

/** The variants a set of cached sites needs: the self-input ones only when self sites are cached. */
export function variantsFor(targets: SiteTarget[]): VariantSpec[] {
  const self = targets.some((t) => t.kind === 'self');
  return VARIANTS.filter((v) => self || v.self === 'output');
}

/** Told after each pass of each variant, with the graph as that pass left it (for --print-ir-after). */
export type AfterPass = (variant: VariantName, record: PassRecord, graph: Graph) => void;

/** Runs the variant pipeline (passes/variant-pipeline.ts) on a fresh copy of the source (`source()` gives one per call). */
export function buildVariant(source: () => Model, spec: VariantSpec, targets: SiteTarget[], afterPass?: AfterPass): BuiltVariant {
  const model = source();
  const role = (t: SiteTarget) => (t.kind === 'cross' ? spec.cross : spec.self);
  const cut = targets.filter((t) => role(t) === 'input');
  const exposed = targets.filter((t) => role(t) === 'output');
  const before = model.graph.inputs.map((v) => v.name);
  const passes = runPasses(model.graph, variantPipeline({ exposed, cut }), { afterEach: afterPass && ((r, g) => afterPass(spec.name, r, g)) });
  const after = new Set(model.graph.inputs.map((v) => v.name));
  return { spec, model, passes, removedInputs: before.filter((n) => !after.has(n)) };
}
