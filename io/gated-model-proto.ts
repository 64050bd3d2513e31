// The protobuf of a gated model (build/gated-model.ts says what one is and plans it): one If
// node per variant, side by side, each switched by its own bool scalar input; the then-branch is
// the variant's graph, the else-branch gives empty tensors. Assembled from an IR-level plan, then
// checked before any byte is written (this runs on every compile, --no-verify included) against
// facts the If nodes do not restate: each then-branch gives its variant graph's outputs (names,
// element types), each If is switched by its own declared bool scalar input, every graph output
// comes out of exactly one If, every name a branch reads from outside is an outer input or
// initializer of the element type the variant reads, and the manifest's entries name each If's
// flag and outputs.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttrType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataType as DataType,
  TensorProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import { capturedNames } from './decode.js';
import { graphInterfaceToProto, graphToProto, modelProtoWith, type EncodeOptions } from './encode.js';
import { tensorTypeOf, valueInfoFor } from './types.js';

/** One variant as an If node of the gated model. */
export interface GatedIfPlan {
  /** The If node's name. */
  node: string;
  /** Its condition: a bool scalar graph input. */
  flag: string;
  /** The variant's graph, the then-branch; encoded with `renames` applied, then restored. */
  body: Graph;
  renames: [string, string][];
  thenName: string;
  elseName: string;
  /** Then-branch output (inner name), If output (outer name; the else-branch gives `${outer}.idle`). */
  outputs: { inner: string; outer: string; dtype: number }[];
}

/**
 * A variant's entry in the manifest: the flag that runs it, the output its first source output
 * comes out under (the further ones by build/gated-model.ts's gatedSourceOutputs), and its site
 * outputs by site id.
 */
export interface GatedEntry {
  name: string;
  flag: string;
  output: string;
  /** Site id -> output name, for the sites this variant computes. */
  siteOutputs: Record<string, string>;
}

export interface GatedModelPlan {
  /** The model whose fields, initializers and inputs the gated model keeps. */
  base: Model;
  name: string;
  ifs: GatedIfPlan[];
  /** The manifest's entry of each If, in the same order. */
  entries: GatedEntry[];
  /** Inputs after the base model's (cache inputs, then the flags). */
  extraInputs: { name: string; type: TensorType }[];
}

/** A value declared by its element type only (a branch output, an If output). */
export function typedOutput(name: string, dtype: number): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: dtype }) } }),
  });
}

/** A [0, 0, 0] tensor: what a branch gives for a site it does not compute. */
function emptyTensor(output: string, dtype: number): NodeProto {
  const value = create(TensorProtoSchema, { dims: [0n, 0n, 0n], dataType: dtype, name: output });
  return create(NodeProtoSchema, {
    opType: 'Constant',
    name: `tgate/none/${output}`,
    output: [output],
    attribute: [create(AttributeProtoSchema, { name: 'value', type: AttrType.TENSOR, t: value })],
  });
}

/** Renames values for the duration of fn, then restores them: the IR stays the caller's. */
export function withRenamed<T>(g: Graph, renames: [string, string][], fn: () => T): T {
  const done: [string, string][] = [];
  try {
    for (const [from, to] of renames) {
      g.renameValue(g.requireValue(from, 'rename'), to);
      done.push([from, to]);
    }
    return fn();
  } finally {
    for (const [from, to] of done.reverse()) g.renameValue(g.requireValue(to, 'rename'), from);
  }
}

function ifNode(p: GatedIfPlan, opts: EncodeOptions): NodeProto {
  const body = withRenamed(p.body, p.renames, () => graphToProto(p.body, opts));
  const then = create(GraphProtoSchema, {
    name: p.thenName,
    node: body.node,
    valueInfo: body.valueInfo,
    output: p.outputs.map((o) => typedOutput(o.inner, o.dtype)),
  });
  const idle = create(GraphProtoSchema, {
    name: p.elseName,
    node: p.outputs.map((o) => emptyTensor(`${o.outer}.idle`, o.dtype)),
    output: p.outputs.map((o) => typedOutput(`${o.outer}.idle`, o.dtype)),
  });
  return create(NodeProtoSchema, {
    opType: 'If',
    name: p.node,
    input: [p.flag],
    output: p.outputs.map((o) => o.outer),
    attribute: [
      create(AttributeProtoSchema, { name: 'then_branch', type: AttrType.GRAPH, g: then }),
      create(AttributeProtoSchema, { name: 'else_branch', type: AttrType.GRAPH, g: idle }),
    ],
  });
}

