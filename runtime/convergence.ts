// How far apart two results are, the measure TGATE rests on: the relative L2 distance
// ||a - b|| / ||b||. Per step, of the attention outputs against the step before (cross-attention
// converges early in a diffusion schedule); per gate step, of the final latents against the
// baseline's (calibrate). Summed in float64, the same order everywhere, so numbers repeat.
import type ort from 'onnxruntime-node';
import type { CacheSite } from './model-roles.js';
import { numbersOf } from './tensor-values.js';

/** ||a - b|| / ||b|| (b near zero counts as 1e-30, never a division by zero). */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** One step's mean relative change per kind of site (null: no site of that kind compared). */
export interface AttentionChange {
  k: number;
  cross: number | null;
  self: number | null;
}

/** Per step from k = 1, the relative change of each site's output since the step before, averaged per kind. */
export class AttentionChangeRecorder {
  readonly changes: AttentionChange[] = [];
  private readonly previous = new Map<string, Float32Array>();

  /** Records step k's site outputs (a copy of each is kept for the next step). */
  record(k: number, outputs: readonly [Pick<CacheSite, 'id' | 'kind'>, ort.Tensor][]): void {
    const sums: Record<'cross' | 'self', [number, number]> = { cross: [0, 0], self: [0, 0] };
    for (const [c, t] of outputs) {
      // Attention outputs only: the deep feature is not one (the sampler never passes it here).
      if (c.kind === 'deep') continue;
      const now = Float32Array.from(numbersOf(t));
      const before = this.previous.get(c.id);
      if (before && before.length === now.length) {
        sums[c.kind][0] += relativeL2(now, before);
        sums[c.kind][1]++;
      }
      this.previous.set(c.id, now);
    }
    const mean = (s: [number, number]) => (s[1] ? s[0] / s[1] : null);
    if (k > 0) this.changes.push({ k, cross: mean(sums.cross), self: mean(sums.self) });
  }
}
