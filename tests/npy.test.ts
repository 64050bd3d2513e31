// .npy files as numpy writes them: round trip, dtypes widened/narrowed, bad files refused.
import { encodeNpy, parseNpy } from '../runtime/npy.js';

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
});
