// The protobuf of a gated model (build/gated-model.ts says what one is and plans it): one If
// node per variant, side by side, each switched by its own bool scalar input; the then-branch is
// the variant's graph, the else-branch gives empty tensors. Assembled from an IR-level plan, then
// checked structurally before any byte is written (this runs on every compile, --no-verify
// included): each If reads its own declared bool flag, both branches give the outputs the If
// declares with the same element types, every graph output comes out of exactly one If, and
// every name a branch reads from outside is an outer input or initializer.
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
import { graphToProto, modelToProto, type EncodeOptions } from './encode.js';
import { retained } from './retained.js';
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

export interface GatedModelPlan {
  /** The model whose fields, initializers and inputs the gated model keeps. */
  base: Model;
  name: string;
  ifs: GatedIfPlan[];
  /** Inputs after the base model's (cache inputs, then the flags). */
  extraInputs: { name: string; type: TensorType }[];
}

function typedOutput(name: string, dtype: number): ValueInfoProto {
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
function withRenamed<T>(g: Graph, renames: [string, string][], fn: () => T): T {
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

/** The gated model's bytes, checked structurally against its plan. The plan's graphs are left as they were. */
export function encodeGatedModelPlan(plan: GatedModelPlan, opts: EncodeOptions = {}): Uint8Array {
  const nodes = plan.ifs.map((p) => ifNode(p, opts));
  const outer = modelToProto(plan.base, opts).graph!;
  const graph = create(GraphProtoSchema, {
    name: plan.name,
    node: nodes,
    initializer: outer.initializer,
    input: [...outer.input, ...plan.extraInputs.map((i) => valueInfoFor(i.name, i.type))],
    output: plan.ifs.flatMap((p) => p.outputs.map((o) => typedOutput(o.outer, o.dtype))),
  });
  const base = retained(ModelProtoSchema, plan.base.retained) ?? modelToProto(plan.base, opts);
  const model = { ...base, graph, $typeName: ModelProtoSchema.typeName } as ModelProto;
  checkGatedModel(model, plan);
  return toBinary(ModelProtoSchema, model);
}

/** The structural check of a gated model; throws E_INTERNAL naming the first broken rule. */
export function checkGatedModel(model: ModelProto, plan: GatedModelPlan): void {
  const g = model.graph!;
  const broken = (what: string, node?: string) =>
    new TgateError('E_INTERNAL', `The gated model is malformed: ${what}.`, {
      ...(node ? { subject: { node } } : {}),
      hint: 'This is a bug in tgate; please report it with the model.',
    });
  const inputs = new Map(g.input.map((vi) => [vi.name, vi]));
  if (inputs.size !== g.input.length) throw broken('two graph inputs share a name');
  const outerNames = new Set([...inputs.keys(), ...g.initializer.map((t) => t.name)]);
  const produced = new Map<string, string>();
  const flags = new Set<string>();
  if (g.node.length !== plan.ifs.length) throw broken(`${g.node.length} nodes for ${plan.ifs.length} variants`);
  g.node.forEach((n, i) => {
    const p = plan.ifs[i]!;
    if (n.opType !== 'If' || n.domain !== '' || n.name !== p.node) throw broken(`node ${i} is ${n.opType} "${n.name}", not the If "${p.node}"`, n.name);
    const flag = n.input.length === 1 ? n.input[0]! : '';
    const declared = tensorTypeOf(inputs.get(flag)?.type);
    if (flag !== p.flag || declared?.dtype !== DataType.BOOL || declared.shape?.length !== 0)
      throw broken(`${n.name} is not switched by the bool scalar input "${p.flag}"`, n.name);
    if (flags.has(flag)) throw broken(`the flag "${flag}" switches two If nodes`, n.name);
    flags.add(flag);
    const branch = (name: string) => n.attribute.find((a) => a.name === name && a.type === AttrType.GRAPH)?.g;
    const then = branch('then_branch');
    const idle = branch('else_branch');
    if (!then || !idle || n.attribute.length !== 2) throw broken(`${n.name} lacks its two branches`, n.name);
    const dtypes = (outs: ValueInfoProto[]) => outs.map((o) => tensorTypeOf(o.type)?.dtype ?? null);
    const want = p.outputs.map((o) => o.dtype);
    if (
      !sameList(
        n.output,
        p.outputs.map((o) => o.outer),
      )
    )
      throw broken(`${n.name} does not give the planned outputs`, n.name);
    if (
      !sameList(
        then.output.map((o) => o.name),
        p.outputs.map((o) => o.inner),
      ) ||
      !sameList(dtypes(then.output), want)
    )
      throw broken(`the then-branch of ${n.name} does not give the variant's outputs`, n.name);
    if (idle.output.length !== want.length || !sameList(dtypes(idle.output), want))
      throw broken(`the else-branch of ${n.name} does not match its then-branch`, n.name);
    if (!definesAll(then, outerNames) || !definesAll(idle, outerNames))
      throw broken(`a branch of ${n.name} gives an output no node of it computes or reads`, n.name);
    for (const name of capturedNames(n)) if (!outerNames.has(name)) throw broken(`${n.name} reads "${name}", which the outer graph does not define`, n.name);
    for (const o of n.output) {
      if (produced.has(o) || outerNames.has(o)) throw broken(`"${o}" is defined twice`, n.name);
      produced.set(o, n.name);
    }
  });
  const outs = g.output.map((o) => o.name);
  if (outs.length !== produced.size || outs.some((o) => !produced.has(o))) throw broken('the graph outputs are not exactly the If outputs');
  for (const e of plan.extraInputs)
    if (!e.name.startsWith('tgate.') || !inputs.has(e.name)) throw broken(`the added input "${e.name}" is missing or not a tgate. name`);
}

/** Every output of a branch is computed by one of its nodes or is a name of the outer graph. */
function definesAll(sg: GraphProto, outer: Set<string>): boolean {
  const defined = new Set(sg.node.flatMap((n) => n.output));
  return sg.output.every((o) => defined.has(o.name) || outer.has(o.name));
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
