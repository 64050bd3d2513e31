// GatedPipeline against diffusers and the official T-GATE code on the shared SD-1.x pipeline
// fixture: prompt embeddings, initial noise, final latents and images of every reference run
// (4 schedulers x baseline / TGATE v1 / v2, 7 prompt/seed/size cases) and img2img.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { compile } from '../build/compile.js';
import { GatedPipeline, type PipelineGenerateOptions } from '../runtime/pipeline/gated-pipeline.js';
import { decodePng } from '../runtime/pipeline/image.js';
import { proveArtifacts } from '../runtime/prove.js';
import { pipelineAvailable, pipelineFolder, PIPELINE_REF } from './helpers/pipeline-fixture.js';
import { readF32, scratch } from './helpers/paths.js';
import { checkReferenceRuns, modeOptions, relL2, type RefRun } from './helpers/reference-runs.js';

const available = pipelineAvailable('GatedPipeline against the diffusers references');
const maybe = available ? describe : describe.skip;

const SCHEDULER_NAME: Record<string, string | undefined> = { pndm: undefined, ddim: 'ddim', euler: 'euler', dpm: 'dpmpp-2m' };

maybe('GatedPipeline on sd15-pipeline-tiny', () => {
  let out: string;
  let pipe: GatedPipeline;
  const index = available
    ? (JSON.parse(fs.readFileSync(path.join(PIPELINE_REF, 'index.json'), 'utf8')) as {
        runs: Record<string, RefRun>;
        img2img: Record<string, { call: { strength: number; prompt: string }; files: Record<string, string> }>;
      })
    : null;
  const worst = { latents: 0, levels: 0 };

  beforeAll(async () => {
    out = path.join(scratch(), 'compiled');
    await compile(pipelineFolder(), { outDir: out, prover: proveArtifacts });
    pipe = await GatedPipeline.load(out, { threads: 1 });
  });
  afterAll(async () => {
    await pipe?.release();
    console.log(`pipeline references: worst final-latent rel L2 ${worst.latents.toExponential(2)}, worst 8-bit difference ${worst.levels}`);
  });

  const request = (r: RefRun): PipelineGenerateOptions => {
    const name = SCHEDULER_NAME[r.scheduler];
    return {
      prompt: r.prompt,
      negativePrompt: '',
      seed: r.seed,
      height: r.height,
      width: r.width,
      steps: 25,
      guidance: 7.5,
      ...(name ? { scheduler: name } : {}),
      ...modeOptions(r.mode),
    };
  };

  test('every reference run: timesteps, batches, final latents within 1e-5 rel L2, images within one 8-bit level', async () => {
    const w = await checkReferenceRuns(pipe, PIPELINE_REF, index!.runs, request);
    worst.latents = w.latents;
    worst.levels = w.levels;
  });

  test("prompt embeddings equal encode_prompt's (3 prompts, and the empty negative prompt)", async () => {
    for (const k of [0, 1, 2]) {
      const prompt = Object.values(index!.runs).find((r) => r.case.startsWith(`p${k}_`))!.prompt;
      const c = await pipe.encodePrompt(prompt, '', 1, 64, 64);
      const pos = readF32(path.join(PIPELINE_REF, `prompts/p${k}/prompt_embeds.bin`));
      const neg = readF32(path.join(PIPELINE_REF, `prompts/p${k}/negative_prompt_embeds.bin`));
      expect(c.cond.encoder_hidden_states!.dims).toEqual([1, 77, 32]);
      const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
      expect(maxAbs(c.cond.encoder_hidden_states!.data as Float32Array, pos)).toBeLessThan(1e-5);
      expect(maxAbs(c.uncond.encoder_hidden_states!.data as Float32Array, neg)).toBeLessThan(1e-5);
    }
  });

  test('img2img (PNDM and DDIM, strength 0.6): the VAE sample and noise draws, final latents and image', async () => {
    const init = decodePng(fs.readFileSync(path.join(PIPELINE_REF, 'img2img/init_image.png')), 'init_image.png');
    for (const [scheduler, ref] of Object.entries(index!.img2img).filter(([k]) => k === 'pndm' || k === 'ddim')) {
      const res = await pipe.generate({
        prompt: ref.call.prompt,
        negativePrompt: '',
        seed: 42,
        steps: 25,
        guidance: 7.5,
        image: init,
        strength: ref.call.strength,
        baseline: true,
        ...(scheduler === 'ddim' ? { scheduler: 'ddim' } : {}),
      });
      const err = relL2(res.latents.data, readF32(path.join(PIPELINE_REF, ref.files.final_latents!)));
      expect({ scheduler, ok: err < 1e-5, err }).toEqual({ scheduler, ok: true, err });
      const png = PNG.sync.read(fs.readFileSync(path.join(PIPELINE_REF, ref.files.png!)));
      let levels = 0;
      for (let i = 0; i < png.width * png.height; i++)
        for (let c = 0; c < 3; c++) levels = Math.max(levels, Math.abs(res.images[0]!.data[3 * i + c]! - png.data[4 * i + c]!));
      expect({ scheduler, levels: levels <= 1 }).toEqual({ scheduler, levels: true });
    }
  });
});
