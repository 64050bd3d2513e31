// Running graphs in onnxruntime for numerical proofs in tests.
import ort from 'onnxruntime-node';
import { makeFeeds } from '../../runtime/prove.js';
import { runOnce, type Feeds } from '../../runtime/session.js';
import type { ModelSpec } from '../../fixtures/model-spec.js';
import { dtypeName } from '../../ir/dtype.js';

export { runOnce };

export function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** Seeded feeds for a ModelSpec's inputs with symbolic dims bound as given. */
export function specFeeds(spec: ModelSpec, dims: Record<string, number>, seed = 1): Feeds {
  return makeFeeds(
    spec.inputs.map((i) => ({ name: i.name, dtype: dtypeName(i.dtype), shape: i.shape })),
    dims,
    seed,
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function data(t: ort.Tensor | undefined): Float32Array {
  if (!t) throw new Error('missing output tensor');
  return t.data as Float32Array;
}
