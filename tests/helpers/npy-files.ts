// Seeded .npy inputs for CLI tests: the same numbers for the same seed, written as float32.
import fs from 'node:fs';
import { encodeNpy } from '../../runtime/npy.js';
import { SeededRandom } from '../../runtime/random.js';

/** Writes N(0, 1) samples of shape `dims` to `file` and returns them. */
export function seededNpy(file: string, dims: number[], seed: number): Float32Array {
  const r = new SeededRandom(seed);
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal());
  fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape: dims, data }));
  return data;
}
