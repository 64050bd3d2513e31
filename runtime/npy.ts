// NumPy .npy files (format 1.0-3.0, C order, little-endian): what Python users hand over.
// float32, float16 (widened to float32), float64 (narrowed), int64 and int32 are read.
import { TgateError } from '../compiler/errors.js';
import { halfToNumber } from '../compiler/ir/dtype.js';

export interface NdArray {
  dtype: 'float32' | 'int64' | 'int32';
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];


export function parseNpy(bytes: Uint8Array, file: string): NdArray {
  const bad = (why: string) => new TgateError('E_BAD_TENSOR', `${file} is not a readable .npy file: ${why}.`, { subject: { file }, hint: 'Save the array with numpy.save (C order, little-endian).' });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('no NumPy magic header');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw bad('malformed header');
  if (fortran === 'True') throw bad('Fortran order (save with numpy.ascontiguousarray)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + headerLen);
  const need = (size: number) => {
    if (body.length < count * size) throw bad(`expected ${count * size} data bytes for shape (${shape.join(', ')}), found ${body.length}`);
  };
  // A copy with its own ArrayBuffer: Buffer.slice would share (and expose) the whole file pool.
  const copy = (size: number) => new Uint8Array(body.subarray(0, count * size)).buffer;
  switch (descr) {
    case '<f4': need(4); return { dtype: 'float32', shape, data: new Float32Array(copy(4)) };
    case '<f2': {
      need(2);
      const h = new Uint16Array(copy(2));
      return { dtype: 'float32', shape, data: Float32Array.from(h, halfToNumber) };
    }
    case '<f8': need(8); return { dtype: 'float32', shape, data: Float32Array.from(new Float64Array(copy(8))) };
    case '<i8': need(8); return { dtype: 'int64', shape, data: new BigInt64Array(copy(8)) };
    case '<i4': need(4); return { dtype: 'int32', shape, data: new Int32Array(copy(4)) };
    default: throw bad(`dtype ${descr} is not supported (use float32, float16, float64, int64 or int32)`);
  }
}

export function encodeNpy(a: NdArray): Uint8Array {
  const descr = a.dtype === 'float32' ? '<f4' : a.dtype === 'int64' ? '<i8' : '<i4';
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Version 1.0: magic(6) + version(2) + len(2) + header, padded with spaces to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const body = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}
