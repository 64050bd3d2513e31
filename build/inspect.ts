// What `tgate inspect` reports about a model or a compiled folder: io, op counts, the attention
// sites, the model family, and the cost facts (MACs and parameters per call, per site and per
// block and per variant; cache bytes per sample; what every plan's run costs and its speed-up bound).
// Pure data (no printing), so --json and the text view show the same facts.
import { costReport, type CostReport, type CostRequest, type CostSite } from './cost-report.js';
import { familyOfGraph, FAMILY_DEFAULTS, type Family, type ScheduleDefaults } from '../analyses/family.js';
import { loadSource } from '../io/load.js';
import type { Graph } from '../ir/graph.js';
import { defaultOpset } from '../ir/model.js';
import { TgateError } from '../base/errors.js';
import { bareLatentFactor, latentInput, type LatentFactor } from './latent-factor.js';
import { graphIo, manifestGraph, manifestShape, readManifest, type ManifestIo } from './manifest.js';
import { siteDims } from '../analyses/site-dims.js';
import { checkStepOptions } from './schedule.js';
import { buildVariant, variantsFor, type SiteTarget, type VariantName } from './variants.js';
import { findAttentionSites, type ConsideredCandidate, type RejectedCandidate } from '../analyses/attention/find-sites.js';
import { inferShapes, type ShapeInference, type ShapeRuleFailure } from '../analyses/shapes/infer.js';
import { planDeep } from './compile-plan.js';

export interface InspectOptions {
  /** Image size in pixels (the latent is that / latentFactor); default: the family's native resolution. */
  height?: number;
  width?: number;
  /** Input shapes (`--shape NAME=AxBxC`): bind the named dims, over height/width. */
  shapes?: Record<string, number[]>;
  steps?: number;
  gateStep?: number;
  /** Image pixels per latent cell (a pipeline's VAE factor); default: build/latent-factor.ts's rule for a model alone. */
  latentFactor?: LatentFactor;
  schedule?: CostRequest['schedule'];
}

export interface InspectReport {
  file: string;
  /** A model file, or a compiled folder (its planning graph: the source plus outputs). */
  kind: 'model' | 'compiled';
  opset: number;
  irVersion: number;
  producer: string;
  inputs: ManifestIo[];
  outputs: ManifestIo[];
  nodeCount: number;
  opCounts: Record<string, number>;
  family: { name: Family; why: string };
  schedule: ScheduleDefaults;
  sites: {
    id: string;
    kind: string;
    variant: string | null;
    scope: string | null;
    tensor: string;
    tokens: string | number;
    channels: string | number;
    conditioning: string[];
    cached: boolean;
    bytesPerSample: number | null;
    linearMacs: number;
    attentionMacs: number;
    params: number;
  }[];
  /**
   * What the caches hold per sample at the image size: cross-attention from the gate on (batch B),
   * self-attention (TGATE v2) for the CFG pair before the gate (2x per sample) and per sample
   * after it.
   */
  caches: {
    height: number;
    width: number;
    latent: [number, number];
    crossBytesPerSample: number;
    selfBytesPerSample: number;
    selfBytesPerSampleWithCfg: number;
  };
  cost: Omit<CostReport, 'sites' | 'caches'>;
  softmaxCandidates: number;
  /** Each with its miss: a stable code, the reason in words and the nodes/tensors it is about. */
  rejected: RejectedCandidate[];
  /** Every softmax or fused attention op considered, in graph order, with its outcome. */
  considered: ConsideredCandidate[];
  /**
   * Nodes whose shape rule failed (their outputs' shapes unknown), in graph order; present only
   * when there are any (none on every model tgate supports).
   */
  shapeFailures?: ShapeRuleFailure[];
  /** Op types shape inference has no rule for, with how many nodes; present only when there are any. */
  unsupportedOps?: Record<string, number>;
}

const NATIVE_PX: Record<Family, number> = { sd: 512, sdxl: 1024, pixart: 1024, lcm: 512 };

function opCounts(g: Graph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** --height/--width as a latent shape, unless --shape binds the latent already. */
function shapesWith(
  inputs: ManifestIo[],
  family: Family,
  o: InspectOptions,
): { shapes: Record<string, number[]>; height: number; width: number; factor: number } {
  const shapes = { ...(o.shapes ?? {}) };
  const latent = latentInput(inputs);
  const lf = o.latentFactor ?? bareLatentFactor(latent && typeof latent.shape[1] === 'number' ? latent.shape[1] : null);
  const f = lf.factor;
  for (const [k, v] of [
    ['height', o.height],
    ['width', o.width],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0 && v % f === 0)) {
      throw new TgateError('E_USAGE', `--${k} must be a positive multiple of ${f} (image pixels; the latent factor is ${lf.why}), not "${v}".`);
    }
  }
  // The family's native latent size (its pixels are those of SD's factor-8 VAE).
  let height = o.height ?? (NATIVE_PX[family] / 8) * f;
  let width = o.width ?? (NATIVE_PX[family] / 8) * f;
  if (latent && shapes[latent.name]) {
    [height, width] = [shapes[latent.name]![2]! * f, shapes[latent.name]![3]! * f];
  } else if (latent) {
    const c = typeof latent.shape[1] === 'number' ? latent.shape[1] : 4;
    const b = typeof latent.shape[0] === 'number' ? latent.shape[0] : 1;
    const fixed = (i: number, v: number) => (typeof latent.shape[i] === 'number' ? (latent.shape[i] as number) : v);
    shapes[latent.name] = [b, c, fixed(2, height / f), fixed(3, width / f)];
    [height, width] = [shapes[latent.name]![2]! * f, shapes[latent.name]![3]! * f];
  }
  return { shapes, height, width, factor: f };
}

