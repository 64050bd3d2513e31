// A model: the main graph as IR, the operator sets it imports and who produced it. Everything of
// the source model the IR does not model (metadata, functions, training info, unknown fields)
// rides along in `retained`, for io/ to re-encode it unchanged.
import type { Graph } from './graph.js';
import type { Retained } from './retained.js';

export interface OpsetImport {
  /** '' (or 'ai.onnx') for the default ONNX domain. */
  domain: string;
  version: number;
}

export interface Model {
  readonly graph: Graph;
  readonly irVersion: number;
  readonly opsetImports: readonly OpsetImport[];
  readonly producerName: string;
  readonly producerVersion: string;
  /** What io/ kept of the source model; its graph is ignored on encode in favour of `graph`. */
  readonly retained: Retained | null;
}

/** The opset version of the default ONNX domain, or 0 when absent. */
export function defaultOpset(model: Model): number {
  const e = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return e ? e.version : 0;
}
