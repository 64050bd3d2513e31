// What `tgate inspect` reports about a model: io, op counts, attention sites and rejected
// candidates. Pure data (no printing), so --json and the text view show the same facts.
import { modelFromProto } from './io/decode.js';
import { loadSource } from './io/load.js';
import { dtypeName } from './ir/dtype.js';
import { defaultOpset } from './ir/model.js';
import { manifestShape } from './manifest.js';
import { findAttentionSites } from '../passes/attention/find-sites.js';

export interface InspectReport {
  file: string;
  opset: number;
  irVersion: number;
  producer: string;
  inputs: { name: string; dtype: string; shape: (string | number)[] }[];
  outputs: { name: string; dtype: string; shape: (string | number)[] }[];
  nodeCount: number;
  opCounts: Record<string, number>;
  sites: { id: string; kind: string; variant: string; scope: string | null; tensor: string; tokens: string | number; channels: string | number; conditioning: string[] }[];
  softmaxCandidates: number;
  rejected: { node: string; reason: string }[];
  /** Every softmax or fused attention op considered, in graph order, with its outcome. */
  considered: { node: string; op: string; siteId: string | null; outcome: string }[];
}

export function inspectModel(file: string): InspectReport {
  const src = loadSource(file);
  const model = modelFromProto(src.proto);
  const g = model.graph;
  const opCounts: Record<string, number> = {};
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    opCounts[key] = (opCounts[key] ?? 0) + 1;
  }
  const sorted = Object.fromEntries(Object.entries(opCounts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const report = findAttentionSites(g);
  const io = (vs: typeof g.inputs) => vs.filter((v) => !v.initializer).map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: manifestShape(v.type?.shape ?? null) }));
  return {
    file,
    opset: defaultOpset(model),
    irVersion: Number(src.proto.irVersion),
    producer: `${src.proto.producerName} ${src.proto.producerVersion}`.trim(),
    inputs: io(g.inputs),
    outputs: io(g.outputs),
    nodeCount: g.nodes.length,
    opCounts: sorted,
    sites: report.sites.map((s) => {
      const shape = manifestShape(s.type.shape);
      return { id: s.id, kind: s.kind, variant: s.match.variant, scope: s.scope, tensor: s.tensor, tokens: shape[1] ?? '?', channels: shape[2] ?? '?', conditioning: s.conditioning };
    }),
    softmaxCandidates: report.candidates,
    rejected: report.rejected,
    considered: report.considered,
  };
}
