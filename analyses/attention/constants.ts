// Reading small constants the matcher needs (scales, divisors, Resize factors) from Constant
// nodes or embedded initializers. External-data tensors are never read: they count as constant
// but their values are unknown here, which is all the matcher needs of weights.
import type { TensorProto } from 'onnx-buf';
import { halfToNumber } from '../../ir/dtype.js';
import type { Value } from '../../ir/value.js';

/** True when the value is known at compile time: an initializer or a Constant node's output. */
export function isConstant(v: Value | null): boolean {
  if (!v) return false;
  if (v.initializer) return true;
  const p = v.producer;
  return !!p && p.opType === 'Constant' && (p.domain === '' || p.domain === 'ai.onnx');
}

function constantTensor(v: Value): TensorProto | undefined {
  if (v.initializer) return v.initializer;
  const p = v.producer;
  if (p?.opType !== 'Constant') return undefined;
  return p.proto.attribute.find((a) => a.name === 'value')?.t;
}

/** Numeric contents of a small float/int constant, or undefined when unknown or external. */
export function constantNumbers(v: Value | null): number[] | undefined {
  if (!v) return undefined;
  const p = v.producer;
  if (p?.opType === 'Constant') {
    const f = p.proto.attribute.find((a) => a.name === 'value_float');
    if (f) return [f.f];
    const fs = p.proto.attribute.find((a) => a.name === 'value_floats');
    if (fs) return fs.floats.slice();
    const i = p.proto.attribute.find((a) => a.name === 'value_int');
    if (i) return [Number(i.i)];
    const is = p.proto.attribute.find((a) => a.name === 'value_ints');
    if (is) return is.ints.map(Number);
  }
  const t = constantTensor(v);
  if (!t || t.dataLocation === 1) return undefined;
  const raw = t.rawData;
  if (raw.length) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    switch (t.dataType) {
      case 1:
        for (let o = 0; o + 4 <= raw.length; o += 4) out.push(dv.getFloat32(o, true));
        return out;
      case 11:
        for (let o = 0; o + 8 <= raw.length; o += 8) out.push(dv.getFloat64(o, true));
        return out;
      case 7:
        for (let o = 0; o + 8 <= raw.length; o += 8) out.push(Number(dv.getBigInt64(o, true)));
        return out;
      case 6:
        for (let o = 0; o + 4 <= raw.length; o += 4) out.push(dv.getInt32(o, true));
        return out;
      case 10:
        for (let o = 0; o + 2 <= raw.length; o += 2) out.push(halfToNumber(dv.getUint16(o, true)));
        return out;
      case 16:
        for (let o = 0; o + 2 <= raw.length; o += 2) out.push(new Float32Array(new Uint32Array([dv.getUint16(o, true) << 16]).buffer)[0]!);
        return out;
      default:
        return undefined;
    }
  }
  if (t.floatData.length) return t.floatData.slice();
  // float16/bfloat16 values may also sit in int32_data, one per element.
  if (t.dataType === 10 && t.int32Data.length) return t.int32Data.map(halfToNumber);
  if (t.int64Data.length) return t.int64Data.map(Number);
  if (t.int32Data.length) return t.int32Data.slice();
  if (t.doubleData.length) return t.doubleData.slice();
  return undefined;
}

/** The single number of a scalar-like constant (any shape with one element). */
export function constantScalar(v: Value | null): number | undefined {
  const xs = constantNumbers(v);
  return xs && xs.length === 1 ? xs[0] : undefined;
}
