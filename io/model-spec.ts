// Builds ONNX bytes from a plain description, so fixtures and tests can make models in code
// without touching the protobuf schema (which lives only in io/).
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AttrType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DT,
  TensorProtoSchema,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';
import type { Dim } from '../ir/value.js';
import { valueInfoFor } from './types.js';

export interface TensorSpec {
  name: string;
  /** ONNX TensorProto.DataType number (DTYPE in ir/dtype.ts names them). */
  dtype: number;
  dims: number[];
  /** Little-endian bytes; or `values` for float32/int64 tensors. */
  raw?: Uint8Array;
  values?: number[] | Float32Array;
  /** Stores the data by reference instead of inline. */
  external?: { location: string; offset: number; length: number };
  /** The external_data entries exactly as given, in order (tests of malformed references). */
  externalEntries?: [string, string][];
}

export type AttrSpec =
  | { i: number }
  | { f: number }
  | { ints: number[] }
  | { floats: number[] }
  | { s: string }
  | { t: TensorSpec }
  | { tensors: TensorSpec[] }
  | { sparse: SparseTensorSpec }
  /** A subgraph (If branches, Loop/Scan bodies). */
  | { g: GraphSpec };

export interface SparseTensorSpec {
  values: TensorSpec;
  indices: TensorSpec;
  dims: number[];
}

/** A subgraph: the graph part of a ModelSpec. */
export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers: TensorSpec[];
  nodes: NodeSpec[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrSpec>;
  /** Node metadata_props (ONNX >= 1.16; dynamo exports keep module scopes here). */
  metadata?: Record<string, string>;
  /** A varint field no ONNX schema knows, carried on the NodeProto (tests of lossless I/O). */
  unknownVarint?: { field: number; value: number };
}

export interface ValueSpec {
  name: string;
  dtype: number;
  shape: Dim[];
}

export interface ModelSpec {
  opset: number;
  /** Opsets of other domains the nodes use, e.g. { 'com.microsoft': 1 }. */
  domains?: Record<string, number>;
  irVersion?: number;
  producer?: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers: TensorSpec[];
  nodes: NodeSpec[];
  /** Extra protobuf fields unknown to every schema, appended to the ModelProto (tests). */
  unknownTrailer?: Uint8Array;
}

function tensorBytesOf(t: TensorSpec): Uint8Array {
  if (t.raw) return t.raw;
  const vals = t.values ?? [];
  if (t.dtype === DT.FLOAT) return new Uint8Array(Float32Array.from(vals).buffer);
  if (t.dtype === DT.INT64) return new Uint8Array(BigInt64Array.from(Array.from(vals, (v) => BigInt(v))).buffer);
  if (t.dtype === DT.INT32) return new Uint8Array(Int32Array.from(vals).buffer);
  throw new Error(`model-spec: give raw bytes for dtype ${t.dtype}`);
}

export function tensorProto(t: TensorSpec): TensorProto {
  const base = { name: t.name, dataType: t.dtype, dims: t.dims.map(BigInt) };
  if (t.externalEntries) {
    const externalData = t.externalEntries.map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
    return create(TensorProtoSchema, { ...base, dataLocation: TensorProto_DataLocation.EXTERNAL, externalData });
  }
  if (t.external) {
    const e = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
    return create(TensorProtoSchema, {
      ...base,
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [e('location', t.external.location), e('offset', String(t.external.offset)), e('length', String(t.external.length))],
    });
  }
  return create(TensorProtoSchema, { ...base, rawData: Uint8Array.from(tensorBytesOf(t)) });
}

/** The bytes a tensor spec stores (for writing external data files in tests). */
export function tensorSpecBytes(t: TensorSpec): Uint8Array {
  return tensorBytesOf(t);
}

function attribute(name: string, a: AttrSpec): AttributeProto {
  if ('i' in a) return create(AttributeProtoSchema, { name, type: AttrType.INT, i: BigInt(a.i) });
  if ('f' in a) return create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f: a.f });
  if ('ints' in a) return create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: a.ints.map(BigInt) });
  if ('floats' in a) return create(AttributeProtoSchema, { name, type: AttrType.FLOATS, floats: a.floats });
  if ('s' in a) return create(AttributeProtoSchema, { name, type: AttrType.STRING, s: new TextEncoder().encode(a.s) });
  if ('t' in a) return create(AttributeProtoSchema, { name, type: AttrType.TENSOR, t: tensorProto(a.t) });
  if ('tensors' in a) return create(AttributeProtoSchema, { name, type: AttrType.TENSORS, tensors: a.tensors.map(tensorProto) });
  if ('sparse' in a) {
    const sparseTensor = create(SparseTensorProtoSchema, {
      values: tensorProto(a.sparse.values),
      indices: tensorProto(a.sparse.indices),
      dims: a.sparse.dims.map(BigInt),
    });
    return create(AttributeProtoSchema, { name, type: AttrType.SPARSE_TENSOR, sparseTensor });
  }
  return create(AttributeProtoSchema, { name, type: AttrType.GRAPH, g: graphProto(a.g, name) });
}

function nodeProto(n: NodeSpec): NodeProto {
  return create(NodeProtoSchema, {
    opType: n.op,
    domain: n.domain ?? '',
    name: n.name ?? '',
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
    metadataProps: Object.entries(n.metadata ?? {}).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
  });
}

function graphProto(g: GraphSpec, name: string): GraphProto {
  return create(GraphProtoSchema, {
    name,
    input: g.inputs.map((v) => valueInfoFor(v.name, { dtype: v.dtype, shape: v.shape })),
    output: g.outputs.map((v) => valueInfoFor(v.name, { dtype: v.dtype, shape: v.shape })),
    initializer: g.initializers.map(tensorProto),
    node: g.nodes.map(nodeProto),
  });
}

export function encodeModelSpec(spec: ModelSpec): Uint8Array {
  const withUnknown = (np: NodeProto, n: NodeSpec): NodeProto => {
    if (!n.unknownVarint) return np;
    const data = varint(n.unknownVarint.value);
    return Object.assign(np, { $unknown: [{ no: n.unknownVarint.field, wireType: 0, data }] });
  };
  // The main graph as any subgraph is built, plus the test-only unknown fields of its nodes.
  const graph = graphProto(spec, 'main');
  graph.node.forEach((np, i) => withUnknown(np, spec.nodes[i]!));
  const model = create(ModelProtoSchema, {
    irVersion: BigInt(spec.irVersion ?? 8),
    producerName: spec.producer ?? 'tgate-fixtures',
    opsetImport: [
      create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(spec.opset) }),
      ...Object.entries(spec.domains ?? {}).map(([domain, version]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) })),
    ],
    graph,
  });
  const bytes = toBinary(ModelProtoSchema, model);
  if (!spec.unknownTrailer) return bytes;
  const out = new Uint8Array(bytes.length + spec.unknownTrailer.length);
  out.set(bytes);
  out.set(spec.unknownTrailer, bytes.length);
  return out;
}

function varint(v: number): Uint8Array {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}