/** The gated model, checked structurally (checkGatedModel). The plan's graphs are left as they were. */
export function gatedModelProto(plan: GatedModelPlan, opts: EncodeOptions = {}): ModelProto {
  const nodes = plan.ifs.map((p) => ifNode(p, opts));
  // The base model's inputs and initializers only: its nodes are in the branches already.
  const outer = graphInterfaceToProto(plan.base.graph, opts);
  const graph = create(GraphProtoSchema, {
    name: plan.name,
    node: nodes,
    initializer: outer.initializer,
    input: [...outer.input, ...plan.extraInputs.map((i) => valueInfoFor(i.name, i.type))],
    output: plan.ifs.flatMap((p) => p.outputs.map((o) => typedOutput(o.outer, o.dtype))),
  });
  const model = modelProtoWith(plan.base, graph);
  checkGatedModel(model, plan);
  return model;
}

/** The gated model's bytes (gatedModelProto, serialised). */
export function encodeGatedModelPlan(plan: GatedModelPlan, opts: EncodeOptions = {}): Uint8Array {
  return toBinary(ModelProtoSchema, gatedModelProto(plan, opts));
}

/**
 * The structural check of a gated model against what it must hold: the plan's variant graphs
 * (their outputs, inputs and initializers, as IR), its base model's inputs and the manifest's
 * entries (plan.entries). Throws E_INTERNAL naming the first broken rule.
 */
export function checkGatedModel(model: ModelProto, plan: GatedModelPlan): void {
  const g = model.graph;
  if (!g) throw broken('it has no graph');
  const inputs = new Map(g.input.map((vi) => [vi.name, vi]));
  if (inputs.size !== g.input.length) throw broken('two graph inputs share a name');
  const initializers = new Map(g.initializer.map((t) => [t.name, t.dataType]));
  const outerNames = new Set([...inputs.keys(), ...initializers.keys()]);
  // The outer graph keeps the base model's inputs, in order, and only adds `tgate.` names.
  const baseInputs = plan.base.graph.inputs.map((v) => v.name);
  if (
    !sameList(
      g.input.slice(0, baseInputs.length).map((vi) => vi.name),
      baseInputs,
    )
  )
    throw broken("the graph inputs do not start with the base model's");
  for (const vi of g.input.slice(baseInputs.length)) if (!vi.name.startsWith('tgate.')) throw broken(`the added input "${vi.name}" is not a tgate. name`);
  if (g.node.length !== plan.ifs.length || plan.entries.length !== plan.ifs.length)
    throw broken(`${g.node.length} nodes and ${plan.entries.length} manifest entries for ${plan.ifs.length} variants`);
  const facts: OuterFacts = {
    inputs,
    initializers,
    outerNames,
    baseInputs,
    declaredOutputs: new Map(g.output.map((o) => [o.name, tensorTypeOf(o.type)?.dtype])),
    produced: new Set(),
    flags: new Set(),
  };
  g.node.forEach((n, i) => checkIfNode(n, i, plan.ifs[i]!, plan.entries[i]!, facts));
  const { declaredOutputs, produced } = facts;
  if (declaredOutputs.size !== g.output.length || g.output.some((o) => !produced.has(o.name)))
    throw broken('the graph outputs are not exactly the If outputs, each once');
}

/** What every If of a gated model is checked against: the outer graph's names and types, and what earlier Ifs took. */
interface OuterFacts {
  inputs: Map<string, ValueInfoProto>;
  initializers: Map<string, number>;
  outerNames: Set<string>;
  baseInputs: string[];
  declaredOutputs: Map<string, number | undefined>;
  produced: Set<string>;
  flags: Set<string>;
}

