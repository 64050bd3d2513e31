// The protobuf of a stateful gated model (build/stateful-model.ts says what one is and plans it):
// one If per variant, chained through the state and the source outputs. A then-branch is the
// variant's graph plus, per state, an If on the kind's keep flag (stored: the computed site,
// averaged over the CFG pair under the pair-mean flag; not stored: the state passed on); an
// else-branch passes everything on. Checked before any byte is written: the outer graph keeps the
// base model's inputs and adds only `tgate.` names, every name a branch reads from outside exists
// there, and every graph output comes from the last If, once.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttrType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataType as DataType,
  TensorProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
} from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { defaultOpset } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import { capturedNames } from './decode.js';
import { graphInterfaceToProto, graphToProto, modelProtoWith } from './encode.js';
import { valueInfoFor } from './types.js';
import { typedOutput, withRenamed } from './gated-model-proto.js';

export interface StatefulBranchPlan {
  variant: string;
  node: string;
  flag: string;
  body: Graph;
  /** Applied to the body while it is encoded, then undone. */
  renames: [string, string][];
  thenName: string;
  elseName: string;
  /** The source outputs: the branch-local name of the variant's, the chain's value before and after this If. */
  sources: { inner: string; prev: string; out: string; dtype: number; rank: number }[];
  /** Every state: the chain's value before and after, the site tensor when this variant computes it. */
  states: { id: string; local: string; prev: string; out: string; dtype: number; computed: string | null; keep: string; pairMean: string | null }[];
}

export interface StatefulModelPlan {
  base: Model;
  name: string;
  /** Empty tensors the chain's source outputs start from. */
  starts: { name: string; dtype: number; rank: number }[];
  branches: StatefulBranchPlan[];
  /** Inputs after the base model's: flags, then the state inputs. */
  extraInputs: { name: string; type: TensorType }[];
  outputs: { name: string; type: TensorType }[];
}

function node(opType: string, name: string, input: string[], output: string[], attrs: { name: string; value: number | GraphProto }[] = []): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    name,
    input,
    output,
    attribute: attrs.map((a) =>
      typeof a.value === 'number'
        ? create(AttributeProtoSchema, { name: a.name, type: AttrType.INT, i: BigInt(a.value) })
        : create(AttributeProtoSchema, { name: a.name, type: AttrType.GRAPH, g: a.value }),
    ),
  });
}

const graph = (name: string, nodes: NodeProto[], outputs: { name: string; dtype: number }[]): GraphProto =>
  create(GraphProtoSchema, { name, node: nodes, output: outputs.map((o) => typedOutput(o.name, o.dtype)) });

const ifNode = (name: string, cond: string, outputs: string[], then: GraphProto, otherwise: GraphProto): NodeProto =>
  node('If', name, [cond], outputs, [
    { name: 'then_branch', value: then },
    { name: 'else_branch', value: otherwise },
  ]);

/** A zero-size tensor of the given rank. */
function emptyConstant(name: string, dtype: number, rank: number): NodeProto {
  const t = create(TensorProtoSchema, { dims: Array.from({ length: Math.max(rank, 1) }, () => 0n), dataType: dtype, name });
  return create(NodeProtoSchema, {
    opType: 'Constant',
    name: `tgate/start/${name}`,
    output: [name],
    attribute: [create(AttributeProtoSchema, { name: 'value', type: AttrType.TENSOR, t })],
  });
}

function scalarConstant(name: string, value: number): NodeProto {
  const t = create(TensorProtoSchema, { dims: [], dataType: DataType.FLOAT, floatData: [value], name });
  return create(NodeProtoSchema, {
    opType: 'Constant',
    name: `${name}/const`,
    output: [name],
    attribute: [create(AttributeProtoSchema, { name: 'value', type: AttrType.TENSOR, t })],
  });
}

/**
 * (x[:n/2] + x[n/2:]) / 2 along axis 0, computed in float32 and cast back: the sampler's
 * meanOfPair exactly (a sum of two float16 or float32 values rounds the same way either way).
 */
function pairMeanNodes(x: string, out: string, dtype: number, opset: number): NodeProto[] {
  const p = `${out}/mean`;
  const nodes: NodeProto[] = [];
  let xf = x;
  if (dtype !== DataType.FLOAT) {
    xf = `${p}/float`;
    nodes.push(node('Cast', `${p}/cast_in`, [x], [xf], [{ name: 'to', value: DataType.FLOAT }]));
  }
  // Split into two equal halves: by output count before opset 18, by num_outputs from it.
  nodes.push(
    node('Split', `${p}/split`, [xf], [`${p}/uncond`, `${p}/cond`], [{ name: 'axis', value: 0 }, ...(opset >= 18 ? [{ name: 'num_outputs', value: 2 }] : [])]),
  );
  nodes.push(node('Add', `${p}/add`, [`${p}/uncond`, `${p}/cond`], [`${p}/sum`]));
  nodes.push(scalarConstant(`${p}/two`, 2));
  const meanF = dtype === DataType.FLOAT ? out : `${p}/mean_float`;
  nodes.push(node('Div', `${p}/div`, [`${p}/sum`, `${p}/two`], [meanF]));
  if (dtype !== DataType.FLOAT) nodes.push(node('Cast', `${p}/cast_out`, [meanF], [out], [{ name: 'to', value: dtype }]));
  return nodes;
}

