// IR -> ModelProto -> bytes. Reuses every proto the IR did not change (so an unchanged model
// re-encodes byte-identically) and rebuilds the rest from the IR: edge lists, io lists,
// initializer lists, nodes the IR created, and every declaration whose type the IR changed
// (a value's `type` is the one source of truth; a kept declaration is only its encoding).
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
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
import { sameType, type Value } from '../ir/value.js';
import { attributeProtoOf, tensorProtoOf } from './attribute-proto.js';
import { externalized, type WeightsLayout } from './external-data.js';
import { retained } from './retained.js';
import { tensorTypeOf, valueInfoFor } from './types.js';

export interface EncodeOptions {
  /** Writes the initializers laid out here by reference into that weights file. */
  weights?: WeightsLayout;
}

export function modelToProto(model: Model, opts: EncodeOptions = {}): ModelProto {
  return modelProtoWith(model, graphToProto(model.graph, opts));
}

/** The model's own fields (kept, or rebuilt from the IR) around the given graph. */
export function modelProtoWith(model: Model, graph: GraphProto): ModelProto {
  const kept = retained(ModelProtoSchema, model.retained);
  if (kept) return { ...kept, graph, $typeName: ModelProtoSchema.typeName } as ModelProto;
  return create(ModelProtoSchema, {
    irVersion: BigInt(model.irVersion),
    ...(model.producerName ? { producerName: model.producerName } : {}),
    ...(model.producerVersion ? { producerVersion: model.producerVersion } : {}),
    opsetImport: model.opsetImports.map((o) => create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) })),
    graph,
  });
}

export function encodeModel(model: Model, opts: EncodeOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, modelToProto(model, opts));
}

/** The declarations a source graph made, by name: graph inputs/outputs, and value_info. */
interface Declarations {
  io: Map<string, ValueInfoProto>;
  valueInfo: Map<string, ValueInfoProto>;
}

const declarationsOf = new WeakMap<GraphProto, Declarations>();

function declarations(gp: GraphProto | null): Declarations {
  if (!gp) return { io: new Map(), valueInfo: new Map() };
  let d = declarationsOf.get(gp);
  if (!d) {
    d = { io: new Map([...gp.input, ...gp.output].map((vi) => [vi.name, vi])), valueInfo: new Map(gp.valueInfo.map((vi) => [vi.name, vi])) };
    declarationsOf.set(gp, d);
  }
  return d;
}

export function graphToProto(g: Graph, opts: EncodeOptions): GraphProto {
  const kept = retained(GraphProtoSchema, g.retained);
  const decl = declarations(kept);
  const isIo = (v: Value) => g.isGraphInput(v) || g.isGraphOutput(v);
  // value_info entries of the source, in their order, for the values still in the graph.
  const valueInfo: ValueInfoProto[] = [];
  for (const vi of kept?.valueInfo ?? []) {
    const v = g.value(vi.name);
    if (v && !isIo(v)) valueInfo.push(declaration(vi, v));
  }
  const rebuilt = {
    node: g.nodes.map(nodeToProto),
    input: g.inputs.map((v) => ioInfo(decl, v)),
    output: g.outputs.map((v) => ioInfo(decl, v)),
    initializer: g.initializers.map((v) => initializerProto(v, opts)),
    valueInfo,
  };
  if (kept) return { ...kept, $typeName: GraphProtoSchema.typeName, ...rebuilt } as GraphProto;
  return create(GraphProtoSchema, { ...(g.name ? { name: g.name } : {}), ...rebuilt });
}

/** A graph's input declarations and initializers as graphToProto gives them, without its nodes. */
export function graphInterfaceToProto(g: Graph, opts: EncodeOptions): { input: ValueInfoProto[]; initializer: TensorProto[] } {
  const decl = declarations(retained(GraphProtoSchema, g.retained));
  return { input: g.inputs.map((v) => ioInfo(decl, v)), initializer: g.initializers.map((v) => initializerProto(v, opts)) };
}

function initializerProto(v: Value, opts: EncodeOptions): TensorProto {
  const t = tensorProtoOf(v.constant!);
  return opts.weights ? externalized(t, opts.weights) : t;
}

/** The kept declaration while it still says the value's type; a new one when the type changed. */
function declaration(vi: ValueInfoProto, v: Value): ValueInfoProto {
  // A declaration the IR cannot read (no tensor type) is kept as it is.
  const declared = tensorTypeOf(vi.type);
  if (!declared || sameType(declared, v.type)) return vi;
  return valueInfoFor(v.name, v.type!);
}

function ioInfo(decl: Declarations, v: Value): ValueInfoProto {
  const original = decl.io.get(v.name) ?? decl.valueInfo.get(v.name);
  if (original && (v.type === null || !tensorTypeOf(original.type) || sameType(tensorTypeOf(original.type), v.type))) return original;
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
  const kept = retained(NodeProtoSchema, n.retained);
  if (kept) {
    if (sameList(inputs, kept.input) && sameList(outputs, kept.output)) return kept;
    return { ...kept, $typeName: NodeProtoSchema.typeName, input: trimTrailingEmpty(inputs), output: outputs } as NodeProto;
  }
  return create(NodeProtoSchema, {
    ...(n.declaredName ? { name: n.declaredName } : {}),
    metadataProps: [...n.metadata].map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
    opType: n.opType,
    ...(n.domain ? { domain: n.domain } : {}),
    input: trimTrailingEmpty(inputs),
    output: outputs,
    attribute: n.attr.entries().map(([name, a]) => attributeProtoOf(name, a)),
  });
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
