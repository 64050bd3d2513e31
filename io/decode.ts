// Bytes -> ModelProto -> IR. The only place (with encode.ts) that knows the protobuf schema.
// onnx-buf (ONNX 1.20 schema on @bufbuild/protobuf) keeps unknown fields, so decode+encode of an
// unchanged model is byte-identical.
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, type GraphProto, type ModelProto, type NodeProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { describeCycle, topologicalOrder } from '../ir/order.js';
import type { Value } from '../ir/value.js';
import { refuseOversizedGraph } from './graph-size.js';
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

export function modelFromProto(proto: ModelProto): Model {
  return { proto, graph: graphFromProto(proto.graph!) };
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
 * walk that grew to gigabytes.
 */
function graphFromProto(gp: GraphProto): Graph {
  const g = new Graph(gp);
  const malformed = (message: string, subject: { tensor?: string; node?: string } = {}) =>
    new TgateError('E_NOT_ONNX', `${message}: the graph is malformed.`, {
      subject,
      hint: 'Re-export the model; `python -m onnx.checker model.onnx` names the same problem.',
    });
  for (const vi of gp.valueInfo) g.valueInfo.set(vi.name, vi);
  for (const t of gp.initializer) {
    if (!t.name) throw malformed('An initializer has no name');
    if (g.value(t.name)) throw malformed(`Two initializers are named "${t.name}"`, { tensor: t.name });
    const v = g.createValue(t.name, { dtype: t.dataType, shape: t.dims.map(Number) });
    v.initializer = t;
    g.addInitializer(v);
  }
  const inputs = new Set<Value>();
  for (const vi of gp.input) {
    if (!vi.name) throw malformed('A graph input has no name');
    g.ioInfo.set(vi.name, vi);
    // IR < 4 lists initializers as inputs too: same value, both roles.
    const v = g.value(vi.name) ?? g.createValue(vi.name, tensorTypeOf(vi.type));
    if (inputs.has(v)) throw malformed(`The graph input "${vi.name}" is listed twice`, { tensor: vi.name });
    inputs.add(v);
    g.inputs.push(v);
  }
  const pendingImplicit: [ReturnType<Graph['appendNode']>, string[]][] = [];
  for (const np of gp.node) {
    const nodeInputs = np.input.map((n) => (n === '' ? null : lookupOrCreate(g, n)));
    const claimed = new Set<string>();
    const outputs = np.output.map((n) => {
      if (n === '') return null;
      const by = np.name || np.opType;
      if (claimed.has(n)) throw malformed(`Node ${by} lists the output "${n}" twice; ONNX requires single assignment`, { tensor: n, node: np.name });
      claimed.add(n);
      const existing = g.value(n);
      if (existing) {
        // A name used before it is produced (unsorted graph) was created as a placeholder; claim it.
        if (existing.producer || existing.initializer || inputs.has(existing)) {
          const first = existing.producer ? `by ${existing.producer.name} and ` : existing.initializer ? 'as an initializer and ' : 'as a graph input and ';
          throw malformed(`Tensor "${n}" is produced twice (${first}by ${by}); ONNX requires single assignment`, { tensor: n, node: np.name });
        }
        return existing;
      }
      return g.createValue(n, tensorTypeOf(g.valueInfo.get(n)?.type));
    });
    const node = g.appendNode(np, nodeInputs, outputs);
    const captured = capturedNames(np);
    if (captured.length) pendingImplicit.push([node, captured]);
  }
  for (const [node, names] of pendingImplicit)
    for (const n of names) {
      const v = g.value(n);
      if (v) g.addImplicitInput(node, v);
    }
  const outputs = new Set<Value>();
  for (const vi of gp.output) {
    if (!vi.name) throw malformed('A graph output has no name');
    g.ioInfo.set(vi.name, vi);
    const v = lookupOrCreate(g, vi.name);
    if (outputs.has(v)) throw malformed(`The graph output "${vi.name}" is listed twice; output names must be unique`, { tensor: vi.name });
    outputs.add(v);
    if (!v.type) v.type = tensorTypeOf(vi.type);
    g.outputs.push(v);
  }
  for (const v of g.values()) {
    if (!v.producer && !v.initializer && !inputs.has(v) && v.useCount + (outputs.has(v) ? 1 : 0) > 0) {
      const user = v.uses()[0]?.node.name ?? 'a graph output';
      throw new TgateError('E_NOT_ONNX', `Tensor "${v.name}" (read by ${user}) is never produced: the graph is malformed.`, { subject: { tensor: v.name } });
    }
  }
  const sorted = topologicalOrder(g.nodes);
  if ('cycle' in sorted) {
    throw new TgateError('E_NOT_ONNX', `The graph has a cycle: ${describeCycle(sorted.cycle)}; an ONNX graph must be acyclic.`, {
      subject: { node: sorted.cycle[0]!.name },
      hint: 'Re-export the model; a node reads, directly or through others, a value it produces itself.',
    });
  }
  // ONNX requires sorted nodes; an unsorted (acyclic) graph is put in order, stably.
  if (sorted.order.some((n, i) => n !== g.nodes[i])) g.setNodeOrder(sorted.order);
  return g;
}

function lookupOrCreate(g: Graph, name: string): Value {
  return g.value(name) ?? g.createValue(name, tensorTypeOf(g.valueInfo.get(name)?.type));
}

/** Names a node's subgraphs read from the enclosing scope (not defined inside them). */
function capturedNames(np: NodeProto): string[] {
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
