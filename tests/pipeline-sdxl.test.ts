// GatedPipeline on the SD-XL pipeline fixture that ships with the repository
// (fixtures/pipelines/sdxl-tiny, made by fixtures/export/sdxl_pipeline_tiny.py from diffusers'
// StableDiffusionXLPipeline and the official TgateSDXLLoader): two tokenizers and text encoders,
// penultimate hidden states, pooled embeds, time ids, force_zeros_for_empty_prompt; every
// reference run (Euler and DDIM, baseline, TGATE v1 and v2) to 1e-5 and one 8-bit level.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedPipeline, type PipelineGenerateOptions } from '../runtime/pipeline/gated-pipeline.js';
import { proveArtifacts } from '../runtime/prove.js';
import { readF32, ROOT, scratch } from './helpers/paths.js';
import { checkReferenceRuns, modeOptions, type RefRun } from './helpers/reference-runs.js';

const FIXTURE = path.join(ROOT, 'fixtures/pipelines/sdxl-tiny');
const REF = path.join(FIXTURE, 'ref');

interface Index {
  runs: Record<string, RefRun>;
  prompts: Record<string, { prompt: string; negative_prompt: string | null; files: Record<string, string> }>;
}

describe('GatedPipeline on sdxl-tiny', () => {
  const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8')) as Index;
  let pipe: GatedPipeline;
  let out: string;

  beforeAll(async () => {
    out = path.join(scratch(), 'sdxl');
    const r = await compile(FIXTURE, { outDir: out, prover: proveArtifacts });
    expect(r.manifest.family.name).toBe('sdxl');
    pipe = await GatedPipeline.load(out, { threads: 1 });
  });
  afterAll(async () => {
    await pipe?.release();
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });

  const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

  test("encode_prompt: both encoders' penultimate states, pooled embeds, time ids; zeros for no negative prompt", async () => {
    for (const [key, p] of Object.entries(index.prompts)) {
      const c = await pipe.encodePrompt(p.prompt, p.negative_prompt ?? undefined, 1, 64, 64);
      const f = (name: string) => readF32(path.join(REF, p.files[name]!));
      expect({ key, dims: c.cond.encoder_hidden_states!.dims }).toEqual({ key, dims: [1, 77, 72] });
      expect(maxAbs(c.cond.encoder_hidden_states!.data as Float32Array, f('prompt_embeds'))).toBeLessThan(1e-5);
      expect(maxAbs(c.uncond.encoder_hidden_states!.data as Float32Array, f('negative_prompt_embeds'))).toBeLessThan(1e-5);
      expect(maxAbs(c.cond.text_embeds!.data as Float32Array, f('pooled_prompt_embeds'))).toBeLessThan(1e-5);
      expect(maxAbs(c.uncond.text_embeds!.data as Float32Array, f('negative_pooled_prompt_embeds'))).toBeLessThan(1e-5);
      expect(Array.from(c.cond.time_ids!.data as Float32Array)).toEqual([64, 64, 0, 0, 64, 64]);
      if (p.negative_prompt === null) expect((c.uncond.encoder_hidden_states!.data as Float32Array).every((x) => x === 0)).toBe(true);
    }
  });

  test('every reference run: timesteps, batches, final latents within 1e-5 rel L2, images within one 8-bit level', async () => {
    const request = (r: RefRun): PipelineGenerateOptions => ({
      prompt: r.prompt,
      ...(r.negative_prompt ? { negativePrompt: r.negative_prompt } : {}),
      seed: r.seed,
      height: r.height,
      width: r.width,
      steps: 25,
      guidance: 5,
      ...(r.scheduler === 'ddim' ? { scheduler: 'ddim' } : {}),
      ...modeOptions(r.mode),
    });
    const worst = await checkReferenceRuns(pipe, REF, index.runs, request);
    console.log(`sdxl-tiny references: worst final-latent rel L2 ${worst.latents.toExponential(2)}, worst 8-bit difference ${worst.levels}`);
  });

  test("the family default guidance is SD-XL's 5.0, and the default size the UNet's native one", async () => {
    const r = await pipe.generate({ prompt: 'a red cube', steps: 2, outputType: 'latent' });
    expect(r.guidance).toBe(5);
    // unet/config.json sample_size 8 latents x the VAE's factor 8.
    expect([r.height, r.width]).toEqual([64, 64]);
    expect(r.latents.dims).toEqual([1, 4, 8, 8]);
  });
});
