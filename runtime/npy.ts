// NumPy .npy files (format 1.0-3.0, C order, little-endian): what Python users hand over.
// float32, float16 (widened to float32), float64 (narrowed), int64 and int32 are read.
// A .npy file comes from anyone: every way it can be wrong (not .npy at all, truncated, a header
// that is not the dict numpy writes, Fortran order, an unsupported dtype, a shape that claims more
// data than the file holds) is an E_BAD_TENSOR naming the file and what is wrong, checked before
// any allocation the header asks for.
import { TgateError } from '../base/errors.js';
import { halfToNumber } from '../ir/dtype.js';
import { readUserFile } from '../io/user-file.js';

export interface NdArray {
  dtype: 'float32' | 'int64' | 'int32';
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** The largest .npy file read: far beyond any latents or conditioning (SD-XL's are < 1 MiB). */
export const MAX_NPY_BYTES = 2 ** 31 - 1;

/** numpy's own limit on the number of dimensions. */
const MAX_RANK = 64;

const HINT = 'Save the array with numpy.save (C order, little-endian; float32, float16, float64, int64 or int32).';

/**
 * The header dict numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }.
 * Parsed as the Python literal it is (either quote style, any spacing, trailing commas), with
 * exactly numpy's three keys; anything else is a malformed header, never guessed at.
 */
function parseHeader(text: string, bad: (why: string) => TgateError): { descr: string; fortran: boolean; shape: number[] } {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw bad(`malformed header (${what} at character ${i} of ${JSON.stringify(text.slice(0, 120))})`);
  };
  const expect = (ch: string) => {
    ws();
    if (text[i] !== ch) fail(`expected '${ch}'`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') return fail('expected a quoted string');
    const end = text.indexOf(q, i + 1);
    if (end < 0) return fail('unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (key: string): string | boolean | number[] => {
    ws();
    if (key === 'descr') return str();
    if (key === 'fortran_order') {
      if (text.startsWith('True', i)) return ((i += 4), true);
      if (text.startsWith('False', i)) return ((i += 5), false);
      return fail('fortran_order must be True or False');
    }
    expect('(');
    const dims: number[] = [];
    for (;;) {
      ws();
      if (text[i] === ')') break;
      const m = /^\d+/.exec(text.slice(i, i + 40));
      if (!m) return fail('a shape holds whole numbers >= 0');
      if (m[0].length > 15) return fail('a dimension is larger than any file');
      dims.push(Number(m[0]));
      i += m[0].length;
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== ')') fail("expected ',' or ')' in the shape");
      if (dims.length > MAX_RANK) fail(`more than ${MAX_RANK} dimensions`);
    }
    i++;
    return dims;
  };
  const out: Record<string, string | boolean | number[]> = {};
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const key = str();
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') fail(`unexpected key ${JSON.stringify(key)}`);
    if (key in out) fail(`key ${key} repeated`);
    expect(':');
    out[key] = value(key);
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail("expected ',' or '}'");
  }
  i++;
  if (text.slice(i).trim() !== '') fail('text after the header dict');
  for (const k of ['descr', 'fortran_order', 'shape']) if (!(k in out)) fail(`no ${k}`);
  return { descr: out.descr as string, fortran: out.fortran_order as boolean, shape: out.shape as number[] };
}

export function parseNpy(bytes: Uint8Array, file: string): NdArray {
  const bad = (why: string) => new TgateError('E_BAD_TENSOR', `${file} is not a readable .npy file: ${why}.`, { subject: { file }, hint: HINT });
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('no NumPy magic header');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad(`format version ${major}.${bytes[7]} (tgate reads 1.0 to 3.0)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw bad('truncated in the header');
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (start + headerLen > bytes.length) throw bad(`truncated: the header claims ${headerLen} bytes, the file has ${bytes.length - start} after the preamble`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const { descr, fortran, shape } = parseHeader(header, bad);
  if (fortran) throw bad('Fortran order (save with numpy.ascontiguousarray)');
  const sizes: Record<string, number> = { '<f4': 4, '<f2': 2, '<f8': 8, '<i8': 8, '<i4': 4 };
  const size = sizes[descr];
  if (size === undefined) throw bad(`dtype ${descr} is not supported (use float32, float16, float64, int64 or int32, little-endian)`);
  // Counted in doubles: a shape claiming more than the file holds is refused here, before any
  // allocation (an overflowing product only gets larger).
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + headerLen);
  if (count * size > body.length) throw bad(`expected ${count * size} data bytes for shape (${shape.join(', ')}), found ${body.length}`);
  // A copy with its own ArrayBuffer: Buffer.slice would share (and expose) the whole file pool.
  const copy = () => new Uint8Array(body.subarray(0, count * size)).buffer;
  switch (descr) {
    case '<f4':
      return { dtype: 'float32', shape, data: new Float32Array(copy()) };
    case '<f2':
      return { dtype: 'float32', shape, data: Float32Array.from(new Uint16Array(copy()), halfToNumber) };
    case '<f8':
      return { dtype: 'float32', shape, data: Float32Array.from(new Float64Array(copy())) };
    case '<i8':
      return { dtype: 'int64', shape, data: new BigInt64Array(copy()) };
    default:
      return { dtype: 'int32', shape, data: new Int32Array(copy()) };
  }
}

/** Reads a .npy file a user names (a regular file of at most MAX_NPY_BYTES: user-file.ts). */
export function readNpy(file: string): NdArray {
  return parseNpy(readUserFile(file, { what: 'tensor file', maxBytes: MAX_NPY_BYTES, hint: HINT }), file);
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
