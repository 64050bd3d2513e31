// Placeholder feeds for the gated model's inputs that the taken If branch never reads: zeros,
// with every symbolic dimension but the batch at 1 (one token), so they cost next to nothing.
import type ort from 'onnxruntime-node';
import { makeTensor } from './session.js';

export function placeholder(shape: readonly (string | number | null)[], batch: number, dtype = 'float32'): ort.Tensor {
  // A fixed dim is kept, the first too: a static export declares it (a [batch·tokens, channels]
  // site's rows are not its batch), and its batch runs at that size anyway. A symbolic first
  // dim is the batch, or batch rows of one token each.
  const dims = shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  // float16 travels as its bit patterns; zero is all-zero bits in every type here.
  const data =
    dtype === 'int64' ? new BigInt64Array(n) : dtype === 'int32' ? new Int32Array(n) : dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n);
  return makeTensor(dtype, data, dims);
}

/** A gated model's run flag for one variant: true runs it. */
export function runFlag(on: boolean): ort.Tensor {
  return makeTensor('bool', Uint8Array.of(on ? 1 : 0), []);
}
