// A tensor whose contents are known before running: an initializer or the value of a Constant.
// The IR sees its element type, dims, where the data lives and, for small inline tensors, the
// numbers; the bytes themselves stay where the model keeps them (external data is never read).
import { DTYPE, halfToNumber, type DataType } from './dtype.js';
import type { Retained } from './retained.js';

/** Where an external tensor's data lives, as the model says (relative to the model's folder). */
export interface ExternalData {
  location: string;
  offset: number;
  /** null when the model does not give a length (the rest of the file). */
  length: number | null;
}

export interface TensorConstant {
  readonly name: string;
  readonly dtype: DataType;
  readonly dims: readonly number[];
  /** Where the data lives when stored outside the model file; null when it is inline. */
  readonly external: ExternalData | null;
  /** The inline data as raw little-endian bytes; undefined when external or stored as typed fields. */
  raw(): Uint8Array | undefined;
  /** The inline elements as numbers (float and integer types); undefined when external or not numeric. */
  numbers(): number[] | undefined;
  /** The source's encoding, when decoded (io/ only). */
  readonly retained: Retained | null;
}

/** The elements of little-endian raw tensor bytes as numbers, or undefined for a type not read here. */
export function numbersFromRaw(dtype: DataType, raw: Uint8Array): number[] | undefined {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  switch (dtype) {
    case DTYPE.float32:
      for (let o = 0; o + 4 <= raw.length; o += 4) out.push(dv.getFloat32(o, true));
      return out;
    case DTYPE.float64:
      for (let o = 0; o + 8 <= raw.length; o += 8) out.push(dv.getFloat64(o, true));
      return out;
    case DTYPE.int64:
      for (let o = 0; o + 8 <= raw.length; o += 8) out.push(Number(dv.getBigInt64(o, true)));
      return out;
    case DTYPE.int32:
      for (let o = 0; o + 4 <= raw.length; o += 4) out.push(dv.getInt32(o, true));
      return out;
    case DTYPE.float16:
      for (let o = 0; o + 2 <= raw.length; o += 2) out.push(halfToNumber(dv.getUint16(o, true)));
      return out;
    case DTYPE.bfloat16:
      for (let o = 0; o + 2 <= raw.length; o += 2) out.push(new Float32Array(new Uint32Array([dv.getUint16(o, true) << 16]).buffer)[0]!);
      return out;
    default:
      return undefined;
  }
}

/** A new inline constant from raw little-endian bytes (none for a tensor without elements). */
export function inlineConstant(name: string, dtype: DataType, dims: readonly number[], raw: Uint8Array = new Uint8Array(0)): TensorConstant {
  return {
    name,
    dtype,
    dims: dims.slice(),
    external: null,
    raw: () => raw,
    numbers: () => numbersFromRaw(dtype, raw),
    retained: null,
  };
}
