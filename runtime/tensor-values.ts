// Tensor data as numbers whatever the element type: float16 arrives from onnxruntime-node as its
// bit patterns (Uint16Array) and is decoded here; float32 passes through without a copy.
import type ort from 'onnxruntime-node';
import { halfToNumber, toHalfBits } from '../ir/dtype.js';

export function numbersOf(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToNumber);
  if (t.type === 'float32') return t.data as Float32Array;
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

/** float32 values in the element type a model input declares (float32 or float16). */
export function valuesAs(dtype: string, x: Float32Array): Float32Array | Uint16Array {
  return dtype === 'float16' ? Uint16Array.from(x, toHalfBits) : x;
}
