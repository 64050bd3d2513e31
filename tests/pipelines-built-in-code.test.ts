// Pipelines built in code, so they run on a fresh clone: the conventions of older optimum exports
// (int32 input_ids, int64 [batch] timestep, a VAE encoder giving a sampled latent_sample) against
// the current ones; and a guidance-distilled (LCM-style) pipeline: the folder's LCMScheduler, the
// guidance-scale embedding fed to `timestep_cond` (diffusers' get_guidance_scale_embedding), no CFG
// pair; and the embedding itself against its float64 formula.
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { GatedPipeline } from '../runtime/pipeline/gated-pipeline.js';
import { guidanceScaleEmbedding } from '../runtime/pipeline/guidance-embedding.js';
import { SeededRandom } from '../runtime/random.js';
import { writeTinyUnet } from './helpers/models.js';
import { ROOT, scratch } from './helpers/paths.js';

const TOKENIZER = path.join(ROOT, 'tests/fixtures/clip-tokenizer-mini/tokenizer');

/** input_ids [b, s] -> last_hidden_state [b, s, 12]: an embedding table, enough to condition on. */
function textEncoder(file: string, ids: 'int64' | 'int32' = 'int64'): void {
  const r = new SeededRandom(5);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    encodeModelSpec({
      opset: 14,
      inputs: [{ name: 'input_ids', dtype: ids === 'int64' ? 7 : 6, shape: ['batch_size', 'sequence_length'] }],
      outputs: [{ name: 'last_hidden_state', dtype: 1, shape: ['batch_size', 'sequence_length', 12] }],
      initializers: [{ name: 'embed', dtype: 1, dims: [300, 12], values: Float32Array.from({ length: 3600 }, () => r.normal()) }],
      nodes: [{ op: 'Gather', inputs: ['embed', 'input_ids'], outputs: ['last_hidden_state'] }],
    }),
  );
}

/** latent_sample [b, 4, h, w] -> sample [b, 3, 8h, 8w]: a 1x1 convolution and nearest upsampling. */
function vaeDecoder(file: string): void {
  const r = new SeededRandom(6);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    encodeModelSpec({
      opset: 14,
      inputs: [{ name: 'latent_sample', dtype: 1, shape: ['batch_size', 4, 'latent_height', 'latent_width'] }],
      outputs: [{ name: 'sample', dtype: 1, shape: ['batch_size', 3, null, null] }],
      initializers: [
        { name: 'w', dtype: 1, dims: [3, 4, 1, 1], values: Float32Array.from({ length: 12 }, () => r.normal() * 0.3) },
        { name: 'scales', dtype: 1, dims: [4], values: [1, 1, 8, 8] },
      ],
      nodes: [
        { op: 'Conv', inputs: ['latent_sample', 'w'], outputs: ['c'] },
        { op: 'Resize', inputs: ['c', '', 'scales'], outputs: ['sample'], attrs: { mode: { s: 'nearest' } } },
      ],
    }),
  );
}

/** sample [b, 3, H, W] -> latent_parameters [b, 8, H/8, W/8] (current) or latent_sample [b, 4, ...] (optimum <= 1.22). */
function vaeEncoder(file: string, output: 'latent_parameters' | 'latent_sample'): void {
  const r = new SeededRandom(8);
  const c = output === 'latent_parameters' ? 8 : 4;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    encodeModelSpec({
      opset: 14,
      inputs: [{ name: 'sample', dtype: 1, shape: ['batch_size', 3, 'sample_height', 'sample_width'] }],
      outputs: [{ name: output, dtype: 1, shape: ['batch_size', c, null, null] }],
      initializers: [{ name: 'w', dtype: 1, dims: [c, 3, 8, 8], values: Float32Array.from({ length: c * 192 }, () => r.normal() * 0.05) }],
      nodes: [{ op: 'Conv', inputs: ['sample', 'w'], outputs: [output], attrs: { strides: { ints: [8, 8] } } }],
    }),
  );
}

