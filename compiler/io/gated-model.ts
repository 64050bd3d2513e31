// The gated model: planning and fidelity as the two branches of one If node, so a single
// onnxruntime session (one arena, one copy of pre-packed weights) serves both phases. The outer
// graph holds every initializer (by reference into the shared weights file) and the inputs of
// both variants; `tgate.use_cache` picks the branch. Branch-internal names never shadow outer
// ones: the outer graph only adds names under the `tgate.` prefix, and each branch's final
// output is renamed inside the branch.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type NodeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import type { Model } from '../ir/model.js';
import { graphToProto, modelToProto, type EncodeOptions } from './encode.js';
import { valueInfoFor } from './types.js';

export const USE_CACHE_INPUT = 'tgate.use_cache';
export const gatedCacheInput = (id: string) => `tgate.cache.${id}`;
export const gatedCacheOutput = (id: string) => `tgate.cache_out.${id}`;

export interface GatedCache {
  id: string;
  /** The cut tensor: a planning output, a fidelity input. */
  tensor: string;
}

function identity(input: string, output: string): NodeProto {
  return create(NodeProtoSchema, { opType: 'Identity', name: `tgate/identity/${output}`, input: [input], output: [output] });
}

function typedOutput(name: string, dtype: number): ValueInfoProto {
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: dtype }) } }) });
}

/**
 * Builds the gated model from a planning and a fidelity model of the same source. Both are
 * consumed (their final output is renamed inside); pass fresh copies.
 */
export function encodeGatedModel(planning: Model, fidelity: Model, caches: GatedCache[], opts: EncodeOptions = {}): Uint8Array {
  const outName = planning.graph.outputs[0]!.name;
  const outType = planning.graph.outputs[0]!.type?.dtype ?? 1;
  planning.graph.renameValue(planning.graph.outputs[0]!, `tgate.planning.${outName}`);
  fidelity.graph.renameValue(fidelity.graph.outputs[0]!, `tgate.fidelity.${outName}`);
  const dtypeOf = (t: string) => fidelity.graph.value(t)?.type?.dtype ?? 1;

  const planningBody = graphToProto(planning.graph, opts);
  const elseBranch = create(GraphProtoSchema, {
    name: 'tgate_planning',
    node: planningBody.node,
    valueInfo: planningBody.valueInfo,
    output: [typedOutput(`tgate.planning.${outName}`, outType), ...caches.map((c) => typedOutput(c.tensor, dtypeOf(c.tensor)))],
  });
  const fidelityBody = graphToProto(fidelity.graph, opts);
  const thenBranch = create(GraphProtoSchema, {
    name: 'tgate_fidelity',
    node: [
      ...caches.map((c) => identity(gatedCacheInput(c.id), c.tensor)),
      ...fidelityBody.node,
      // The If node needs the same outputs from both branches: the caches pass through.
      ...caches.map((c) => identity(c.tensor, `tgate.fidelity.cache.${c.id}`)),
    ],
    valueInfo: fidelityBody.valueInfo,
    output: [typedOutput(`tgate.fidelity.${outName}`, outType), ...caches.map((c) => typedOutput(`tgate.fidelity.cache.${c.id}`, dtypeOf(c.tensor)))],
  });
  const ifNode = create(NodeProtoSchema, {
    opType: 'If',
    name: 'tgate/gate',
    input: [USE_CACHE_INPUT],
    output: [outName, ...caches.map((c) => gatedCacheOutput(c.id))],
    attribute: [
      create(AttributeProtoSchema, { name: 'then_branch', type: 5, g: thenBranch }),
      create(AttributeProtoSchema, { name: 'else_branch', type: 5, g: elseBranch }),
    ],
  });
  const outer = modelToProto(planning, opts).graph!;
  const cacheInputs = caches.map((c) => {
    const v = fidelity.graph.value(c.tensor)!;
    return valueInfoFor(gatedCacheInput(c.id), v.type!);
  });
  const useCache = create(ValueInfoProtoSchema, {
    name: USE_CACHE_INPUT,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: 9, shape: create(TensorShapeProtoSchema, { dim: [] }) }) } }),
  });
  const originalOut = planning.graph.ioInfo.get(outName);
  const graph = create(GraphProtoSchema, {
    name: 'tgate_gated',
    node: [ifNode],
    initializer: outer.initializer,
    input: [...outer.input, ...cacheInputs, useCache],
    output: [originalOut ?? typedOutput(outName, outType), ...caches.map((c) => valueInfoFor(gatedCacheOutput(c.id), fidelity.graph.value(c.tensor)!.type!))],
  });
  return toBinary(ModelProtoSchema, { ...planning.proto, graph, $typeName: ModelProtoSchema.typeName });
}
