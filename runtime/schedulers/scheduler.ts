// What the sampler needs of a scheduler. A scheduler object lives for one generation: create a
// new one per generation, so no state (DPM-Solver's history) leaks between runs.

export interface Scheduler {
  readonly name: string;
  /** The model timestep of each step, as diffusers gives it to the UNet. */
  readonly timesteps: number[];
  /** Initial latents are multiplied by this. */
  readonly initNoiseSigma: number;
  /** Model calls per step (1 for every scheduler here: the gate counts steps, not calls). */
  readonly callsPerStep: 1;
  /** The latent as the model sees it at step k (Euler scales it; DDIM/DPM leave it). */
  scaleModelInput(x: Float32Array, k: number): Float32Array;
  /** One denoising step from x at step k with the (guided) model output. */
  step(modelOutput: Float32Array, k: number, x: Float32Array): Float32Array;
  /** Noises clean latents to the level of step k (img2img). */
  addNoise(x0: Float32Array, noise: Float32Array, k: number): Float32Array;
}

/** x0 and eps from a model output, for each prediction type, at sqrt(abar)=a, sqrt(1-abar)=b. */
export function splitPrediction(kind: 'epsilon' | 'v_prediction' | 'sample', out: Float32Array, x: Float32Array, a: number, b: number): { x0: Float32Array; eps: Float32Array } {
  const n = x.length;
  const x0 = new Float32Array(n);
  const eps = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = out[i]!;
    const s = x[i]!;
    if (kind === 'epsilon') {
      x0[i] = (s - b * m) / a;
      eps[i] = m;
    } else if (kind === 'v_prediction') {
      x0[i] = a * s - b * m;
      eps[i] = a * m + b * s;
    } else {
      x0[i] = m;
      eps[i] = (s - a * m) / b;
    }
  }
  return { x0, eps };
}
