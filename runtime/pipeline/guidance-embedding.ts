// The guidance-scale embedding of guidance-distilled UNets (LCM's `timestep_cond`), as diffusers'
// LatentConsistencyModelPipeline.get_guidance_scale_embedding makes it from w = guidance - 1:
// sin and cos of 1000 w times exp(-i log(10000) / (half - 1)), i < half, in float32.
import type { TensorInput } from '../gated-unet.js';

/** diffusers' LatentConsistencyModelPipeline default guidance_scale. */
export const LCM_DEFAULT_GUIDANCE = 8.5;

export function guidanceScaleEmbedding(guidance: number, dim: number, count: number): TensorInput {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const w = f(f(guidance - 1) * 1000);
  const step = f(f(Math.log(10000)) / (half - 1));
  const row = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const x = f(w * f(Math.exp(f(i * -step))));
    row[i] = Math.sin(x);
    row[half + i] = Math.cos(x);
  }
  // An odd dim is padded with one zero, as diffusers pads.
  const data = new Float32Array(dim * count);
  for (let b = 0; b < count; b++) data.set(row, b * dim);
  return { data, dims: [count, dim] };
}