function assemble(
  base: Omit<InspectReport, 'sites' | 'caches' | 'cost' | 'family' | 'schedule' | 'shapeFailures' | 'unsupportedOps'>,
  graph: Graph,
  sites: (CostSite & { variant: string | null; tokens: string | number; channels: string | number; conditioning: string[] })[],
  family: { name: Family; why: string },
  variants: Partial<Record<VariantName, Graph>>,
  o: InspectOptions,
  inferred: ShapeInference = inferShapes(graph),
): InspectReport {
  const defaults = FAMILY_DEFAULTS[family.name];
  const { shapes, height, width, factor } = shapesWith(base.inputs, family.name, o);
  const cost = costReport({
    source: graph,
    sourceShapes: inferred,
    variants,
    inputs: base.inputs,
    family: family.name,
    defaults,
    sites,
    shapes,
    steps: o.steps,
    gateStep: o.gateStep,
    schedule: o.schedule,
  });
  const { sites: costed, caches, ...rest } = cost;
  const { failures, unsupported } = inferred;
  return {
    ...base,
    ...(failures.length ? { shapeFailures: failures } : {}),
    ...(Object.keys(unsupported).length ? { unsupportedOps: unsupported } : {}),
    family,
    schedule: defaults,
    sites: sites.map((s, i) => ({
      ...s,
      bytesPerSample: costed[i]!.bytesPerSample,
      linearMacs: costed[i]!.linearMacs,
      attentionMacs: costed[i]!.attentionMacs,
      params: costed[i]!.params,
    })),
    caches: { height, width, latent: [height / factor, width / factor], ...caches },
    cost: rest,
  };
}

export function inspectModel(file: string, o: InspectOptions = {}): InspectReport {
  checkStepOptions(o);
  // inspect reads the graph, never the weights: graphs shipped without their data are fine.
  const src = loadSource(file, { externalData: { requireFiles: false } });
  const model = src.decode();
  const g = model.graph;
  const report = findAttentionSites(g);
  const found = familyOfGraph(
    g,
    report.sites.map((s) => s.type.shape?.[1] ?? null),
  );
  const family = { name: found.family, why: found.why };
  // The variants a default compile would write, built in memory, to cost the schedules.
  const targets: SiteTarget[] = report.sites.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor, type: s.cut }));
  // A default compile caches DeepCache's branch-0 feature too, where the UNet has one: cost its shallow variants.
  const inferred = inferShapes(g);
  const deep = planDeep(model, 0, inferred);
  if ('cut' in deep) targets.push({ id: deep.id, kind: 'deep', tensor: deep.cut.tensor, type: deep.type });
  const variants: Partial<Record<VariantName, Graph>> = {};
  if (report.sites.some((s) => s.kind === 'cross'))
    for (const spec of variantsFor(targets)) if (spec.name !== 'planning') variants[spec.name] = buildVariant(() => src.decode(), spec, targets).model.graph;
  const sites = report.sites.map((s) => {
    const shape = manifestShape(s.type.shape);
    return {
      id: s.id,
      kind: s.kind,
      variant: s.match.variant,
      scope: s.scope,
      tensor: s.tensor,
      tokens: shape[1] ?? '?',
      channels: shape[2] ?? '?',
      conditioning: s.conditioning,
      cached: true,
    };
  });
  const base = {
    file,
    kind: 'model' as const,
    opset: defaultOpset(model),
    irVersion: model.irVersion,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    inputs: graphIo(g, 'inputs'),
    outputs: graphIo(g, 'outputs'),
    nodeCount: g.nodes.length,
    opCounts: opCounts(g),
    softmaxCandidates: report.candidates,
    rejected: report.rejected,
    considered: report.considered,
  };
  return assemble(base, g, sites, family, variants, o, inferred);
}

/** A compiled folder: its manifest and graphs (never the weights). */
export function inspectCompiled(dir: string, o: InspectOptions = {}): InspectReport {
  checkStepOptions(o);
  const m = readManifest(dir);
  const graphs: Partial<Record<VariantName, Graph>> = {};
  for (const v of m.variants) graphs[v.name] = manifestGraph(dir, m, v).model().graph;
  const planning = graphs.planning!;
  const batch = latentInput(m.source.inputs)?.shape[0];
  // The attention sites: the deep feature is not one (its MACs are the variants').
  const sites = m.sites
    .flatMap((s) => (s.kind === 'deep' ? [] : [{ ...s, kind: s.kind }]))
    .map((s) => ({
      id: s.id,
      kind: s.kind,
      variant: null,
      scope: s.scope,
      tensor: s.tensor,
      ...siteDims(s.shape, batch),
      conditioning: [],
      cached: s.cached,
    }));
  const base = {
    file: dir,
    kind: 'compiled' as const,
    opset: m.source.opset,
    irVersion: m.source.irVersion,
    producer: m.source.producer,
    inputs: m.source.inputs,
    outputs: m.source.outputs,
    nodeCount: m.source.nodes,
    opCounts: opCounts(planning),
    softmaxCandidates: m.sites.length,
    rejected: [],
    considered: [],
  };
  const variants = Object.fromEntries(Object.entries(graphs).filter(([n]) => n !== 'planning'));
  return assemble(base, planning, sites, m.family, variants, o);
}
