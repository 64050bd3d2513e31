// Tensors given on the command line (.npy files, NAME=FILE pairs) and the seeded stand-ins used
// when a user gives none, shaped from the compiled model's manifest.
import { TgateError } from '../compiler/errors.js';
import { replaceFile } from '../compiler/output/atomic-file.js';
import type { ManifestIo } from '../compiler/manifest.js';
import type { TensorInput } from '../runtime/gated-unet.js';
import { encodeNpy, readNpy } from '../runtime/npy.js';
import { SeededRandom } from '../runtime/random.js';

export function readNpyFile(file: string): TensorInput {
  const a = readNpy(file);
  return { data: a.data, dims: a.shape };
}

export function writeNpyFile(file: string, data: Float32Array, dims: number[]): void {
  // Atomically, through a temporary sibling (never writing through a link at the target).
  replaceFile(file, encodeNpy({ dtype: 'float32', shape: dims, data }));
}

/** Parses repeated NAME=FILE options into tensors by name. */
export function namedTensors(pairs: string[], option: string): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new TgateError('E_USAGE', `${option} takes NAME=FILE (e.g. ${option} encoder_hidden_states=c.npy), not "${p}".`);
    out[p.slice(0, i)] = readNpyFile(p.slice(i + 1));
  }
  return out;
}

export function seededNormal(dims: number[], seed: number): TensorInput {
  const r = new SeededRandom(seed);
  return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal()), dims };
}

/** A concrete shape for a model input at batch B: symbolic sequence lengths become 77. */
export function concreteShape(io: ManifestIo, batch: number): number[] {
  return io.shape.map((d, i) => (i === 0 ? batch : typeof d === 'number' ? d : 77));
}
