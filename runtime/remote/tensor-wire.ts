// ort tensors <-> KServe v2 tensor data, as Triton's binary tensor extension states it: little-endian
// raw bytes in row-major order, BOOL one byte (0 or 1) per element, FP16 its 2-byte bit pattern;
// and the JSON `data` arrays of the core protocol. Datatypes map both ways between KServe names
// (FP32, ...) and onnxruntime's (float32, ...); BYTES and anything else are refused with a code.
import { endianness } from 'node:os';
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import { halfToNumber, toHalfBits } from '../../ir/dtype.js';
import { makeTensor } from '../session.js';

/** KServe datatype -> onnxruntime tensor type. BYTES (strings) and BF16 have no ort equivalent here. */
const ORT_TYPE_OF: Readonly<Record<string, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
};

const DATATYPE_OF: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(ORT_TYPE_OF).map(([k, v]) => [v, k]));

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

/** Typed-array views are the wire format only on a little-endian machine (every platform onnxruntime-node ships for). */
const LITTLE_ENDIAN = endianness() === 'LE';

function unsupported(kind: string, what: string): TgateError {
  return new TgateError('E_UNSUPPORTED_MODEL', `${what} has the data type ${kind}, which tgate does not carry over KServe`, {
    subject: { tensor: what },
    hint: `tgate sends and receives numeric tensors only (${Object.keys(ORT_TYPE_OF).join(', ')}); BYTES (string) tensors are not supported.`,
  });
}

/** The onnxruntime type of a KServe datatype; BYTES and unknown names are refused (E_UNSUPPORTED_MODEL). */
export function ortTypeOf(datatype: string, what = 'a tensor'): ort.Tensor.Type {
  const t = ORT_TYPE_OF[datatype];
  if (t === undefined) throw unsupported(datatype, what);
  return t;
}

/** The KServe datatype of an onnxruntime type; string and unknown types are refused (E_UNSUPPORTED_MODEL). */
export function datatypeOf(ortType: string, what = 'a tensor'): string {
  const d = DATATYPE_OF[ortType];
  if (d === undefined) throw unsupported(ortType, what);
  return d;
}

/** Bytes per element of a KServe datatype on the wire. */
export function elementBytes(datatype: string, what = 'a tensor'): number {
  const n = ELEMENT_BYTES[datatype];
  if (n === undefined) throw unsupported(datatype, what);
  return n;
}

/**
 * A data type as model_config.proto names it (TYPE_FP32) -> the KServe datatype (FP32). Triton's
 * TYPE_STRING is KServe's BYTES.
 */
export function datatypeOfConfigType(configType: string): string {
  if (configType === 'TYPE_STRING') return 'BYTES';
  return configType.startsWith('TYPE_') ? configType.slice(5) : configType;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Whether concrete `dims` fit a declared shape (-1 matches any size). */
export function shapeMatches(declared: readonly number[], dims: readonly number[]): boolean {
  return declared.length === dims.length && declared.every((d, i) => d === -1 || d === dims[i]);
}

function checkShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TgateError('E_BAD_TENSOR', `${what}: the shape ${JSON.stringify(shape)} is not a list of non-negative integers`, { subject: { tensor: what } });
  }
}

/** The tensor's raw bytes as the binary extension carries them: a view of its data, not a copy. */
export function tensorBytes(t: ort.Tensor, what = 'a tensor'): Uint8Array {
  datatypeOf(t.type, what);
  if (!LITTLE_ENDIAN) throw new TgateError('E_INTERNAL', 'KServe binary tensors are little-endian; this machine is big-endian');
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A tensor from its raw wire bytes (copied once into an aligned array of its type). */
export function tensorFromBytes(datatype: string, shape: readonly number[], bytes: Uint8Array, what = 'a tensor'): ort.Tensor {
  const type = ortTypeOf(datatype, what);
  checkShape(shape, what);
  const want = elementCount(shape) * elementBytes(datatype, what);
  if (bytes.byteLength !== want) {
    throw new TgateError(
      'E_BAD_TENSOR',
      `${what}: ${datatype} [${shape.join(', ')}] takes ${want} bytes, but ${bytes.byteLength} bytes of binary data came with it`,
      { subject: { tensor: what } },
    );
  }
  if (!LITTLE_ENDIAN) throw new TgateError('E_INTERNAL', 'KServe binary tensors are little-endian; this machine is big-endian');
  // A copy into a fresh buffer (a Buffer's slice() would share its pool; wire offsets are unaligned anyway).
  const buf = new Uint8Array(bytes).buffer;
  return makeTensor(type, typedArray(type, buf), [...shape]);
}

function typedArray(type: ort.Tensor.Type, buf: ArrayBuffer): ort.Tensor.DataType {
  switch (type) {
    case 'bool':
    case 'uint8':
      return new Uint8Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'uint16':
    case 'float16':
      // float16 travels as its bit patterns, as everywhere in the runtime.
      return new Uint16Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint64':
      return new BigUint64Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    default:
      throw unsupported(type, 'a tensor');
  }
}

/**
 * A tensor from a JSON `data` array (flat or nested, row-major). JSON has no NaN or infinity: a
 * `null` in a float tensor is read as NaN. 64-bit integers must be JSON numbers within 2^53.
 */
export function tensorFromJson(datatype: string, shape: readonly number[], data: unknown, what = 'a tensor'): ort.Tensor {
  const type = ortTypeOf(datatype, what);
  checkShape(shape, what);
  const bad = (why: string) => new TgateError('E_BAD_TENSOR', `${what}: ${why}`, { subject: { tensor: what } });
  if (!Array.isArray(data)) throw bad('the tensor has neither binary data nor a JSON "data" array');
  const flat = (data as unknown[]).flat(Infinity);
  const n = elementCount(shape);
  if (flat.length !== n) throw bad(`${datatype} [${shape.join(', ')}] takes ${n} elements, but "data" holds ${flat.length}`);
  const float = type === 'float16' || type === 'float32' || type === 'float64';
  const num = (v: unknown, i: number): number => {
    if (float && v === null) return NaN;
    if (type === 'bool' && typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v !== 'number' || (!float && !Number.isSafeInteger(v))) throw bad(`element ${i} (${JSON.stringify(v)}) is not a ${datatype} value`);
    return v;
  };
  const buf = new ArrayBuffer(n * elementBytes(datatype, what));
  const out = typedArray(type, buf);
  for (let i = 0; i < n; i++) {
    const v = num(flat[i], i);
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(v);
    else if (type === 'float16') (out as Uint16Array)[i] = toHalfBits(v);
    else (out as Float32Array)[i] = v;
  }
  return makeTensor(type, out, [...shape]);
}

/**
 * A tensor's elements as a JSON `data` array: booleans for BOOL, numbers otherwise (float16 decoded
 * from its bits). Non-finite floats become `null` (JSON has no NaN); a 64-bit integer beyond 2^53
 * cannot be a JSON number here and is refused — ask for binary data instead.
 */
export function tensorToJson(t: ort.Tensor, what = 'a tensor'): (number | boolean | null)[] {
  datatypeOf(t.type, what);
  const d = t.data as ArrayLike<number | bigint>;
  const out: (number | boolean | null)[] = new Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (t.type === 'bool') out[i] = v !== 0;
    else if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new TgateError('E_BAD_TENSOR', `${what}: the value ${v} is beyond 2^53 and cannot be written as a JSON number`, {
          hint: 'Request the output as binary data.',
        });
      }
      out[i] = Number(v);
    } else {
      const x = t.type === 'float16' ? halfToNumber(v) : v;
      out[i] = Number.isFinite(x) ? x : null;
    }
  }
  return out;
}
