// A gated model: several graph variants in one file, so one onnxruntime session (one arena, one
// copy of pre-packed weights) serves every step of a schedule. Each variant is the then-branch
// of its own If node, switched by a bool input `tgate.run.<variant>`; the runtime sets exactly
// one. The else-branches give empty tensors, so a variant that does not run costs next to
// nothing. The If nodes sit side by side, not nested: measured on sd15-small, a variant nested
// two If levels deep no longer reproduced its graph bit for bit and took +270 MiB of RSS (the
// weights two scopes up are not treated as the kernels' constants), while one level keeps both.
// The outer graph holds every initializer (by reference into the shared weights file) and the
// inputs of all variants. Branch-internal names never shadow outer ones: the outer graph only
// adds `tgate.` names.
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
import type { SiteRole } from './variants.js';
import { graphToProto, modelToProto, type EncodeOptions } from '../io/encode.js';
import { valueInfoFor } from '../io/types.js';

export const gatedCacheInput = (id: string) => `tgate.cache.${id}`;

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
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: dtype }) } }),
  });
}

function boolScalar(name: string): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: 9, shape: create(TensorShapeProtoSchema, { dim: [] }) }) },
    }),
  });
}

/** A [0, 0, 0] tensor: what a branch gives for a site it does not compute. */
function emptyTensor(output: string, dtype: number): NodeProto {
  const value = create(TensorProtoSchema, { dims: [0n, 0n, 0n], dataType: dtype, name: output });
  return create(NodeProtoSchema, {
    opType: 'Constant',
    name: `tgate/none/${output}`,
    output: [output],
    attribute: [create(AttributeProtoSchema, { name: 'value', type: 4, t: value })],
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

export const runFlag = (variant: string) => `tgate.run.${variant}`;
export const gatedOutputName = (variant: string, output: string) => `tgate.${variant}.${output}`;
export const gatedSiteOutput = (variant: string, id: string) => `tgate.${variant}.cache_out.${id}`;

/** Where a variant's results come out of a gated model. */
export interface GatedVariantIo {
  name: string;
  flag: string;
  output: string;
  /** Site id -> output name, for the sites this variant computes. */
  siteOutputs: Record<string, string>;
}

/** The variant as a branch graph: its nodes, reading fed sites from the outer cache inputs. */
function leafGraph(
  b: GatedBranch,
  caches: GatedCache[],
  dtypeOf: (c: GatedCache) => number,
  opts: EncodeOptions,
): { graph: GraphProto; outputs: { inner: string; outer: string; dtype: number }[] } {
  const g = b.model.graph;
  const out = g.outputs[0]!;
  const outName = gatedOutputName(b.name, out.name);
  // A fed site reads the outer graph's cache input directly: no Identity, no copy.
  const renames: [string, string][] = [
    [out.name, outName],
    ...caches.filter((c) => roleOf(b, c) === 'input').map((c): [string, string] => [c.tensor, gatedCacheInput(c.id)]),
  ];
  return withRenamed(g, renames, () => {
    const body = graphToProto(g, opts);
    const outputs = [{ inner: outName, outer: outName, dtype: out.type?.dtype ?? 1 }];
    for (const c of caches) if (roleOf(b, c) === 'output') outputs.push({ inner: c.tensor, outer: gatedSiteOutput(b.name, c.id), dtype: dtypeOf(c) });
    const graph = create(GraphProtoSchema, {
      name: `tgate_${b.name.replace(/-/g, '_')}`,
      node: body.node,
      valueInfo: body.valueInfo,
      output: outputs.map((o) => typedOutput(o.inner, o.dtype)),
    });
    return { graph, outputs };
  });
}

/** Builds a gated model over the variants of one source. The variants' IR is left as it was. */
export function encodeGatedModel(branches: GatedBranch[], caches: GatedCache[], opts: EncodeOptions = {}): { bytes: Uint8Array; variants: GatedVariantIo[] } {
  const base = branches.find((b) => b.cross === 'output' && b.self === 'output') ?? branches[0]!;
  const valueType = (c: GatedCache) => {
    for (const b of branches) {
      const v = b.model.graph.value(c.tensor);
      if (v?.type) return v.type;
    }
    return { dtype: 1, shape: null };
  };
  const dtypeOf = (c: GatedCache) => valueType(c).dtype || 1;
  const nodes: NodeProto[] = [];
  const outputs: ValueInfoProto[] = [];
  const io: GatedVariantIo[] = [];
  for (const b of branches) {
    const leaf = leafGraph(b, caches, dtypeOf, opts);
    const idle = create(GraphProtoSchema, {
      name: `tgate_${b.name.replace(/-/g, '_')}_idle`,
      node: leaf.outputs.map((o) => emptyTensor(`${o.outer}.idle`, o.dtype)),
      output: leaf.outputs.map((o) => typedOutput(`${o.outer}.idle`, o.dtype)),
    });
    nodes.push(
      create(NodeProtoSchema, {
        opType: 'If',
        name: `tgate/${b.name}`,
        input: [runFlag(b.name)],
        output: leaf.outputs.map((o) => o.outer),
        attribute: [
          create(AttributeProtoSchema, { name: 'then_branch', type: 5, g: leaf.graph }),
          create(AttributeProtoSchema, { name: 'else_branch', type: 5, g: idle }),
        ],
      }),
    );
    outputs.push(...leaf.outputs.map((o) => typedOutput(o.outer, o.dtype)));
    io.push({
      name: b.name,
      flag: runFlag(b.name),
      output: leaf.outputs[0]!.outer,
      siteOutputs: Object.fromEntries(caches.filter((c) => roleOf(b, c) === 'output').map((c) => [c.id, gatedSiteOutput(b.name, c.id)])),
    });
  }
  const outer = modelToProto(base.model, opts).graph!;
  const fedSomewhere = caches.filter((c) => branches.some((b) => roleOf(b, c) === 'input'));
  const graph = create(GraphProtoSchema, {
    name: 'tgate_gated',
    node: nodes,
    initializer: outer.initializer,
    input: [...outer.input, ...fedSomewhere.map((c) => valueInfoFor(gatedCacheInput(c.id), valueType(c))), ...branches.map((b) => boolScalar(runFlag(b.name)))],
    output: outputs,
  });
  const bytes = toBinary(ModelProtoSchema, { ...base.model.proto, graph, $typeName: ModelProtoSchema.typeName });
  return { bytes, variants: io };
}
