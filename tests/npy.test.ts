// .npy files as numpy writes them: round trip, dtypes widened/narrowed, bad files refused.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { encodeNpy, parseNpy, readNpy } from '../runtime/npy.js';
import { scratch } from './helpers/paths.js';

function numpyHeader(descr: string, shape: string, body: Uint8Array, fortran = false): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

describe('npy', () => {
  it('round-trips float32 and int64 arrays', () => {
    const a = { dtype: 'float32' as const, shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6.5) };
    const back = parseNpy(encodeNpy(a), 'a.npy');
    expect(back).toEqual(a);
    const b = { dtype: 'int64' as const, shape: [3], data: BigInt64Array.of(1n, -2n, 3n) };
    expect(parseNpy(encodeNpy(b), 'b.npy')).toEqual(b);
    expect((encodeNpy(a).length - 24) % 64).toBe(0);
  });

  it('reads from a pooled Buffer (as fs.readFileSync returns small files) without over-reading', () => {
    const bytes = encodeNpy({ dtype: 'float32', shape: [2], data: Float32Array.of(3, 4) });
    const pool = Buffer.alloc(4096);
    pool.set(bytes, 100);
    const a = parseNpy(pool.subarray(100, 100 + bytes.length), 'pooled.npy');
    expect(Array.from(a.data as Float32Array)).toEqual([3, 4]);
  });

  it('widens float16 and narrows float64 to float32', () => {
    const half = numpyHeader('<f2', '(3,)', new Uint8Array(Uint16Array.of(0x3c00, 0xc000, 0x3555).buffer));
    expect(Array.from(parseNpy(half, 'h.npy').data as Float32Array)).toEqual([1, -2, expect.closeTo(0.33325, 4)]);
    const dbl = numpyHeader('<f8', '(1, 2)', new Uint8Array(Float64Array.of(0.5, 1e-3).buffer));
    const d = parseNpy(dbl, 'd.npy');
    expect(d.shape).toEqual([1, 2]);
    expect(d.data[1]).toBeCloseTo(1e-3, 7);
  });

  it('refuses files that are not npy, big-endian or Fortran order, or short, naming the file', () => {
    expect(() => parseNpy(new TextEncoder().encode('hello world'), 'x.npy')).toThrow(/x\.npy is not a readable \.npy file: no NumPy magic/);
    expect(() => parseNpy(numpyHeader('>f4', '(1,)', new Uint8Array(4)), 'be.npy')).toThrow(/dtype >f4 is not supported/);
    expect(() => parseNpy(numpyHeader('<f4', '(1,)', new Uint8Array(4), true), 'f.npy')).toThrow(/Fortran order/);
    expect(() => parseNpy(numpyHeader('<f4', '(4,)', new Uint8Array(8)), 's.npy')).toThrow(/expected 16 data bytes/);
  });

  // Damaged and hostile files (issue 12, item 9): each an E_BAD_TENSOR naming the file and what is
  // wrong, decided from the header before anything it claims is allocated.
  const refusal = (bytes: Uint8Array): TgateError => {
    try {
      parseNpy(bytes, 'bad.npy');
    } catch (e) {
      if (e instanceof TgateError) return e;
      throw e;
    }
    throw new Error('expected a refusal');
  };
  const withHeaderLength = (bytes: Uint8Array, n: number) => {
    const out = bytes.slice();
    new DataView(out.buffer).setUint16(8, n, true);
    return out;
  };

  it.each([
    ['truncated in the preamble', new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1]), /no NumPy magic/],
    ['truncated in the header', numpyHeader('<f4', '(2,)', new Uint8Array(8)).subarray(0, 40), /truncated: the header claims \d+ bytes/],
    ['a header length past the file', withHeaderLength(numpyHeader('<f4', '(2,)', new Uint8Array(8)), 60000), /truncated: the header claims 60000 bytes/],
    [
      'an unknown format version',
      (() => {
        const b = numpyHeader('<f4', '(2,)', new Uint8Array(8));
        b[6] = 9;
        return b;
      })(),
      /format version 9\.0/,
    ],
    ['a header that is not a dict', numpyHeader('<f4', '(2,)', new Uint8Array(8)).map((b, i) => (i === 10 ? 0x5b : b)), /malformed header/],
    ['a negative dim', numpyHeader('<f4', '(2, -1)', new Uint8Array(8)), /malformed header \(a shape holds whole numbers/],
    ['a fractional dim', numpyHeader('<f4', '(2.5,)', new Uint8Array(8)), /malformed header/],
    [
      'a shape claiming 10^20 values',
      numpyHeader('<f4', '(100000, 100000, 100000, 100000)', new Uint8Array(8)),
      /expected 400000000000000000000 data bytes for shape \(100000, 100000, 100000, 100000\), found 8/,
    ],
    ['an unsupported dtype', numpyHeader('|u1', '(2,)', new Uint8Array(2)), /dtype \|u1 is not supported/],
    ['an object array', numpyHeader('|O', '(2,)', new Uint8Array(16)), /dtype \|O is not supported/],
  ])('refuses a file %s', (_, bytes, message) => {
    const e = refusal(bytes as Uint8Array);
    expect(e.code).toBe('E_BAD_TENSOR');
    expect(e.message).toMatch(/^bad\.npy is not a readable \.npy file: /);
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(/numpy\.save/);
  });

  it('reads a numpy header as the Python literal it is (quotes, spacing, key order, trailing commas)', () => {
    const header = `{"shape":(2,),"fortran_order":False,"descr":"<f4"}`;
    const b = new Uint8Array(10 + 54 + 8);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(b.buffer).setUint16(8, 54, true);
    b.set(new TextEncoder().encode(header.padEnd(53) + '\n'), 10);
    b.set(new Uint8Array(Float32Array.of(1, 2).buffer), 64);
    expect(Array.from(parseNpy(b, 'q.npy').data as Float32Array)).toEqual([1, 2]);
    expect(parseNpy(numpyHeader('<f4', '()', new Uint8Array(Float32Array.of(7).buffer)), 's.npy')).toMatchObject({ shape: [], data: Float32Array.of(7) });
  });

  it('readNpy refuses what is not a regular file, by code, without reading it', () => {
    const work = scratch();
    try {
      fs.mkdirSync(path.join(work, 'folder.npy'));
      const code = (file: string) => {
        try {
          readNpy(file);
        } catch (e) {
          return (e as TgateError).code;
        }
        return 'read';
      };
      expect(code(path.join(work, 'folder.npy'))).toBe('E_NOT_REGULAR_FILE');
      expect(code('/dev/zero')).toBe('E_NOT_REGULAR_FILE');
      expect(code(path.join(work, 'missing.npy'))).toBe('E_FILE_MISSING');
      expect(code('')).toBe('E_USAGE');
      fs.writeFileSync(path.join(work, 'ok.npy'), encodeNpy({ dtype: 'float32', shape: [1], data: Float32Array.of(1) }));
      expect(code(path.join(work, 'ok.npy'))).toBe('read');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
