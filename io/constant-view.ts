// A TensorProto seen as the IR's TensorConstant: dtype, dims, where the data lives, the numbers
// of a small inline tensor. A view, not a copy: weights are never read or duplicated here.
import { TensorProto_DataLocation, TensorProto_DataType, type TensorProto } from 'onnx-buf';
import { numbersFromRaw, type ExternalData, type TensorConstant } from '../ir/constant.js';
import { halfToNumber } from '../ir/dtype.js';
import { retain } from './retained.js';

const EXTERNAL = TensorProto_DataLocation.EXTERNAL;

export function constantOf(t: TensorProto): TensorConstant {
  let external: ExternalData | null | undefined;
  return {
    name: t.name,
    dtype: t.dataType,
    dims: t.dims.map(Number),
    get external() {
      return (external ??= externalDataOf(t));
    },
    raw: () => (t.dataLocation !== EXTERNAL && t.rawData.length ? t.rawData : undefined),
    numbers: () => numbersOf(t),
    retained: retain(t),
  };
}

/** The external reference as the tensor states it (not validated: externalRefOf checks it). */
function externalDataOf(t: TensorProto): ExternalData | null {
  if (t.dataLocation !== EXTERNAL) return null;
  const entry = (k: string) => t.externalData.find((e) => e.key === k)?.value;
  const length = entry('length');
  return { location: entry('location') ?? '', offset: Number(entry('offset') ?? 0), length: length === undefined ? null : Number(length) };
}

function numbersOf(t: TensorProto): number[] | undefined {
  if (t.dataLocation === EXTERNAL) return undefined;
  if (t.rawData.length) return numbersFromRaw(t.dataType, t.rawData);
  if (t.floatData.length) return t.floatData.slice();
  // float16/bfloat16 values may also sit in int32_data, one per element.
  if (t.dataType === TensorProto_DataType.FLOAT16 && t.int32Data.length) return t.int32Data.map(halfToNumber);
  if (t.int64Data.length) return t.int64Data.map(Number);
  if (t.int32Data.length) return t.int32Data.slice();
  if (t.doubleData.length) return t.doubleData.slice();
  return undefined;
}
