// The feeds compile's proof runs every graph on: seeded normal values at small sizes, every
// symbolic dim bound to a size (the same symbol always the same size), timesteps mid-schedule.
import { TgateError } from '../base/errors.js';
import type { TensorSpec } from '../build/proof.js';
import type { Dim } from '../ir/value.js';
import { toHalfBits } from '../ir/dtype.js';
import { SeededRandom } from './random.js';
import { makeTensor, type Feeds } from './session.js';

export interface ProbeOptions {
  seed?: number;
  batch?: number;
  /** Size of every other symbolic dim of a rank-4 (image) input. */
  spatial?: number;
  /** Size of every other symbolic dim (sequence lengths). */
  sequence?: number;
  /** Allowed |fidelity - source|, scaled by max(1, max |source|). */
  tolerance?: number;
}

export const PROBE_DEFAULTS = { seed: 1234, batch: 2, spatial: 16, sequence: 8, tolerance: 1e-4 };

/** Binds every symbolic dim of the inputs to a size; the same symbol always gets the same size. */
export function bindDims(inputs: TensorSpec[], o: Required<ProbeOptions>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const t of inputs) {
    t.shape.forEach((d, i) => {
      if (typeof d !== 'string' || d in dims) return;
      dims[d] = i === 0 ? o.batch : t.shape.length === 4 ? o.spatial : o.sequence;
    });
  }
  return dims;
}

function concrete(shape: Dim[], dims: Record<string, number>, what: string): number[] {
  return shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (typeof d === 'string' && d in dims) return dims[d]!;
    if (d === null && i === 0) return 2;
    throw new TgateError('E_VERIFY_FAILED', `Cannot choose a size for dim ${i} of ${what} (${String(d)}).`, { subject: { tensor: what } });
  });
}

export function makeFeeds(inputs: TensorSpec[], dims: Record<string, number>, seed: number): Feeds {
  const rng = new SeededRandom(seed);
  const feeds: Feeds = {};
  for (const t of inputs) {
    const shape = concrete(t.shape, dims, t.name);
    const n = shape.reduce((a, b) => a * b, 1);
    // Scalars are timesteps in diffusion models: a mid-schedule value, not noise.
    if (t.dtype === 'float32')
      feeds[t.name] = makeTensor('float32', shape.length === 0 ? Float32Array.of(500) : Float32Array.from({ length: n }, () => rng.normal()), shape);
    else if (t.dtype === 'float16')
      feeds[t.name] = makeTensor(
        'float16',
        shape.length === 0 ? Uint16Array.of(toHalfBits(500)) : Uint16Array.from({ length: n }, () => toHalfBits(rng.normal())),
        shape,
      );
    else if (t.dtype === 'int64')
      feeds[t.name] = makeTensor(
        'int64',
        BigInt64Array.from({ length: n }, () => (shape.length === 0 ? 500n : 0n)),
        shape,
      );
    else if (t.dtype === 'int32')
      feeds[t.name] = makeTensor(
        'int32',
        Int32Array.from({ length: n }, () => (shape.length === 0 ? 500 : 0)),
        shape,
      );
    else
      throw new TgateError('E_UNSUPPORTED_MODEL', `Input ${t.name} has type ${t.dtype}, which the proof cannot feed.`, {
        subject: { tensor: t.name },
        hint: 'Compile with --no-verify.',
      });
  }
  return feeds;
}
