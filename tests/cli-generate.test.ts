// tgate generate as a user runs it, on the SD-XL pipeline fixture that ships with the repository:
// a prompt to a PNG that equals diffusers' (one 8-bit level), several images, latents as .npy,
// img2img, the --json record, and bad input refused with a code and nothing overwritten.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { parseNpy } from '../runtime/npy.js';
import { decodePng } from '../runtime/pipeline/image.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const FIXTURE = path.join(ROOT, 'fixtures/pipelines/sdxl-tiny');
const REF = path.join(FIXTURE, 'ref');
const PROMPT = 'a photo of an astronaut riding a horse on mars';

function levels(a: { data: Uint8Array }, b: { data: Uint8Array }): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe('tgate generate', () => {
  const work = scratch();
  const dir = path.join(work, 'sdxl');
  beforeAll(async () => {
    await compile(FIXTURE, { outDir: dir, prover: null });
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("a prompt and a seed give diffusers' image (baseline and TGATE v2), with a --json record of every stage", () => {
    for (const mode of ['baseline', 'tgate_v2'] as const) {
      const out = path.join(work, `${mode}.png`);
      const r = tgate([
        'generate',
        dir,
        '--prompt',
        PROMPT,
        '--seed',
        '0',
        '--steps',
        '25',
        '--threads',
        '1',
        ...(mode === 'baseline' ? ['--baseline'] : ['--gate-step', '10']),
        '-o',
        out,
        '--json',
      ]);
      expect(r.status).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s).toMatchObject({
        mode: mode === 'baseline' ? 'baseline' : 'tgate',
        seed: '0',
        scheduler: 'euler',
        steps: 25,
        guidance: 5,
        height: 64,
        width: 64,
        files: [out],
      });
      for (const k of ['tokenizeMs', 'textEncodeMs', 'decodeMs', 'totalMs']) expect(s.timings[k]).toBeGreaterThanOrEqual(0);
      expect(Object.keys(s.timings.denoise)).toEqual(['planningMs', 'gateMs', 'fidelityMs', 'totalMs']);
      if (mode === 'tgate_v2') {
        expect(s.schedule).toEqual({ version: 2, gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2 });
        expect(s.records.map((x: { batch: number }) => x.batch)).toEqual([...Array(10).fill(2), ...Array(15).fill(1)]);
      }
      const ref = decodePng(fs.readFileSync(path.join(REF, `runs/p0_s0_h64w64/euler/${mode}/image.png`)), 'ref');
      expect(levels(decodePng(fs.readFileSync(out), out), ref)).toBeLessThanOrEqual(1);
      // Progress is for terminals: none in a pipe (--verbose prints it there).
      expect(r.stderr).not.toMatch(/step \d+\/25 /);
    }
  });

  test('several images become out-1.png, out-2.png; --output-type latent writes .npy; img2img takes a PNG', () => {
    const out = path.join(work, 'many.png');
    expect(tgate(['generate', dir, '--prompt', 'a red cube', '--num-images', '2', '--steps', '4', '-o', out]).status).toBe(0);
    const a = decodePng(fs.readFileSync(path.join(work, 'many-1.png')), 'a');
    const b = decodePng(fs.readFileSync(path.join(work, 'many-2.png')), 'b');
    expect(levels(a, b)).toBeGreaterThan(10);
    expect(fs.existsSync(out)).toBe(false);
    const npy = path.join(work, 'latents.npy');
    expect(tgate(['generate', dir, '--prompt', 'a red cube', '--steps', '4', '--output-type', 'latent', '-o', npy]).status).toBe(0);
    expect(parseNpy(fs.readFileSync(npy), npy).shape).toEqual([1, 4, 8, 8]);
    const img = path.join(work, 'img2img.png');
    const r = tgate([
      'generate',
      dir,
      '--prompt',
      'a red cube',
      '--steps',
      '10',
      '--image',
      path.join(work, 'many-1.png'),
      '--strength',
      '0.5',
      '-o',
      img,
      '--json',
    ]);
    expect(r.status).toBe(0);
    // strength 0.5 of 10 Euler steps: the last 5 run.
    expect(JSON.parse(r.stdout).records).toHaveLength(5);
    expect(decodePng(fs.readFileSync(img), img)).toMatchObject({ width: 64, height: 64 });
  });

  test('a prompt longer than the tokenizer reads is truncated with a warning', () => {
    const out = path.join(work, 'long.png');
    const r = tgate(['generate', dir, '--prompt', Array(90).fill('horse').join(' '), '--steps', '2', '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: the prompt has 92 tokens; the text encoder reads 77, so this part was cut off \(as diffusers does\): horse horse/);
  });

  test('bad input: a clear error, a documented exit code, nothing overwritten', () => {
    const doc = path.join(work, 'notes.png');
    fs.writeFileSync(doc, 'my notes');
    expect(tgate(['generate', dir, '--prompt', 'x', '-o', doc])).toMatchObject({
      status: 5,
      stderr: expect.stringMatching(/notes\.png exists and is not a PNG image/),
    });
    expect(fs.readFileSync(doc, 'utf8')).toBe('my notes');
    expect(tgate(['generate', dir, '-o', path.join(work, 'x.png')])).toMatchObject({ status: 2, stderr: expect.stringMatching(/Missing --prompt/) });
    expect(tgate(['generate', dir, '--prompt', 'x', '-o', path.join(work, 'x.txt')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/images are written as \.png/),
    });
    expect(tgate(['generate', dir, '--prompt', 'x', '--height', '60', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/height 60 is not a positive multiple of 16 pixels \(the VAE's factor 8 x the UNet's 2/),
    });
    expect(tgate(['generate', dir, '--prompt', 'x', '--seed', '18446744073709551616', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--seed must be a whole number from 0 to 2\^64 - 1/),
    });
    expect(tgate(['generate', dir, '--prompt', 'x', '--scheduler', 'heun', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/Unknown scheduler "heun"[\s\S]*ddim, euler, dpmpp-2m, pndm, euler-ancestral, lcm/),
    });
    const input = path.join(work, 'input.png');
    expect(tgate(['generate', dir, '--prompt', 'x', '--steps', '2', '-o', input]).status).toBe(0);
    expect(tgate(['generate', dir, '--prompt', 'x', '--image', input, '-o', input])).toMatchObject({
      status: 5,
      stderr: expect.stringMatching(/is the input image/),
    });
    expect(tgate(['generate', dir, '--prompt', 'x', '--steps', '10', '--image', input, '--strength', '0.01', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/strength 0\.01 over 10 steps runs no step/),
    });
    expect(fs.existsSync(path.join(work, 'x.png'))).toBe(false);
    // A folder compiled from a single model has no text side.
    const single = path.join(work, 'single');
    expect(tgate(['compile', path.join(FIXTURE, 'unet/model.onnx'), '-o', single, '--no-verify']).status).toBe(0);
    expect(tgate(['generate', single, '--prompt', 'x', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/compiled from a single model[\s\S]*tgate compile <export folder>/),
    });
    // A component onnxruntime cannot load: bad input, named, not a crash.
    const corrupt = path.join(work, 'corrupt');
    fs.cpSync(dir, corrupt, { recursive: true });
    fs.rmSync(path.join(corrupt, 'text_encoder/model.onnx'));
    fs.writeFileSync(path.join(corrupt, 'text_encoder/model.onnx'), 'not a model');
    expect(tgate(['generate', corrupt, '--prompt', 'x', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 3,
      stderr: expect.stringMatching(/E_NOT_ONNX: onnxruntime cannot load the text encoder .*text_encoder\/model\.onnx/),
    });
    // A component removed after compiling.
    const broken = path.join(work, 'broken');
    fs.cpSync(dir, broken, { recursive: true });
    fs.rmSync(path.join(broken, 'vae_decoder'), { recursive: true });
    expect(tgate(['generate', broken, '--prompt', 'x', '-o', path.join(work, 'x.png')])).toMatchObject({
      status: 3,
      stderr: expect.stringMatching(/no vae_decoder\/model\.onnx/),
    });
    expect(fs.existsSync(path.join(work, 'x.png'))).toBe(false);
  });
});
