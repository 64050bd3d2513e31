// Batch arithmetic of the sampler on row-major data (flat arrays, and tensors for the CFG mean
// and a static export's repeated rows): the CFG pair is the batch doubled
// as [uncond rows, cond rows], so every operation here works on the two halves of axis 0. A
// site's cut is [2B, tokens, channels] or, where an optimizer made the out-projection 2-D,
// [2B·tokens, channels] with row b·tokens + t holding token t of sample b: in both the buffer is
// the samples one after another, so the first half of it is the uncond samples and the second
// the cond ones, and halving the buffer pairs sample b with sample B + b, token for token. The
// site matcher refuses cuts whose batch axis is not in front, and compile's proof checks it
// numerically, so these functions never see any other layout.
import type ort from 'onnxruntime-node';
import { makeTensor } from './session.js';
import { numbersOf, valuesAs } from './tensor-values.js';

export type Flat = Float32Array | BigInt64Array | Int32Array;

/** [a; b] along axis 0. */
export function concatRows<T extends Flat>(a: T, b: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length + b.length);
  out.set(a as never);
  out.set(b as never, a.length);
  return out;
}

/** (out[:B] + out[B:]) / 2: a site's cache of a CFG pair, per sample and token (rows [0, B·T) with [B·T, 2B·T) at rank 2). */
export function meanOfHalves(x: Float32Array): Float32Array {
  const half = x.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = (x[i]! + x[half + i]!) / 2;
  return out;
}

/** eps_u + s (eps_c - eps_u) over the halves [uncond; cond]. */
export function guide(x: Float32Array, scale: number): Float32Array {
  const half = x.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const u = x[i]!;
    out[i] = u + scale * (x[half + i]! - u);
  }
  return out;
}

/** The first `keep` of `channels` channels of a [batch, channels, ...] tensor (learned variance). */
export function firstChannels(x: Float32Array, batch: number, channels: number, keep: number): Float32Array {
  if (keep === channels) return x;
  const plane = x.length / (batch * channels);
  const out = new Float32Array(batch * keep * plane);
  for (let b = 0; b < batch; b++) out.set(x.subarray(b * channels * plane, (b * channels + keep) * plane), b * keep * plane);
  return out;
}

/** The mean of a stored CFG pair over its halves, in the site's dtype; a batch of one (unpaired) is kept as it is. */
export function meanOfPair(t: ort.Tensor, dtype: string, paired: boolean): ort.Tensor {
  if (!paired) return t;
  const v = meanOfHalves(numbersOf(t));
  return makeTensor(dtype, valuesAs(dtype, v), [t.dims[0]! / 2, ...t.dims.slice(1)]);
}

/** The rows repeated `times` times along axis 0 (a static-batch export's batch filled). */
export function repeatRows(t: ort.Tensor, times: number): ort.Tensor {
  let data = t.data as Flat;
  for (let i = 1; i < times; i++) data = concatRows(data, t.data as Flat);
  return makeTensor(t.type, data as never, [t.dims[0]! * times, ...t.dims.slice(1)]);
}

/** The first 1/times of a tensor's rows: undoes repeatRows on a result. */
export function firstRows(t: ort.Tensor, times: number): ort.Tensor {
  const data = (t.data as Float32Array).subarray(0, t.data.length / times);
  return makeTensor(t.type, data as never, [t.dims[0]! / times, ...t.dims.slice(1)]);
}
