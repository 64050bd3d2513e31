// Bytes -> ModelProto -> IR. The only place (with encode.ts) that knows the protobuf schema.
// onnx-buf (ONNX 1.20 schema on @bufbuild/protobuf) keeps unknown fields, so decode+encode of an
// unchanged model is byte-identical.
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { describeCycle, topologicalOrder } from '../ir/order.js';
import type { Value } from '../ir/value.js';
import { attributesOf } from './attribute-proto.js';
import { constantOf } from './constant-view.js';
import { refuseOversizedGraph } from './graph-size.js';
import { retain } from './retained.js';
import { tensorTypeOf } from './types.js';

/** Parses ONNX bytes; names the file in errors. Refuses what is not a model. */
export function parseModelProto(bytes: Uint8Array, file: string): ModelProto {
  // Before decoding: a graph too large for the heap is refused, not left to abort the process.
  refuseOversizedGraph(bytes, file);
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (cause) {
    throw new TgateError('E_NOT_ONNX', `${file} is not a readable ONNX model (${(cause as Error).message}); the file is truncated or not ONNX.`, {
      subject: { file },
      hint: 'Re-export the model or check the download; tgate needs an ONNX ModelProto (.onnx).',
      cause,
    });
  }
  if (!proto.graph || proto.irVersion <= 0n || proto.opsetImport.length === 0 || proto.graph.node.length === 0) {
    throw new TgateError(
      'E_NOT_ONNX',
      `${file} is not an ONNX model: it has no ${!proto.graph || proto.graph.node.length === 0 ? 'graph nodes' : proto.irVersion <= 0n ? 'ir_version' : 'opset_import'}.`,
      {
        subject: { file },
        hint: 'Pass the .onnx file of an exported model.',
      },
    );
  }
  return proto;
}

/** The IR of a parsed model; the proto is kept (never mutated) for what the IR does not model. */
export function modelFromProto(proto: ModelProto): Model {
  return {
    graph: graphFromProto(proto.graph!),
    irVersion: Number(proto.irVersion),
    opsetImports: proto.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) })),
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
    retained: retain(proto),
  };
}

export function decodeModel(bytes: Uint8Array, file: string): Model {
  return modelFromProto(parseModelProto(bytes, file));
}

/**
 * The IR of a graph, with the checks that make it one: every name defined once (graph inputs,
 * initializers, node outputs; graph outputs listed once), every read value produced, and the
 * nodes in a topological order (an unsorted graph is sorted; a cycle is refused, named node by
 * node). Every model tgate reads goes through here, so no analysis ever sees a malformed graph:
 * each of these used to surface later as an "internal error" (exit 70) or, for a cycle, as a
 * walk that grew to gigabytes. A value's type is the one its declaration gives (graph input or
 * output, else value_info, else the initializer's); encode reuses a declaration while the type
 * still matches it.
 */
function graphFromProto(gp: GraphProto): Graph {
  const g = new Graph({ name: gp.name, retained: retain(gp) });
  const declared = declaredTypes(gp);
  addInitializers(g, gp, declared);
  const inputs = addInputs(g, gp);
  addNodes(g, gp, inputs, declared);
  const outputs = addOutputs(g, gp, declared);
  checkProduced(g, inputs, outputs);
  sortNodes(g);
  return g;
}

/** A value's type as value_info declares it (null when it does not). */
type Declared = (name: string) => ReturnType<typeof tensorTypeOf>;

function declaredTypes(gp: GraphProto): Declared {
  const valueInfo = new Map<string, ValueInfoProto>();
  for (const vi of gp.valueInfo) valueInfo.set(vi.name, vi);
  return (name) => tensorTypeOf(valueInfo.get(name)?.type);
}

function malformed(message: string, subject: { tensor?: string; node?: string } = {}): TgateError {
  return new TgateError('E_NOT_ONNX', `${message}: the graph is malformed.`, {
    subject,
    hint: 'Re-export the model; `python -m onnx.checker model.onnx` names the same problem.',
  });
}

function addInitializers(g: Graph, gp: GraphProto, declared: Declared): void {
  for (const t of gp.initializer) {
    if (!t.name) throw malformed('An initializer has no name');
    if (g.value(t.name)) throw malformed(`Two initializers are named "${t.name}"`, { tensor: t.name });
    const v = g.addInitializer(constantOf(t));
    v.type = declared(t.name) ?? v.type;
  }
}

function addInputs(g: Graph, gp: GraphProto): Set<Value> {
  const inputs = new Set<Value>();
  for (const vi of gp.input) {
    if (!vi.name) throw malformed('A graph input has no name');
    // IR < 4 lists initializers as inputs too: same value, both roles.
    const v = g.value(vi.name) ?? g.createValue(vi.name);
    if (inputs.has(v)) throw malformed(`The graph input "${vi.name}" is listed twice`, { tensor: vi.name });
    v.type = tensorTypeOf(vi.type) ?? v.type;
    inputs.add(v);
    g.addInput(v);
  }
  return inputs;
}

/**
 * The nodes in file order; a value a subgraph captures becomes an implicit input of its node once
 * every node is added, since the producer may come later in an unsorted graph.
 */
