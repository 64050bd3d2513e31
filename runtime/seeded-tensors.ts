// Seeded stand-in tensors for a model's inputs when a user gives none (run, calibrate): normal
// values from a seed, shaped from the compiled model's manifest, their size bounded first.
import type { ManifestIo } from '../build/manifest.js';
import { SeededRandom } from './random.js';
import { checkTensorSize } from './tensor-checks.js';
import type { TensorInput } from './unet-feeds.js';

/** Seeded stand-in values; `what` names the options that made the shape, for a refusal of its size. */
export function seededNormal(dims: number[], seed: number, what = 'A seeded stand-in'): TensorInput {
  // Bounded before allocating: --batch 100000000 or --height 800000 must be a usage error, not a crash.
  checkTensorSize(dims, what, 'E_USAGE');
  const r = new SeededRandom(seed);
  return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal()), dims };
}

/** A concrete shape for a model input at batch B: symbolic sequence lengths become 77. */
export function concreteShape(io: ManifestIo, batch: number): number[] {
  return io.shape.map((d, i) => (i === 0 ? batch : typeof d === 'number' ? d : 77));
}
