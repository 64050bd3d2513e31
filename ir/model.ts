// A model: the ModelProto fields the IR does not touch (opsets, producer, metadata, functions,
// unknown fields) kept verbatim, plus the main graph as IR.
import type { ModelProto } from 'onnx-buf';
import type { Graph } from './graph.js';

export interface Model {
  /** The decoded ModelProto; its `graph` field is ignored on encode in favour of `graph`. */
  readonly proto: ModelProto;
  readonly graph: Graph;
}

/** The opset version of the default ONNX domain, or 0 when absent. */
export function defaultOpset(model: Model): number {
  const e = model.proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return e ? Number(e.version) : 0;
}