function addNodes(g: Graph, gp: GraphProto, inputs: Set<Value>, declared: Declared): void {
  const pendingImplicit: [Node, string[]][] = [];
  for (const np of gp.node) {
    const nodeInputs = np.input.map((n) => (n === '' ? null : (g.value(n) ?? g.createValue(n, declared(n)))));
    const node = g.createNode({
      opType: np.opType,
      domain: np.domain,
      name: np.name,
      inputs: nodeInputs,
      outputs: nodeOutputs(g, np, inputs, declared),
      attributes: attributesOf(np.attribute),
      metadata: metadataOf(np),
      retained: retain(np),
    });
    const captured = capturedNames(np);
    if (captured.length) pendingImplicit.push([node, captured]);
  }
  for (const [node, names] of pendingImplicit)
    for (const n of names) {
      const v = g.value(n);
      if (v) g.addImplicitInput(node, v);
    }
}

/** A node's output values, each assigned once (by this node only, and only once by it). */
function nodeOutputs(g: Graph, np: NodeProto, inputs: Set<Value>, declared: Declared): (Value | null)[] {
  const claimed = new Set<string>();
  return np.output.map((n) => {
    if (n === '') return null;
    const by = np.name || np.opType;
    if (claimed.has(n)) throw malformed(`Node ${by} lists the output "${n}" twice; ONNX requires single assignment`, { tensor: n, node: np.name });
    claimed.add(n);
    const existing = g.value(n);
    if (existing) {
      // A name used before it is produced (unsorted graph) was created as a placeholder; claim it.
      if (existing.producer || existing.constant || inputs.has(existing)) {
        const first = existing.producer ? `by ${existing.producer.name} and ` : existing.constant ? 'as an initializer and ' : 'as a graph input and ';
        throw malformed(`Tensor "${n}" is produced twice (${first}by ${by}); ONNX requires single assignment`, { tensor: n, node: np.name });
      }
      return existing;
    }
    return g.createValue(n, declared(n));
  });
}

function addOutputs(g: Graph, gp: GraphProto, declared: Declared): Set<Value> {
  const outputs = new Set<Value>();
  for (const vi of gp.output) {
    if (!vi.name) throw malformed('A graph output has no name');
    const v = g.value(vi.name) ?? g.createValue(vi.name, declared(vi.name));
    if (outputs.has(v)) throw malformed(`The graph output "${vi.name}" is listed twice; output names must be unique`, { tensor: vi.name });
    outputs.add(v);
    v.type = tensorTypeOf(vi.type) ?? v.type;
    g.addOutput(v);
  }
  return outputs;
}

/** Every value read (by a node or as a graph output) has a producer, an initializer or an input. */
function checkProduced(g: Graph, inputs: Set<Value>, outputs: Set<Value>): void {
  for (const v of g.values()) {
    if (!v.producer && !v.constant && !inputs.has(v) && v.useCount + (outputs.has(v) ? 1 : 0) > 0) {
      const user = v.uses()[0]?.node.name ?? 'a graph output';
      throw new TgateError('E_NOT_ONNX', `Tensor "${v.name}" (read by ${user}) is never produced: the graph is malformed.`, { subject: { tensor: v.name } });
    }
  }
}

/** ONNX requires sorted nodes; an unsorted (acyclic) graph is put in order, stably; a cycle is refused. */
function sortNodes(g: Graph): void {
  const sorted = topologicalOrder(g.nodes);
  if ('cycle' in sorted) {
    throw new TgateError('E_NOT_ONNX', `The graph has a cycle: ${describeCycle(sorted.cycle)}; an ONNX graph must be acyclic.`, {
      subject: { node: sorted.cycle[0]!.name },
      hint: 'Re-export the model; a node reads, directly or through others, a value it produces itself.',
    });
  }
  if (sorted.order.some((n, i) => n !== g.nodes[i])) g.setNodeOrder(sorted.order);
}

function metadataOf(np: NodeProto): ReadonlyMap<string, string> {
  const m = new Map<string, string>();
  for (const e of np.metadataProps) if (!m.has(e.key)) m.set(e.key, e.value);
  return m;
}

/** Names a node's subgraphs read from the enclosing scope (not defined inside them). */
export function capturedNames(np: NodeProto): string[] {
  const out = new Set<string>();
  const visit = (sg: GraphProto, outerDefined: Set<string>): void => {
    const defined = new Set(outerDefined);
    for (const x of sg.input) defined.add(x.name);
    for (const x of sg.initializer) defined.add(x.name);
    for (const n of sg.node) for (const o of n.output) defined.add(o);
    for (const n of sg.node) {
      for (const i of n.input) if (i && !defined.has(i)) out.add(i);
      for (const a of n.attribute) {
        if (a.g) visit(a.g, defined);
        for (const sub of a.graphs) visit(sub, defined);
      }
    }
    for (const o of sg.output) if (!defined.has(o.name)) out.add(o.name);
  };
  for (const a of np.attribute) {
    if (a.g) visit(a.g, new Set());
    for (const sub of a.graphs) visit(sub, new Set());
  }
  return [...out].sort();
}
