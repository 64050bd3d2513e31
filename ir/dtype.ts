// ONNX element types: names for people and manifests, byte sizes for weight layout.

/** ONNX element types by name (TensorProto.DataType numbers): the IR's names for them. */
export const DTYPE = {
  undefined: 0,
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
  float8e8m0: 24,
  uint2: 25,
  int2: 26,
} as const;

/** Element type as the ONNX TensorProto.DataType number (DTYPE names them); 0 = unknown. */
export type DataType = number;

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DTYPE)
    .filter(([, v]) => v !== DTYPE.undefined)
    .map(([k, v]) => [v, k]),
);

export function dtypeName(t: number): string {
  return NAMES[t] ?? `dtype(${t})`;
}

const BYTES: Record<number, number> = {
  [DTYPE.float32]: 4,
  [DTYPE.uint8]: 1,
  [DTYPE.int8]: 1,
  [DTYPE.uint16]: 2,
  [DTYPE.int16]: 2,
  [DTYPE.int32]: 4,
  [DTYPE.int64]: 8,
  [DTYPE.bool]: 1,
  [DTYPE.float16]: 2,
  [DTYPE.float64]: 8,
  [DTYPE.uint32]: 4,
  [DTYPE.uint64]: 8,
  [DTYPE.bfloat16]: 2,
  [DTYPE.float8e4m3fn]: 1,
  [DTYPE.float8e4m3fnuz]: 1,
  [DTYPE.float8e5m2]: 1,
  [DTYPE.float8e5m2fnuz]: 1,
};

/** Bytes per element of a whole-byte type; 4 for what is unknown here (sizes are estimates then). */
export function dtypeBytes(t: number): number {
  return BYTES[t] ?? 4;
}

/**
 * The exact bytes a tensor of `count` elements of type `t` occupies in ONNX's raw little-endian
 * layout (sub-byte types packed, rounded up to whole bytes); null for string tensors and types
 * this table does not know, whose size cannot be checked.
 */
export function exactTensorBytes(t: number, count: number): number | null {
  if (t === DTYPE.uint4 || t === DTYPE.int4 || t === DTYPE.float4e2m1) return Math.ceil(count / 2);
  if (t === DTYPE.uint2 || t === DTYPE.int2) return Math.ceil(count / 4);
  const per = t === DTYPE.complex64 ? 8 : t === DTYPE.complex128 ? 16 : t === DTYPE.float8e8m0 ? 1 : BYTES[t];
  return per === undefined ? null : count * per;
}

export function dtypeFromName(name: string): number | undefined {
  return name !== 'undefined' && Object.hasOwn(DTYPE, name) ? DTYPE[name as keyof typeof DTYPE] : undefined;
}

/** The number an IEEE half-precision bit pattern encodes. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** IEEE half-precision bits of a number, rounded to nearest even. */
export function toHalfBits(value: number): number {
  const x = new Uint32Array(new Float32Array([value]).buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  if (exp >= 31) return sign | 0x7c00;
  const half = (exp << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}
