// What `tgate inspect` reports about a model: io, op counts, attention sites and rejected
// candidates. Pure data (no printing), so --json and the text view show the same facts.
import { modelFromProto } from './io/decode.js';
import { loadSource } from './io/load.js';
import { dtypeName } from './ir/dtype.js';
import { defaultOpset } from './ir/model.js';
import { evalDim } from './ir/dims.js';
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
  sites: { id: string; kind: string; variant: string; scope: string | null; tensor: string; tokens: string | number; channels: string | number; conditioning: string[]; bytesPerSample: number | null }[];
  /**
   * What the caches hold per sample at an image size: cross-attention from the gate on (batch B),
   * self-attention (TGATE v2) for the CFG pair before the gate (2x per sample) and per sample
   * after it. null entries: a site whose size structure could not name.
   */
  caches: { height: number; width: number; latent: [number, number]; crossBytesPerSample: number | null; selfBytesPerSample: number | null; selfBytesPerSampleWithCfg: number | null };
  softmaxCandidates: number;
  rejected: { node: string; reason: string }[];
  /** Every softmax or fused attention op considered, in graph order, with its outcome. */
  considered: { node: string; op: string; siteId: string | null; outcome: string }[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, bfloat16: 2, float64: 8 };

/** The latent's spatial dim names bound to an image size (pixels / 8, as SD's VAE does). */
function spatialBindings(inputs: InspectReport['inputs'], height: number, width: number): Record<string, number> {
  const latent = inputs.find((i) => i.shape.length === 4);
  const dims: Record<string, number> = {};
  if (latent) {
    if (typeof latent.shape[2] === 'string') dims[latent.shape[2]] = height / 8;
    if (typeof latent.shape[3] === 'string') dims[latent.shape[3]] = width / 8;
  }
  return dims;
}

export function inspectModel(file: string, image: { height: number; width: number } = { height: 512, width: 512 }): InspectReport {
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
  const ins = io(g.inputs);
  const bind = spatialBindings(ins, image.height, image.width);
  const sites = report.sites.map((s) => {
    const shape = manifestShape(s.type.shape);
    const tokens = shape[1] ?? '?';
    const channels = shape[2] ?? '?';
    const t = evalDim(tokens, bind);
    const c = evalDim(channels, bind);
    const bytes = t !== null && c !== null ? t * c * (DTYPE_BYTES[dtypeName(s.type.dtype)] ?? 4) : null;
    return { id: s.id, kind: s.kind, variant: s.match.variant, scope: s.scope, tensor: s.tensor, tokens, channels, conditioning: s.conditioning, bytesPerSample: bytes };
  });
  const total = (kind: string) => {
    const of = sites.filter((s) => s.kind === kind);
    return of.length === 0 ? 0 : of.some((s) => s.bytesPerSample === null) ? null : of.reduce((a, s) => a + s.bytesPerSample!, 0);
  };
  const selfBytes = total('self');
  return {
    file,
    opset: defaultOpset(model),
    irVersion: Number(src.proto.irVersion),
    producer: `${src.proto.producerName} ${src.proto.producerVersion}`.trim(),
    inputs: ins,
    outputs: io(g.outputs),
    nodeCount: g.nodes.length,
    opCounts: sorted,
    sites,
    caches: { height: image.height, width: image.width, latent: [image.height / 8, image.width / 8], crossBytesPerSample: total('cross'), selfBytesPerSample: selfBytes, selfBytesPerSampleWithCfg: selfBytes === null ? null : 2 * selfBytes },
    softmaxCandidates: report.candidates,
    rejected: report.rejected,
    considered: report.considered,
  };
}
