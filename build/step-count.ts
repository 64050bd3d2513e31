// How many steps a plan may have, checked once for every command and the library.
import { TgateError } from '../base/errors.js';

/**
 * The most steps a schedule may have. A plan holds one entry per step and every step runs the
 * model, so this bounds the work of a plan (inspect --steps 1000000000 used to exhaust the heap);
 * it is ten times the 1000 training timesteps of the diffusion schedulers tgate knows.
 */
export const MAX_STEPS = 10_000;

/** A step count of a plan: an integer from `min` to MAX_STEPS. */
export function checkStepCount(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min || v > MAX_STEPS) {
    throw new TgateError('E_USAGE', `${name} must be an integer from ${min} to ${MAX_STEPS}, not ${v}.`, {
      hint: `Diffusion schedulers are trained on 1000 timesteps; tgate plans at most ${MAX_STEPS} steps.`,
    });
  }
}
