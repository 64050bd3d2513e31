// The graph variants of SPEC.md §2 and §5: a variant is a set of cut decisions, one per kind of
// site (cross- and self-attention outputs, DeepCache's deep feature). Each is the source with the
// sites of a kind either exposed as outputs (computed, and kept for later steps) or cut into
// inputs (fed a cache, their computation gone). One graph serves every schedule step that only
// differs in which outputs are fetched: planning is "full", "store-self", "gate" and DeepCache's
// full step at once, fidelity is "fidelity" and its store steps (measured: the extra outputs cost
// <1% of a step; see the README). A variant fed the deep feature (shallow) keeps only the sites
// its shallow network still computes (analyses/deepcache/shallow-part.ts).
import type { Model } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import type { Graph } from '../ir/graph.js';
import { runPasses, type PassRecord } from '../passes/pass-manager.js';
import { variantPipeline } from '../passes/variant-pipeline.js';
import { inShallowPart } from '../analyses/deepcache/shallow-part.js';

export type VariantName = 'planning' | 'reuse-self' | 'fidelity' | 'fidelity-reuse-self' | 'shallow' | 'shallow-fidelity';

/** The kinds of cut: an attention output (SPEC.md §1) or DeepCache's deep feature (§5). */
export type SiteKind = 'cross' | 'self' | 'deep';
export const SITE_KINDS: readonly SiteKind[] = ['cross', 'self', 'deep'];

/** What a variant does with a kind of site: computes and outputs it, or takes it as an input. */
export type SiteRole = 'output' | 'input';

export interface VariantSpec {
  name: VariantName;
  file: string;
  cross: SiteRole;
  self: SiteRole;
  deep: SiteRole;
  /** The schedule steps it serves (SPEC.md §2), for people reading the manifest. */
  usedFor: string;
}

export const VARIANTS: readonly VariantSpec[] = [
  {
    name: 'planning',
    file: 'planning.onnx',
    cross: 'output',
    self: 'output',
    deep: 'output',
    usedFor: 'before the gate at batch 2B: full (k < warm_up), store-self, and the gate step k = G-1',
  },
  {
    name: 'reuse-self',
    file: 'reuse-self.onnx',
    cross: 'output',
    self: 'input',
    deep: 'output',
    usedFor: 'before the gate at batch 2B, steps that reuse the stored self-attention',
  },
  {
    name: 'fidelity',
    file: 'fidelity.onnx',
    cross: 'input',
    self: 'output',
    deep: 'output',
    usedFor: 'after the gate at batch B: cached cross-attention, self-attention computed (every fi_interval-th step)',
  },
  {
    name: 'fidelity-reuse-self',
    file: 'fidelity-reuse-self.onnx',
    cross: 'input',
    self: 'input',
    deep: 'output',
    usedFor: 'after the gate at batch B, steps between fi_interval multiples: both caches fed',
  },
  {
    name: 'shallow',
    file: 'shallow.onnx',
    cross: 'output',
    self: 'output',
    deep: 'input',
    usedFor: 'DeepCache steps between full ones, before the gate at batch 2B (or without TGATE): fed the deep feature of the last full step',
  },
  {
    name: 'shallow-fidelity',
    file: 'shallow-fidelity.onnx',
    cross: 'input',
    self: 'output',
    deep: 'input',
    usedFor: 'DeepCache steps between full ones after the gate at batch B: fed the deep feature and the cross caches its shallow network reads',
  },
];

export interface SiteTarget {
  id: string;
  kind: SiteKind;
  tensor: string;
  type: TensorType;
}

export interface BuiltVariant {
  spec: VariantSpec;
  model: Model;
  passes: PassRecord[];
  /** Source inputs this variant no longer reads (the text, once cross-attention is an input). */
  removedInputs: string[];
  /** The cut decision for each site in this graph, by site id: computed and output, or fed. Sites absent from the graph are absent here. */
  cuts: Record<string, SiteRole>;
}

/** What a variant does with a kind of site. */
export const roleOf = (spec: Pick<VariantSpec, SiteKind>, kind: SiteKind): SiteRole => spec[kind];

/** The variants a set of cached sites needs: the self-input ones only when self sites are cached, the shallow ones only with a deep cut. */
export function variantsFor(targets: SiteTarget[]): VariantSpec[] {
  const has = (k: SiteKind) => targets.some((t) => t.kind === k);
  return VARIANTS.filter((v) => (has('self') || v.self === 'output') && (has('deep') || v.deep === 'output'));
}

/** Told after each pass of each variant, with the graph as that pass left it (for --print-ir-after). */
export type AfterPass = (variant: VariantName, record: PassRecord, graph: Graph) => void;

/** Runs the variant pipeline (passes/variant-pipeline.ts) on a fresh copy of the source (`source()` gives one per call). */
export function buildVariant(source: () => Model, spec: VariantSpec, targets: SiteTarget[], afterPass?: AfterPass): BuiltVariant {
  const model = source();
  const present = sitesIn(model.graph, spec, targets);
  const cut = present.filter((t) => roleOf(spec, t.kind) === 'input');
  const exposed = present.filter((t) => roleOf(spec, t.kind) === 'output');
  const before = model.graph.inputs.map((v) => v.name);
  const passes = runPasses(model.graph, variantPipeline({ exposed, cut }), { afterEach: afterPass && ((r, g) => afterPass(spec.name, r, g)) });
  const after = new Set(model.graph.inputs.map((v) => v.name));
  const cuts = Object.fromEntries(present.map((t) => [t.id, roleOf(spec, t.kind)]));
  return { spec, model, passes, removedInputs: before.filter((n) => !after.has(n)), cuts };
}

/** The sites a variant's graph holds: all of them, or, fed the deep feature, the deep cut and the sites of its shallow network. */
function sitesIn(graph: Graph, spec: VariantSpec, targets: SiteTarget[]): SiteTarget[] {
  const deep = targets.find((t) => t.kind === 'deep');
  if (!deep || spec.deep !== 'input') return targets;
  const shallow = inShallowPart(
    graph,
    deep.tensor,
    targets.map((t) => t.tensor),
  );
  return targets.filter((t) => t === deep || shallow.has(t.tensor));
}
