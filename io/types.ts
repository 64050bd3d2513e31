// Conversion between ONNX TypeProto/ValueInfoProto and the IR's TensorType. int64 dims become
// numbers here, at the boundary (no tensor dimension reaches 2^53).
import { create } from '@bufbuild/protobuf';
import {
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type TypeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import type { Dim, TensorType } from '../ir/value.js';

export function tensorTypeOf(t: TypeProto | undefined): TensorType | null {
  if (!t || t.value.case !== 'tensorType') return null;
  const tt = t.value.value;
  const shape: Dim[] | null = tt.shape
    ? tt.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null))
    : null;
  return { dtype: tt.elemType, shape };
}

export function valueInfoFor(name: string, type: TensorType): ValueInfoProto {
  const shape = type.shape
    ? create(TensorShapeProtoSchema, {
        dim: type.shape.map((d) =>
          create(TensorShapeProto_DimensionSchema, {
            value:
              typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : typeof d === 'string' ? { case: 'dimParam', value: d } : { case: undefined },
          }),
        ),
      })
    : undefined;
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: type.dtype, shape }) } }),
  });
}