/** The state update inside a variant's branch: kept (maybe averaged) or passed on. */
function stateNodes(b: StatefulBranchPlan, s: StatefulBranchPlan['states'][number], opset: number): NodeProto[] {
  if (s.computed === null) return [node('Identity', `${s.local}/pass`, [s.prev], [s.local])];
  const kept = `${s.local}/kept`;
  let store: NodeProto[];
  if (s.pairMean) {
    const mean = graph(`${tagOf(b)}_${safe(s.id)}_mean`, pairMeanNodes(s.computed, `${kept}/mean`, s.dtype, opset), [{ name: `${kept}/mean`, dtype: s.dtype }]);
    const asIs = graph(
      `${tagOf(b)}_${safe(s.id)}_as_is`,
      [node('Identity', `${kept}/as_is`, [s.computed], [`${kept}/as_is`])],
      [{ name: `${kept}/as_is`, dtype: s.dtype }],
    );
    store = [ifNode(`${s.local}/pair_mean`, s.pairMean, [kept], mean, asIs)];
  } else {
    store = [node('Identity', `${kept}/as_is`, [s.computed], [kept])];
  }
  const then = graph(`${tagOf(b)}_${safe(s.id)}_store`, store, [{ name: kept, dtype: s.dtype }]);
  const pass = graph(
    `${tagOf(b)}_${safe(s.id)}_pass`,
    [node('Identity', `${s.local}/passed`, [s.prev], [`${s.local}/passed`])],
    [{ name: `${s.local}/passed`, dtype: s.dtype }],
  );
  return [ifNode(`${s.local}/keep`, s.keep, [s.local], then, pass)];
}

const safe = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
const tagOf = (b: StatefulBranchPlan) => b.thenName;

function branchIf(b: StatefulBranchPlan, opset: number): NodeProto {
  const body = withRenamed(b.body, b.renames, () => graphToProto(b.body, {}));
  const outs = [...b.sources.map((s) => ({ name: s.inner, dtype: s.dtype })), ...b.states.map((s) => ({ name: s.local, dtype: s.dtype }))];
  const then = create(GraphProtoSchema, {
    name: b.thenName,
    node: [...body.node, ...b.states.flatMap((s) => stateNodes(b, s, opset))],
    valueInfo: body.valueInfo,
    output: outs.map((o) => typedOutput(o.name, o.dtype)),
  });
  const idleNames = [...b.sources.map((s) => ({ prev: s.prev, dtype: s.dtype })), ...b.states.map((s) => ({ prev: s.prev, dtype: s.dtype }))];
  const idle = graph(
    b.elseName,
    idleNames.map((x, i) => node('Identity', `${b.elseName}/pass.${i}`, [x.prev], [`${b.elseName}.${i}`])),
    idleNames.map((x, i) => ({ name: `${b.elseName}.${i}`, dtype: x.dtype })),
  );
  return ifNode(b.node, b.flag, [...b.sources.map((s) => s.out), ...b.states.map((s) => s.out)], then, idle);
}

/** The stateful model, checked (checkStatefulModel). The plan's graphs are left as they were. */
export function statefulModelProto(plan: StatefulModelPlan): ModelProto {
  const opset = defaultOpset(plan.base);
  const outer = graphInterfaceToProto(plan.base.graph, {});
  const g = create(GraphProtoSchema, {
    name: plan.name,
    node: [...plan.starts.map((s) => emptyConstant(s.name, s.dtype, s.rank)), ...plan.branches.map((b) => branchIf(b, opset))],
    initializer: outer.initializer,
    input: [...outer.input, ...plan.extraInputs.map((i) => valueInfoFor(i.name, i.type))],
    output: plan.outputs.map((o) => valueInfoFor(o.name, o.type)),
  });
  const model = modelProtoWith(plan.base, g);
  checkStatefulModel(model, plan);
  return model;
}

export function encodeStatefulModelPlan(plan: StatefulModelPlan): Uint8Array {
  return toBinary(ModelProtoSchema, statefulModelProto(plan));
}

/** Structural facts the plan does not restate; E_INTERNAL naming the first broken one. */
export function checkStatefulModel(model: ModelProto, plan: StatefulModelPlan): void {
  const g = model.graph!;
  const baseInputs = plan.base.graph.inputs.map((v) => v.name);
  const inputs = g.input.map((i) => i.name);
  if (new Set(inputs).size !== inputs.length) throw broken('two graph inputs share a name');
  if (baseInputs.some((n, i) => inputs[i] !== n)) throw broken("the graph inputs do not start with the base model's");
  for (const n of inputs.slice(baseInputs.length)) if (!n.startsWith('tgate.')) throw broken(`the added input "${n}" is not a tgate. name`);
  const defined = new Set([...inputs, ...g.initializer.map((t) => t.name)]);
  for (const n of g.node) {
    for (const name of n.opType === 'If' ? capturedNames(n) : n.input)
      if (!defined.has(name)) throw broken(`${n.name} reads "${name}", which is not defined before it`, n.name);
    for (const o of n.output) {
      if (defined.has(o)) throw broken(`"${o}" is defined twice`, n.name);
      defined.add(o);
    }
  }
  const last = g.node[g.node.length - 1];
  if (!last || last.opType !== 'If') throw broken('the last node is not a variant If');
  const finals = new Set(last.output);
  if (g.output.length !== finals.size || g.output.some((o) => !finals.has(o.name))) throw broken('the graph outputs are not exactly the last If outputs');
  for (const n of g.node.filter((x) => x.opType === 'If')) {
    const branches = n.attribute.filter((a) => a.type === AttrType.GRAPH).map((a) => a.g!);
    if (branches.length !== 2 || branches.some((b) => b.output.length !== n.output.length))
      throw broken(`${n.name} does not give as many outputs from both branches as it declares`, n.name);
  }
}

function broken(what: string, nodeName?: string): TgateError {
  return new TgateError('E_INTERNAL', `The stateful model is malformed: ${what}.`, {
    ...(nodeName ? { subject: { node: nodeName } } : {}),
    hint: 'This is a bug in tgate; please report it with the model.',
  });
}
