// Part of compile's proof: a cut tensor's buffer must hold the samples one after another, because
// the sampler's CFG mean pairs the first half of it (the uncond samples) with the second (the
// cond ones), and its fixed-batch arithmetic repeats and trims whole halves (batch-ops.ts). The
// site matcher checks this structurally; here it is checked on the numbers, whatever the cut's
// rank ([batch, tokens, channels] or [batch·tokens, channels]): with the two halves of the probe
// batch swapped in every batched input, every cut must come out with its two halves swapped.
import { latentInput } from '../build/latent-factor.js';
import type { Feeds, OrtTensor } from './session.js';
import { makeTensor } from './session.js';
import { numbersOf } from './tensor-values.js';

type Data = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

function swapHalves(t: OrtTensor): OrtTensor {
  const d = t.data as Data;
  const half = d.length / 2;
  const out = new (d.constructor as new (n: number) => Data)(d.length);
  out.set(d.subarray(half) as never);
  out.set(d.subarray(0, half) as never, half);
  return makeTensor(t.type, out, t.dims as number[]);
}

/**
 * null when every cut swaps with the batch, else what failed. Skipped (null) when the probe
 * batch cannot be halved. `run` runs the planning graph; `planned` is its result on `feeds`;
 * `batch` is the probe batch (the proof's; by default the latent feed's rows, by latentInput's rule).
 */
export async function sampleOrderError(
  cached: { id: string; tensor: string }[],
  feeds: Feeds,
  planned: Record<string, OrtTensor>,
  run: (f: Feeds) => Promise<Record<string, OrtTensor>>,
  tolerance: number,
  batch: number = latentInput(Object.values(feeds).map((t) => ({ shape: t.dims })))?.shape[0] ?? 0,
): Promise<string | null> {
  if (cached.length === 0 || batch < 2 || batch % 2 !== 0) return null;
  const swapped: Feeds = {};
  for (const [name, t] of Object.entries(feeds)) swapped[name] = t.dims.length > 0 && t.dims[0] === batch ? swapHalves(t) : t;
  const got = await run(swapped);
  for (const c of cached) {
    const want = numbersOf(swapHalves(planned[c.tensor]!));
    const have = numbersOf(got[c.tensor]!);
    let scale = 1;
    for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
    let err = want.length === have.length ? 0 : Infinity;
    for (let i = 0; i < want.length && err !== Infinity; i++) err = Math.max(err, Math.abs(want[i]! - have[i]!) || 0);
    if (!(err <= tolerance * scale)) {
      return `Site ${c.id}: swapping the two halves of the batch does not swap the two halves of ${c.tensor} (max abs error ${err}): its rows are not sample-major, so the CFG mean would pair the wrong rows.`;
    }
  }
  return null;
}
