// A gated model: several graph variants as the branches of nested If nodes, so one onnxruntime
// session (one arena, one copy of pre-packed weights) serves every step of a schedule. The outer
// graph holds every initializer (by reference into the shared weights file), the inputs of all
// variants and one bool flag per choice: `tgate.use_cache` (true: cross-attention is fed from
// the caches) and `tgate.reuse_self` (true: self-attention is). Every branch gives the same
// outputs: the model output, then one per cached site; a branch that does not compute a site
// gives an empty tensor there, so no cache is copied through a step that only reads it.
// Branch-internal names never shadow outer ones: the outer graph only adds `tgate.` names.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProtoSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type GraphProto,
  type NodeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { SiteRole } from '../variants.js';
import { graphToProto, modelToProto, type EncodeOptions } from './encode.js';
import { valueInfoFor } from './types.js';

export const USE_CACHE_INPUT = 'tgate.use_cache';
export const REUSE_SELF_INPUT = 'tgate.reuse_self';
export const gatedCacheInput = (id: string) => `tgate.cache.${id}`;
export const gatedCacheOutput = (id: string) => `tgate.cache_out.${id}`;

export interface GatedCache {
  id: string;
  kind: 'cross' | 'self';
  /** The cut tensor: an output of the variants that compute it, an input of the others. */
  tensor: string;
}

export interface GatedBranch {
  name: string;
  model: Model;
  cross: SiteRole;
  self: SiteRole;
}

const roleOf = (b: GatedBranch, c: GatedCache): SiteRole => (c.kind === 'cross' ? b.cross : b.self);

function typedOutput(name: string, dtype: number): ValueInfoProto {
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: dtype }) } }) });
}

function boolScalar(name: string): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: 9, shape: create(TensorShapeProtoSchema, { dim: [] }) }) } }),
  });
}

/** A [0, 0, 0] tensor: what a branch gives for a site it does not compute. */
function emptyTensor(output: string, dtype: number): NodeProto {
  const value = create(TensorProtoSchema, { dims: [0n, 0n, 0n], dataType: dtype, name: output });
  return create(NodeProtoSchema, { opType: 'Constant', name: `tgate/none/${output}`, output: [output], attribute: [create(AttributeProtoSchema, { name: 'value', type: 4, t: value })] });
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

function leafGraph(b: GatedBranch, caches: GatedCache[], dtypeOf: (c: GatedCache) => number, opts: EncodeOptions): GraphProto {
  const g = b.model.graph;
  const out = g.outputs[0]!;
  const outName = `tgate.${b.name}.${out.name}`;
  const outType = out.type?.dtype ?? 1;
  // A fed site reads the outer graph's cache input directly: no Identity, no copy.
  const renames: [string, string][] = [[out.name, outName], ...caches.filter((c) => roleOf(b, c) === 'input').map((c): [string, string] => [c.tensor, gatedCacheInput(c.id)])];
  return withRenamed(g, renames, () => {
    const body = graphToProto(g, opts);
    const node = [...body.node];
    const output = [typedOutput(outName, outType)];
    for (const c of caches) {
      if (roleOf(b, c) === 'output') output.push(typedOutput(c.tensor, dtypeOf(c)));
      else {
        const none = `tgate.${b.name}.none.${c.id}`;
        node.push(emptyTensor(none, dtypeOf(c)));
        output.push(typedOutput(none, dtypeOf(c)));
      }
    }
    return create(GraphProtoSchema, { name: `tgate_${b.name.replace(/-/g, '_')}`, node, valueInfo: body.valueInfo, output });
  });
}

/**
 * Builds a gated model over two or more variants of the same source, split first on what the
 * cross sites do (`tgate.use_cache`), then on what the self sites do (`tgate.reuse_self`). The
 * variants' IR is left as it was.
 */
export function encodeGatedModel(branches: GatedBranch[], caches: GatedCache[], opts: EncodeOptions = {}): { bytes: Uint8Array; flags: string[] } {
  const base = branches.find((b) => b.cross === 'output' && b.self === 'output') ?? branches[0]!;
  const outName = base.model.graph.outputs[0]!.name;
  const outType = base.model.graph.outputs[0]!.type?.dtype ?? 1;
  const valueType = (c: GatedCache) => {
    for (const b of branches) {
      const v = b.model.graph.value(c.tensor);
      if (v?.type) return v.type;
    }
    return { dtype: 1, shape: null };
  };
  const dtypeOf = (c: GatedCache) => valueType(c).dtype || 1;
  const flags = new Set<string>();

  // An If node over `bs` producing `outputs` in the current scope.
  const ifOver = (bs: GatedBranch[], outputs: string[], label: string): NodeProto => {
    const splitCross = new Set(bs.map((b) => b.cross)).size > 1;
    const flag = splitCross ? USE_CACHE_INPUT : REUSE_SELF_INPUT;
    flags.add(flag);
    const fed = bs.filter((b) => (splitCross ? b.cross : b.self) === 'input');
    const computed = bs.filter((b) => (splitCross ? b.cross : b.self) === 'output');
    const branch = (group: GatedBranch[], tag: string): GraphProto => {
      if (group.length === 1) return leafGraph(group[0]!, caches, dtypeOf, opts);
      const inner = outputs.map((_, i) => `tgate.${label}.${tag}.${i}`);
      const types = [outType, ...caches.map(dtypeOf)];
      return create(GraphProtoSchema, { name: `tgate_${label}_${tag}`.replace(/[.-]/g, '_'), node: [ifOver(group, inner, `${label}.${tag}`)], output: inner.map((n, i) => typedOutput(n, types[i]!)) });
    };
    if (fed.length === 0 || computed.length === 0) throw new Error(`gated model: nothing to split in ${bs.map((b) => b.name).join(', ')}`);
    return create(NodeProtoSchema, {
      opType: 'If',
      name: `tgate/${label}`,
      input: [flag],
      output: outputs,
      attribute: [
        create(AttributeProtoSchema, { name: 'then_branch', type: 5, g: branch(fed, 'fed') }),
        create(AttributeProtoSchema, { name: 'else_branch', type: 5, g: branch(computed, 'computed') }),
      ],
    });
  };

  const outer = modelToProto(base.model, opts).graph!;
  const ifNode = ifOver(branches, [outName, ...caches.map((c) => gatedCacheOutput(c.id))], 'gate');
  const fedSomewhere = caches.filter((c) => branches.some((b) => roleOf(b, c) === 'input'));
  const cacheInputs = fedSomewhere.map((c) => valueInfoFor(gatedCacheInput(c.id), valueType(c)));
  const originalOut = base.model.graph.ioInfo.get(outName);
  const flagInputs = [USE_CACHE_INPUT, REUSE_SELF_INPUT].filter((f) => flags.has(f));
  const graph = create(GraphProtoSchema, {
    name: 'tgate_gated',
    node: [ifNode],
    initializer: outer.initializer,
    input: [...outer.input, ...cacheInputs, ...flagInputs.map(boolScalar)],
    // Cache outputs carry only their type: a branch that does not compute a site gives [0, 0, 0].
    output: [originalOut ?? typedOutput(outName, outType), ...caches.map((c) => typedOutput(gatedCacheOutput(c.id), dtypeOf(c)))],
  });
  const bytes = toBinary(ModelProtoSchema, { ...base.model.proto, graph, $typeName: ModelProtoSchema.typeName });
  return { bytes, flags: flagInputs };
}
