// Tensors given on the command line (.npy files, NAME=FILE pairs) and the seeded stand-ins used
// when a user gives none, shaped from the compiled model's manifest.
import { TgateError } from '../base/errors.js';
import { replaceFile } from '../base/output/atomic-file.js';
import type { TensorInput } from '../runtime/gated-unet.js';
import { encodeNpy, readNpy } from '../runtime/npy.js';

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
  // No prototype: an input named __proto__ or constructor is a name like any other.
  const out: Record<string, TensorInput> = Object.create(null);
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0)
      throw new TgateError('E_USAGE', `${option} takes NAME=FILE, not "${p}".`, {
        hint: `Name the model input the file is for, e.g. ${option} encoder_hidden_states=c.npy.`,
      });
    const name = p.slice(0, i);
    if (Object.hasOwn(out, name))
      throw new TgateError('E_USAGE', `${option} ${name} is given twice.`, { hint: `Give each input once: one ${option} ${name}=FILE.npy.` });
    out[name] = readNpyFile(p.slice(i + 1));
  }
  return out;
}

export { concreteShape, seededNormal } from '../runtime/seeded-tensors.js';
