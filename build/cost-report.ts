// The cost facts `inspect`, `compile --report`, `bench` and `diff` print: MACs (both conventions)
// and parameters of one UNet call, per site, per block and per variant; the caches' bytes per
// sample; and what every plan (baseline, TGATE v1 and v2, DeepCache alone and with TGATE) costs
// over a number of steps, with the speed-up bound.
import { latentInput } from './latent-factor.js';
import { GUIDANCE_EMBEDDING, type Family, type ScheduleDefaults } from '../analyses/family.js';
import type { Graph } from '../ir/graph.js';
import type { ShapeInference } from '../analyses/shapes/infer.js';
import { dtypeBytes, DTYPE } from '../ir/dtype.js';
import type { ManifestIo } from './manifest.js';
import { checkStepOptions, type ScheduleOptions } from './schedule.js';
import type { VariantName } from './variants.js';
import { macsByScope, macsWithin, type ScopeCost } from '../analyses/cost/macs.js';
import { bindSizes, CostedGraph, scheduleCost, type Binding, type ScheduleCost } from './schedule-cost.js';

export interface CostSite {
  id: string;
  kind: 'cross' | 'self';
  scope: string | null;
  tensor: string;
  /** Whether the compile caches it (always true when costing a plain model: the default). */
  cached: boolean;
}

export interface CostRequest {
  /** The source graph (or the planning graph: the same computation plus outputs). */
  source: Graph;
  variants: Partial<Record<VariantName, Graph>>;
  inputs: ManifestIo[];
  family: Family;
  defaults: ScheduleDefaults;
  sites: CostSite[];
  shapes?: Record<string, number[]>;
  steps?: number;
  gateStep?: number;
  /** The v2 schedule to cost (default: the family's), and a DeepCache plan to cost besides N 3 and 5. */
  schedule?: Partial<Pick<ScheduleOptions, 'spInterval' | 'fiInterval' | 'warmUp' | 'deepcache'>>;
  /** The source's shapes when the caller already inferred them (inference is the costly part on SD-size graphs). */
  sourceShapes?: ShapeInference;
}

export interface CostReport {
  binding: Binding;
  /** One call of the source at the bound batch (default 1). */
  call: { batch: number; linearMacs: number; attentionMacs: number; allMacs: number; params: number };
  sites: (CostSite & {
    tokens: number | null;
    channels: number | null;
    bytesPerSample: number | null;
    linearMacs: number;
    attentionMacs: number;
    params: number;
  })[];
  blocks: ScopeCost[];
  caches: { crossBytesPerSample: number; selfBytesPerSample: number; selfBytesPerSampleWithCfg: number };
  /** null when there is no cross-attention to gate. */
  schedule: ScheduleCost | null;
  /** Graph-level counts per variant at the call batch (the shallow ones included when compiled). */
  variants: { name: VariantName; linearMacs: number; attentionMacs: number; params: number }[];
}

export function costReport(r: CostRequest): CostReport {
  checkStepOptions(r);
  const binding = bindSizes(r.inputs, r.family, r.shapes);
  const B = binding.batch ? binding.sizes[binding.batch]! : 1;
  const source = new CostedGraph(r.source, binding, r.sourceShapes);
  const call = source.at(B);
  const inferred = source.inferred;
  const sites = r.sites.map((s) => {
    const v = r.source.value(s.tensor);
    const f = v ? inferred.facts.get(v) : undefined;
    const sizes = binding.batch ? { ...binding.sizes, [binding.batch]: 1 } : binding.sizes;
    let tokens = f?.shape?.[1]?.evaluate(sizes) ?? null;
    let channels = f?.shape?.[2]?.evaluate(sizes) ?? null;
    if (f?.shape?.length === 2) {
      // A [batch·tokens, channels] cut (a 2-D out-projection, analyses/site-dims.ts): the rows
      // over the batch (bound to 1 above when symbolic, else the export's fixed batch).
      const latent = latentInput(r.inputs)?.shape[0];
      const rows = f.shape[0]?.evaluate(sizes) ?? null;
      const perSample = typeof latent === 'number' ? latent : 1;
      tokens = rows !== null && rows % perSample === 0 ? rows / perSample : null;
      channels = f.shape[1]?.evaluate(sizes) ?? null;
    }
    const bytes = tokens !== null && channels !== null ? tokens * channels * dtypeBytes(f?.dtype || DTYPE.float32) : null;
    return { ...s, tokens, channels, bytesPerSample: bytes, ...(s.scope ? macsWithin(call, s.scope) : { linearMacs: 0, attentionMacs: 0, params: 0 }) };
  });
  const sum = (kind: string) => sites.filter((s) => s.kind === kind && s.cached).reduce((a, s) => a + (s.bytesPerSample ?? 0), 0);
  const graphs: Partial<Record<VariantName, CostedGraph>> = { planning: source };
  for (const [name, g] of Object.entries(r.variants) as [VariantName, Graph][]) if (name !== 'planning') graphs[name] = new CostedGraph(g, binding);
  const cfg = !r.inputs.some((i) => GUIDANCE_EMBEDDING.test(i.name)) && r.defaults.guidance > 1;
  const schedule = !graphs.fidelity
    ? null
    : scheduleCost(graphs, {
        steps: r.steps ?? 25,
        batch: B,
        cfg,
        schedule: {
          version: 2,
          gateStep: r.gateStep ?? r.defaults.gateStep,
          spInterval: r.defaults.spInterval,
          fiInterval: r.defaults.fiInterval,
          warmUp: r.defaults.warmUp,
          ...r.schedule,
        },
      });
  return {
    binding,
    call: { batch: B, linearMacs: call.linearMacs, attentionMacs: call.attentionMacs, allMacs: call.linearMacs + call.attentionMacs, params: call.params },
    sites,
    blocks: macsByScope(call, 1),
    caches: { crossBytesPerSample: sum('cross'), selfBytesPerSample: sum('self'), selfBytesPerSampleWithCfg: 2 * sum('self') },
    schedule,
    variants: (Object.entries(graphs) as [VariantName, CostedGraph][]).map(([name, g]) => {
      const c = g.at(B);
      return { name, linearMacs: c.linearMacs, attentionMacs: c.attentionMacs, params: c.params };
    }),
  };
}
