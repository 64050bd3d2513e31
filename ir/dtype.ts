// ONNX element types: names for people and manifests, byte sizes for weight layout.

const NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
  24: 'float8e8m0',
  25: 'uint2',
  26: 'int2',
};

export function dtypeName(t: number): string {
  return NAMES[t] ?? `dtype(${t})`;
}

const BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1 };

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
  if (t === 21 || t === 22 || t === 23) return Math.ceil(count / 2);
  if (t === 25 || t === 26) return Math.ceil(count / 4);
  const per = t === 14 ? 8 : t === 15 ? 16 : t === 24 ? 1 : BYTES[t];
  return per === undefined ? null : count * per;
}

export function dtypeFromName(name: string): number | undefined {
  for (const [k, v] of Object.entries(NAMES)) if (v === name) return Number(k);
  return undefined;
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
