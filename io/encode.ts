// IR -> ModelProto -> bytes. Reuses every proto the IR did not change (so an unchanged model
// re-encodes byte-identically) and rebuilds only edge lists, io lists and initializer lists.
import { toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { valueInfoFor } from './types.js';

export interface EncodeOptions {
  /** Replaces an initializer's TensorProto on the way out (external-data layout). */
  initializer?: (v: Value) => TensorProto;
}

export function modelToProto(model: Model, opts: EncodeOptions = {}): ModelProto {
  const graph = graphToProto(model.graph, opts);
  return { ...model.proto, graph, $typeName: ModelProtoSchema.typeName } as ModelProto;
}

export function encodeModel(model: Model, opts: EncodeOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, modelToProto(model, opts));
}

export function graphToProto(g: Graph, opts: EncodeOptions): GraphProto {
  const live = new Set<string>();
  for (const v of g.values()) live.add(v.name);
  return {
    ...g.proto,
    $typeName: GraphProtoSchema.typeName,
    node: g.nodes.map(nodeToProto),
    input: g.inputs.map((v) => ioInfo(g, v)),
    output: g.outputs.map((v) => ioInfo(g, v)),
    initializer: g.initializers.map((v) => (opts.initializer ? opts.initializer(v) : v.initializer!)),
    valueInfo: g.proto.valueInfo.filter((vi) => live.has(vi.name) && !isIo(g, vi.name)),
  } as GraphProto;
}

function isIo(g: Graph, name: string): boolean {
  const v = g.value(name);
  return !!v && (g.isGraphInput(v) || g.isGraphOutput(v));
}

function ioInfo(g: Graph, v: Value): ValueInfoProto {
  const original = g.ioInfo.get(v.name) ?? g.valueInfo.get(v.name);
  if (original) return original;
  if (!v.type) {
    throw new TgateError('E_IR_INVALID', `Graph input/output "${v.name}" has no known type; a pass must set it before encoding.`, {
      subject: { tensor: v.name },
    });
  }
  return valueInfoFor(v.name, v.type);
}

export function nodeToProto(n: Node): NodeProto {
  const inputs = n.inputs.map((v) => v?.name ?? '');
  const outputs = n.outputs.map((v) => v?.name ?? '');
  if (sameList(inputs, n.proto.input) && sameList(outputs, n.proto.output)) return n.proto;
  return { ...n.proto, $typeName: NodeProtoSchema.typeName, input: trimTrailingEmpty(inputs), output: outputs } as NodeProto;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Optional trailing inputs may be omitted; omitting them keeps the node canonical. */
function trimTrailingEmpty(xs: string[]): string[] {
  let end = xs.length;
  while (end > 0 && xs[end - 1] === '') end--;
  return xs.slice(0, end);
}