/** One If of a gated model against its variant graph and its manifest entry. */
function checkIfNode(n: NodeProto, i: number, p: GatedIfPlan, entry: GatedEntry, o: OuterFacts): void {
  const { inputs, initializers, outerNames, baseInputs, declaredOutputs, produced, flags } = o;
  const body = p.body;
  const renamed = new Map(p.renames);
  const nameIn = (v: { name: string }) => renamed.get(v.name) ?? v.name;
  if (n.opType !== 'If' || n.domain !== '') throw broken(`node ${i} is ${n.opType} "${n.name}", not an If`, n.name);
  // The flag: a declared bool scalar input, switching this If only.
  const flag = n.input.length === 1 ? n.input[0]! : '';
  const declared = tensorTypeOf(inputs.get(flag)?.type);
  if (!flag || declared?.dtype !== DataType.BOOL || declared.shape?.length !== 0)
    throw broken(`${n.name} is not switched by a bool scalar graph input`, n.name);
  if (baseInputs.includes(flag) || flags.has(flag)) throw broken(`the flag "${flag}" of ${n.name} is not its own`, n.name);
  if (entry.flag !== flag) throw broken(`the manifest runs the ${entry.name} variant by "${entry.flag}", but ${n.name} is switched by "${flag}"`, n.name);
  flags.add(flag);
  const branch = (name: string) => n.attribute.find((a) => a.name === name && a.type === AttrType.GRAPH)?.g;
  const then = branch('then_branch');
  const idle = branch('else_branch');
  if (!then || !idle) throw broken(`${n.name} lacks its two branches`, n.name);
  // The then-branch gives the variant's outputs, as the variant graph names and types them.
  const want = body.outputs.map((v) => ({ name: nameIn(v), dtype: v.type?.dtype }));
  if (then.output.length !== want.length) throw broken(`the then-branch of ${n.name} gives ${then.output.length} outputs, its variant ${want.length}`, n.name);
  then.output.forEach((out, k) => {
    const w = want[k]!;
    if (out.name !== w.name) throw broken(`output ${k} of the then-branch of ${n.name} is "${out.name}", the variant's "${w.name}"`, n.name);
    if (!w.dtype || tensorTypeOf(out.type)?.dtype !== w.dtype)
      throw broken(`output "${out.name}" of the then-branch of ${n.name} is not of the variant's element type ${w.dtype ?? 'unknown'}`, n.name);
  });
  if (!definesAll(then, outerNames) || !definesAll(idle, outerNames))
    throw broken(`a branch of ${n.name} gives an output no node of it computes or reads`, n.name);
  // What the branches read from outside exists there, of the element type the variant reads.
  for (const name of capturedNames(n)) if (!outerNames.has(name)) throw broken(`${n.name} reads "${name}", which the outer graph does not define`, n.name);
  for (const v of body.inputs) {
    const outerType = tensorTypeOf(inputs.get(nameIn(v))?.type);
    if (!outerType || outerType.dtype !== v.type?.dtype)
      throw broken(`the variant input "${v.name}" of ${n.name} is not an outer input "${nameIn(v)}" of its element type`, n.name);
  }
  for (const v of body.initializers)
    if (initializers.get(v.name) !== v.constant?.dtype)
      throw broken(`the variant initializer "${v.name}" of ${n.name} is not an outer one of its type`, n.name);
  // The manifest's names are this If's outputs: its first (the variant's first, a source output)
  // and, each once, the site outputs among the others.
  if (n.output[0] !== entry.output)
    throw broken(`the manifest's output "${entry.output}" of the ${entry.name} variant is not the first output "${n.output[0] ?? ''}" of ${n.name}`, n.name);
  const siteNames = Object.values(entry.siteOutputs);
  for (const name of siteNames)
    if (!n.output.slice(1).includes(name))
      throw broken(`the manifest's site output "${name}" of the ${entry.name} variant is not an output of ${n.name}`, n.name);
  if (new Set(siteNames).size !== siteNames.length) throw broken(`two sites of the ${entry.name} variant share an output in the manifest`, n.name);
  // The If's outputs: declared graph outputs of the variant's types, each once.
  n.output.forEach((out, k) => {
    if (produced.has(out) || outerNames.has(out)) throw broken(`"${out}" is defined twice`, n.name);
    if (!want[k] || declaredOutputs.get(out) !== want[k].dtype)
      throw broken(`"${out}" of ${n.name} is not a graph output of the variant's element type`, n.name);
    produced.add(out);
  });
}

function broken(what: string, node?: string): TgateError {
  return new TgateError('E_INTERNAL', `The gated model is malformed: ${what}.`, {
    ...(node ? { subject: { node } } : {}),
    hint: 'This is a bug in tgate; please report it with the model.',
  });
}

/** Every output of a branch is computed by one of its nodes or is a name of the outer graph. */
function definesAll(sg: GraphProto, outer: Set<string>): boolean {
  const defined = new Set(sg.node.flatMap((n) => n.output));
  return sg.output.every((o) => defined.has(o.name) || outer.has(o.name));
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
