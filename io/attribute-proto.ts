// AttributeProto <-> the IR's typed attributes. Decoding reads every kind the IR models; the
// rest (subgraphs, sparse tensors, type protos) is listed as opaque and re-encoded from the
// node's retained proto. Encoding is for nodes the IR created: only fields that hold something
// are set, since proto2 would serialise an explicitly set empty field.
import { create } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType as AttrType, AttributeProtoSchema, TensorProtoSchema, type AttributeProto, type TensorProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { Attributes, type AttrValue } from '../ir/attributes.js';
import type { TensorConstant } from '../ir/constant.js';
import { constantOf } from './constant-view.js';
import { retained } from './retained.js';

const text = new TextDecoder();

export function attributesOf(attrs: AttributeProto[]): Attributes {
  return new Attributes(attrs.map((a) => [a.name, attrValueOf(a)] as const));
}

function attrValueOf(a: AttributeProto): AttrValue {
  switch (a.type === AttrType.UNDEFINED ? impliedType(a) : a.type) {
    case AttrType.INT:
      return { kind: 'int', value: Number(a.i) };
    case AttrType.FLOAT:
      return { kind: 'float', value: a.f };
    case AttrType.STRING:
      return { kind: 'string', value: text.decode(a.s) };
    case AttrType.INTS:
      return { kind: 'ints', value: a.ints.map(Number) };
    case AttrType.FLOATS:
      return { kind: 'floats', value: a.floats.slice() };
    case AttrType.STRINGS:
      return { kind: 'strings', value: a.strings.map((s) => text.decode(s)) };
    case AttrType.TENSOR:
      return a.t ? { kind: 'tensor', value: constantOf(a.t) } : { kind: 'opaque', type: 'TENSOR' };
    case AttrType.TENSORS:
      return { kind: 'tensors', value: a.tensors.map(constantOf) };
    default:
      return { kind: 'opaque', type: AttrType[a.type] ?? String(a.type) };
  }
}

/** Old exporters may leave `type` unset: the kind is then the field that holds a value. */
function impliedType(a: AttributeProto): AttrType {
  if (a.t) return AttrType.TENSOR;
  if (a.g) return AttrType.GRAPH;
  if (a.sparseTensor) return AttrType.SPARSE_TENSOR;
  if (a.floats.length) return AttrType.FLOATS;
  if (a.ints.length) return AttrType.INTS;
  if (a.strings.length) return AttrType.STRINGS;
  if (a.tensors.length) return AttrType.TENSORS;
  if (a.graphs.length) return AttrType.GRAPHS;
  if (a.s.length) return AttrType.STRING;
  if (a.f !== 0) return AttrType.FLOAT;
  return AttrType.INT;
}

/** The TensorProto of a constant: the source's when decoded, else built from the inline bytes. */
export function tensorProtoOf(c: TensorConstant): TensorProto {
  const kept = retained(TensorProtoSchema, c.retained);
  if (kept) return kept;
  if (c.external)
    throw new TgateError('E_INTERNAL', `IR inconsistency: constant "${c.name}" is external but was not decoded.`, { subject: { tensor: c.name } });
  const raw = c.raw();
  return create(TensorProtoSchema, {
    dims: c.dims.map(BigInt),
    dataType: c.dtype,
    ...(c.name ? { name: c.name } : {}),
    ...(raw?.length ? { rawData: Uint8Array.from(raw) } : {}),
  });
}

export function attributeProtoOf(name: string, a: AttrValue): AttributeProto {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  switch (a.kind) {
    case 'int':
      return create(AttributeProtoSchema, { name, type: AttrType.INT, i: BigInt(a.value) });
    case 'float':
      return create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f: a.value });
    case 'string':
      return create(AttributeProtoSchema, { name, type: AttrType.STRING, s: utf8(a.value) });
    case 'ints':
      return create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: a.value.map(BigInt) });
    case 'floats':
      return create(AttributeProtoSchema, { name, type: AttrType.FLOATS, floats: a.value.slice() });
    case 'strings':
      return create(AttributeProtoSchema, { name, type: AttrType.STRINGS, strings: a.value.map(utf8) });
    case 'tensor':
      return create(AttributeProtoSchema, { name, type: AttrType.TENSOR, t: tensorProtoOf(a.value) });
    case 'tensors':
      return create(AttributeProtoSchema, { name, type: AttrType.TENSORS, tensors: a.value.map(tensorProtoOf) });
    case 'opaque':
      throw new TgateError('E_INTERNAL', `IR inconsistency: attribute "${name}" (${a.type}) of a node the IR created cannot be encoded.`);
  }
}