/** A pipeline folder of the tiny UNet: optimum's current conventions, or those up to v1.23. */
function sdPipeline(dir: string, conventions: 'current' | 'optimum<=1.23'): void {
  const old = conventions !== 'current';
  writeTinyUnet(path.join(dir, 'unet'), old ? { timestep: 'int64-batch' } : {});
  textEncoder(path.join(dir, 'text_encoder/model.onnx'), old ? 'int32' : 'int64');
  vaeDecoder(path.join(dir, 'vae_decoder/model.onnx'));
  vaeEncoder(path.join(dir, 'vae_encoder/model.onnx'), old ? 'latent_sample' : 'latent_parameters');
  fs.cpSync(TOKENIZER, path.join(dir, 'tokenizer'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'scheduler'));
  // diffusers writes Python's -Infinity into some configs.
  fs.writeFileSync(
    path.join(dir, 'scheduler/scheduler_config.json'),
    '{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "skip_prk_steps": true, "steps_offset": 1, "set_alpha_to_one": false, "lambda_min_clipped": -Infinity}',
  );
  fs.writeFileSync(
    path.join(dir, 'model_index.json'),
    JSON.stringify({
      _class_name: 'StableDiffusionPipeline',
      unet: ['diffusers', 'UNet2DConditionModel'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      scheduler: ['diffusers', 'PNDMScheduler'],
      vae: ['diffusers', 'AutoencoderKL'],
      safety_checker: [null, null],
    }),
  );
}

describe('pipelines as found in the wild', () => {
  const work = scratch();
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('optimum <= 1.23 (int32 input_ids, int64 [batch] timestep) gives the same image as the current conventions', async () => {
    const results = [];
    for (const conventions of ['current', 'optimum<=1.23'] as const) {
      const src = path.join(work, conventions);
      sdPipeline(src, conventions);
      const out = path.join(work, `${conventions}-compiled`);
      await compile(src, { outDir: out, prover: null });
      const pipe = await GatedPipeline.load(out);
      try {
        const r = await pipe.generate({ prompt: 'a photo of a cat', seed: 7, steps: 6, gateStep: 3, height: 64, width: 64 });
        expect(r.scheduler).toBe('pndm');
        results.push(r);
      } finally {
        await pipe.release();
      }
    }
    expect(results[0]!.records.map((x) => x.batch)).toEqual([2, 2, 2, 2, 1, 1, 1]);
    expect(Array.from(results[1]!.latents.data)).toEqual(Array.from(results[0]!.latents.data));
    expect(Array.from(results[1]!.images[0]!.data)).toEqual(Array.from(results[0]!.images[0]!.data));
  });

  test("img2img runs with either VAE encoder output (latent_parameters, or an older export's latent_sample), seeded", async () => {
    for (const conventions of ['current', 'optimum<=1.23'] as const) {
      const pipe = await GatedPipeline.load(path.join(work, `${conventions}-compiled`));
      try {
        const image = { width: 64, height: 64, data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 256) };
        const run = (seed: number) => pipe.generate({ prompt: 'a photo of a cat', seed, steps: 10, image, strength: 0.5 });
        const a = await run(1);
        // PNDM at 10 steps, strength 0.5: the last 5 steps, 6 evaluations.
        expect(a.records).toHaveLength(6);
        expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
        expect(Array.from((await run(1)).latents.data)).toEqual(Array.from(a.latents.data));
        expect(Array.from((await run(2)).latents.data)).not.toEqual(Array.from(a.latents.data));
      } finally {
        await pipe.release();
      }
    }
  });
});

describe('an LCM-style pipeline', () => {
  const work = scratch();
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("the guidance embedding equals diffusers' formula", () => {
    const e = guidanceScaleEmbedding(8.5, 6, 2);
    expect(e.dims).toEqual([2, 6]);
    const w = (8.5 - 1) * 1000;
    const want = [0, 1, 2].map((i) => w * Math.exp((-i * Math.log(10000)) / 2));
    const row = Array.from(e.data.subarray(0, 6) as Float32Array);
    want.forEach((x, i) => {
      expect(row[i]).toBeCloseTo(Math.sin(x), 2);
      expect(row[3 + i]).toBeCloseTo(Math.cos(x), 2);
    });
    expect(Array.from(e.data.subarray(6) as Float32Array)).toEqual(row);
  });

  test("generates with the folder's LCMScheduler and timestep_cond, at batch B throughout", async () => {
    const src = path.join(work, 'lcm-onnx');
    writeTinyUnet(path.join(src, 'unet'), { guidanceEmbedding: true });
    textEncoder(path.join(src, 'text_encoder/model.onnx'));
    vaeDecoder(path.join(src, 'vae_decoder/model.onnx'));
    vaeEncoder(path.join(src, 'vae_encoder/model.onnx'), 'latent_parameters');
    fs.cpSync(TOKENIZER, path.join(src, 'tokenizer'), { recursive: true });
    fs.mkdirSync(path.join(src, 'scheduler'));
    fs.writeFileSync(path.join(src, 'scheduler/scheduler_config.json'), JSON.stringify({ _class_name: 'LCMScheduler', original_inference_steps: 50 }));
    fs.writeFileSync(
      path.join(src, 'model_index.json'),
      JSON.stringify({
        _class_name: 'LatentConsistencyModelPipeline',
        unet: ['diffusers', 'UNet2DConditionModel'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        scheduler: ['diffusers', 'LCMScheduler'],
        vae: ['diffusers', 'AutoencoderKL'],
      }),
    );
    const out = path.join(work, 'lcm');
    const c = await compile(src, { outDir: out, prover: null });
    expect(c.manifest.family.name).toBe('lcm');
    const pipe = await GatedPipeline.load(out);
    try {
      const a = await pipe.generate({ prompt: 'a red fox', seed: 3, steps: 4, height: 64, width: 64 });
      expect(a.scheduler).toBe('lcm');
      expect(a.guidance).toBe(8.5);
      expect(a.records.map((r) => r.t)).toEqual([999, 759, 499, 259]);
      expect(a.records.every((r) => r.batch === 1)).toBe(true);
      expect(a.images[0]).toMatchObject({ width: 64, height: 64 });
      // The guidance scale reaches the model through the embedding.
      const b = await pipe.generate({ prompt: 'a red fox', seed: 3, steps: 4, height: 64, width: 64, guidance: 2 });
      expect(Array.from(a.latents.data)).not.toEqual(Array.from(b.latents.data));
      const again = await pipe.generate({ prompt: 'a red fox', seed: 3, steps: 4, height: 64, width: 64 });
      expect(Array.from(again.latents.data)).toEqual(Array.from(a.latents.data));
      // img2img as LatentConsistencyModelImg2ImgPipeline: strength goes into set_timesteps, all
      // steps run (diffusers' timesteps for 4 steps at strength 0.6, fixtures/schedulers/lcm.json).
      const image = { width: 64, height: 64, data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 5) % 256) };
      const i2i = await pipe.generate({ prompt: 'a red fox', seed: 3, steps: 4, image, strength: 0.6 });
      expect(i2i.records.map((r) => r.t)).toEqual([599, 459, 299, 159]);
    } finally {
      await pipe.release();
    }
  });
});
