// Checking a pipeline against recorded diffusers runs (the SD-1.x and SD-XL pipeline fixtures
// share the layout of ref/index.json runs): timesteps, the UNet batch per evaluation, final
// latents by relative L2 and the PNG within one 8-bit level.
import { expect } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import type { GatedPipeline, PipelineGenerateOptions } from '../../runtime/pipeline/gated-pipeline.js';
import { decodePng } from '../../runtime/pipeline/image.js';
import { parseSchedulerConfig } from '../../runtime/schedulers/index.js';
import { readF32 } from './paths.js';

export interface RefRun {
  case: string;
  prompt: string;
  negative_prompt?: string | null;
  seed: number;
  height: number;
  width: number;
  scheduler: string;
  mode: 'baseline' | 'tgate_v1' | 'tgate_v2';
  guidance_scale?: number;
  call?: { guidance_scale?: number; negative_prompt?: string | null };
  timesteps: number[];
  unet_batch_per_step: number[];
  files: { final_latents: string; png: string };
}

/** ||a - b|| / ||b||, after checking the lengths agree. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** The official T-GATE call of a run's mode (gate step 10; v1 is sp_interval 1, warm_up 0). */
export function modeOptions(mode: RefRun['mode']): Partial<PipelineGenerateOptions> {
  if (mode === 'baseline') return { baseline: true };
  return { gateStep: 10, tgate: mode === 'tgate_v1' ? { version: 1 } : { version: 2, spInterval: 5, fiInterval: 1, warmUp: 2 } };
}

/** Runs every reference and checks it; returns the worst latent error and 8-bit difference. */
export async function checkReferenceRuns(
  pipe: GatedPipeline,
  refDir: string,
  runs: Record<string, RefRun>,
  request: (r: RefRun) => PipelineGenerateOptions,
): Promise<{ latents: number; levels: number }> {
  const worst = { latents: 0, levels: 0 };
  for (const [key, r] of Object.entries(runs)) {
    const res = await pipe.generate(request(r));
    expect({ key, t: res.records.map((x) => x.t) }).toEqual({ key, t: r.timesteps });
    expect({ key, b: res.records.map((x) => x.batch) }).toEqual({ key, b: r.unet_batch_per_step });
    const err = relL2(res.latents.data, readF32(path.join(refDir, r.files.final_latents)));
    worst.latents = Math.max(worst.latents, err);
    expect({ key, ok: err < 1e-5, err }).toEqual({ key, ok: true, err });
    const ref = decodePng(fs.readFileSync(path.join(refDir, r.files.png)), r.files.png);
    const img = res.images[0]!;
    expect([img.width, img.height]).toEqual([ref.width, ref.height]);
    let levels = 0;
    for (let i = 0; i < ref.data.length; i++) levels = Math.max(levels, Math.abs(img.data[i]! - ref.data[i]!));
    worst.levels = Math.max(worst.levels, levels);
    expect({ key, withinOneLevel: levels <= 1 }).toEqual({ key, withinOneLevel: true });
  }
  return worst;
}

/**
 * A sampler run against a recorded trajectory (the official T-GATE/DeepCache references): every
 * step's latents and model output, and the final latents, within `tolerance` relative L2.
 */
export function expectTrajectory(
  r: { trajectory: Float32Array[]; modelOutputs: Float32Array[]; latents: Float32Array },
  runDir: string,
  perStep: number,
  tolerance = 1e-5,
): void {
  const latents = readF32(path.join(runDir, 'latents.bin'));
  const eps = readF32(path.join(runDir, 'eps.bin'));
  const steps = latents.length / perStep;
  expect(r.trajectory).toHaveLength(steps);
  for (let k = 0; k < steps; k++) {
    expect(relL2(r.trajectory[k]!, latents.subarray(k * perStep, (k + 1) * perStep))).toBeLessThan(tolerance);
    expect(relL2(r.modelOutputs[k]!, eps.subarray(k * perStep, (k + 1) * perStep))).toBeLessThan(tolerance);
  }
  expect(relL2(r.latents, readF32(path.join(runDir, 'final_latents.bin')))).toBeLessThan(tolerance);
}

/**
 * The sampler's inputs of a recorded official run (tgate-ref's layout: inputs/*.bin, the scheduler
 * config in index.json), for GatedUNet.generate: latents, text embeddings, the scheduler config.
 */
export function referenceInputs(dir: string, index: { scheduler: { config: unknown } }, latent: number[], text: number[]) {
  const bin = (name: string, dims: number[]) => ({ data: readF32(path.join(dir, 'inputs', `${name}.bin`)), dims });
  return {
    latents: bin('latents_init', latent),
    cond: { encoder_hidden_states: bin('prompt_embeds', text) },
    uncond: { encoder_hidden_states: bin('negative_prompt_embeds', text) },
    schedulerConfig: parseSchedulerConfig(index.scheduler.config as Record<string, unknown>, path.join(dir, 'index.json')),
  };
}
