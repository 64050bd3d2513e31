// Ordinary bad input to a generation (issue 12, items 7-9), as a user meets it: each is a coded
// error with a hint and its documented exit code (never 70, "a bug in tgate"), refused before
// the work it would spoil, and leaves no file behind. Bad tensors (.npy files of the wrong shape,
// rank, dtype or batch; truncated or malformed ones; NaN or infinity in them), bad scheduler
// configs, numbers out of range, output paths that cannot be written, and NaN appearing during
// a run (exit 7, naming the step). Then the same refusals from the library (GatedUNet,
// GatedPipeline), which the CLI only forwards.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { TgateError } from '../base/errors.js';
import { readManifest } from '../build/manifest.js';
import { variantsFor } from '../runtime/compiled-folder.js';
import { GatedUNet, type GenerateOptions } from '../runtime/gated-unet.js';
import { encodeNpy } from '../runtime/npy.js';
import { GatedPipeline } from '../runtime/pipeline/gated-pipeline.js';
import { tgate, type CliRun } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SDXL = path.join(ROOT, 'fixtures/pipelines/sdxl-tiny');

const EXIT: Record<string, number> = {
  E_USAGE: 2,
  E_BAD_TENSOR: 3,
  E_BAD_CONFIG: 3,
  E_NOT_REGULAR_FILE: 3,
  E_FILE_MISSING: 3,
  E_FILE_TOO_LARGE: 3,
  E_OUTPUT_EXISTS: 5,
  E_OUTPUT_UNWRITABLE: 5,
  E_NON_FINITE: 7,
};

/** A .npy file with any header text and body (what numpy writes, or a damaged/hostile variant). */
function rawNpy(header: string, body: Uint8Array, headerLen?: number): Uint8Array {
  const padded = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + padded.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, headerLen ?? padded.length, true);
  out.set(new TextEncoder().encode(padded), 10);
  out.set(body, 10 + padded.length);
  return out;
}

function f32(shape: number[], fill: (i: number) => number = (i) => Math.sin(i)): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return encodeNpy({ dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => fill(i)) });
}

/** Every path under a folder (files and folders), to show that nothing was written or left. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The refusal as the issue asks for it: the exit code of its error code, the code, a hint, no crash. */
function expectRefused(r: CliRun, code: string): void {
  const shown = `exit ${r.status}\n${r.stderr}`;
  expect(shown).toMatch(new RegExp(`^exit ${EXIT[code]}\\n[^]*tgate: error ${code}: `));
  expect(r.stderr).toMatch(/ {2}what to do: \S/);
  expect(r.stderr).not.toMatch(/internal error|bug in tgate|\n\s+at /);
}

type Case = [label: string, args: string[], code: string];

describe('tgate run refuses bad input with a coded error, before any work and without writing', () => {
  const work = scratch('tgate-inputs-');
  const dir = path.join(work, 'tiny');
  const w = (name: string) => path.join(work, name);
  beforeAll(async () => {
    await compile(TINY, { outDir: dir, prover: null });
    const files: Record<string, Uint8Array | string> = {
      'lat.npy': f32([1, 4, 8, 8]),
      'lat-rank3.npy': f32([4, 8, 8]),
      'lat-c3.npy': f32([1, 3, 8, 8]),
      'lat-b0.npy': f32([0, 4, 8, 8]),
      'lat-i64.npy': encodeNpy({ dtype: 'int64', shape: [1, 4, 8, 8], data: new BigInt64Array(256) }),
      'lat-nan.npy': f32([1, 4, 8, 8], (i) => (i === 77 ? NaN : 0.5)),
      'lat-inf64.npy': rawNpy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4, 8, 8), }",
        new Uint8Array(Float64Array.from({ length: 256 }, (_, i) => (i === 3 ? 1e300 : 0.1)).buffer),
      ),
      'lat-huge.npy': f32([1, 4, 8, 8], () => 3e38),
      'lat-trunc.npy': f32([1, 4, 8, 8]).subarray(0, 100),
      'lat-claim.npy': rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000, 100000), }", new Uint8Array(64)),
      'not-npy.npy': 'just text, not numpy\n',
      'cond.npy': f32([1, 5, 12]),
      'cond-w7.npy': f32([1, 5, 7]),
      'cond-i32.npy': encodeNpy({ dtype: 'int32', shape: [1, 5, 12], data: new Int32Array(60) }),
      'cond-inf.npy': f32([1, 5, 12], (i) => (i === 59 ? -Infinity : 0)),
      'uncond-77.npy': f32([1, 77, 12]),
      'notes.txt': 'a file of the user: never replaced by -o\n',
      'cfg-n0.json': '{"_class_name": "DDIMScheduler", "num_train_timesteps": 0}',
      'cfg-betas-nan.json': '{"_class_name": "DDIMScheduler", "num_train_timesteps": 2, "trained_betas": [0.1, NaN]}',
      'cfg-offset.json': '{"_class_name": "DDIMScheduler", "steps_offset": 5000}',
      'cfg-array.json': '[1, 2, 3]',
    };
    for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(w(name), bytes);
    fs.mkdirSync(w('a-folder'));
    fs.mkdirSync(w('out'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  // One process per case costs ~1 s of CPU: the CLI cases are the issue's reproductions, one or
  // two per kind of refusal; the many ways a .npy or a config can be wrong are unit-tested
  // (npy.test.ts, scheduler-config.test.ts) and the tensor checks through the library below.
  const tensors: Case[] = [
    ['latents of rank 3', ['--latents', 'lat-rank3.npy'], 'E_BAD_TENSOR'],
    ['latents with 3 channels for a 4-channel model', ['--latents', 'lat-c3.npy'], 'E_BAD_TENSOR'],
    ['latents with batch 0', ['--latents', 'lat-b0.npy'], 'E_BAD_TENSOR'],
    ['int64 latents', ['--latents', 'lat-i64.npy'], 'E_BAD_TENSOR'],
    ['latents holding a NaN', ['--latents', 'lat-nan.npy'], 'E_BAD_TENSOR'],
    ['float64 latents beyond float32 (infinity once read)', ['--latents', 'lat-inf64.npy'], 'E_BAD_TENSOR'],
    ['a .npy truncated in its header', ['--latents', 'lat-trunc.npy'], 'E_BAD_TENSOR'],
    ['a .npy whose header claims 10^20 values', ['--latents', 'lat-claim.npy'], 'E_BAD_TENSOR'],
    ['a text file as .npy', ['--latents', 'not-npy.npy'], 'E_BAD_TENSOR'],
    ['a folder as the latents', ['--latents', 'a-folder'], 'E_NOT_REGULAR_FILE'],
    ['a device as the latents', ['--latents', '/dev/zero'], 'E_NOT_REGULAR_FILE'],
    ['--cond of the wrong width', ['--cond', 'encoder_hidden_states=cond-w7.npy'], 'E_BAD_TENSOR'],
    ['--cond of int32', ['--cond', 'encoder_hidden_states=cond-i32.npy'], 'E_BAD_TENSOR'],
    ['--cond holding -infinity', ['--cond', 'encoder_hidden_states=cond-inf.npy'], 'E_BAD_TENSOR'],
    ['--cond for an input the model does not have', ['--cond', 'nosuch=cond.npy'], 'E_USAGE'],
    ['--cond given twice', ['--cond', 'encoder_hidden_states=cond.npy', '--cond', 'encoder_hidden_states=cond.npy'], 'E_USAGE'],
    [
      '--uncond of another length than --cond (no CFG pair)',
      ['--cond', 'encoder_hidden_states=cond.npy', '--uncond', 'encoder_hidden_states=uncond-77.npy'],
      'E_BAD_TENSOR',
    ],
    ['--image of the wrong shape', ['--latents', 'lat.npy', '--image', 'lat-c3.npy'], 'E_BAD_TENSOR'],
  ];
  const numbers: Case[] = [
    ['--batch 0', ['--batch', '0'], 'E_USAGE'],
    ['--batch 100000000 (the latents would not fit in memory)', ['--batch', '100000000'], 'E_USAGE'],
    ['--steps 1000000000 (would plan a billion steps)', ['--steps', '1000000000'], 'E_USAGE'],
    ['--steps above the training timesteps (DPM++: NaN)', ['--steps', '2000', '--scheduler', 'dpmpp-2m'], 'E_USAGE'],
    [
      '--steps the schedule cannot make (DDIM, SD config, 1000 steps)',
      ['--steps', '1000', '--scheduler-config', path.join(SDXL, 'scheduler/scheduler_config.json'), '--scheduler', 'ddim'],
      'E_USAGE',
    ],
    ['--guidance NaN', ['--guidance', 'NaN'], 'E_USAGE'],
    ['--seed 1e300', ['--seed', '1e300'], 'E_USAGE'],
    ['a scheduler config with num_train_timesteps 0', ['--scheduler-config', 'cfg-n0.json'], 'E_BAD_CONFIG'],
    ['a scheduler config with NaN among trained_betas', ['--scheduler-config', 'cfg-betas-nan.json', '--steps', '1'], 'E_BAD_CONFIG'],
    ['a scheduler config that is not an object', ['--scheduler-config', 'cfg-array.json'], 'E_BAD_CONFIG'],
    ['a folder as the scheduler config', ['--scheduler-config', 'a-folder'], 'E_NOT_REGULAR_FILE'],
  ];
  const outputs: Case[] = [
    ["-o ''", ['-o', ''], 'E_USAGE'],
    ['-o onto a folder', ['-o', 'a-folder'], 'E_OUTPUT_EXISTS'],
    ['-o under a file (no folder can be made there)', ['-o', 'notes.txt/x.npy'], 'E_OUTPUT_UNWRITABLE'],
    ['-o onto a file that is not .npy', ['-o', 'notes.txt'], 'E_OUTPUT_EXISTS'],
    ['--save-trajectory onto a file', ['--save-trajectory', 'notes.txt'], 'E_OUTPUT_EXISTS'],
  ];
  const duringTheRun: Case[] = [
    ['a guidance scale that overflows float32 at the first step', ['--guidance', '1e39'], 'E_NON_FINITE'],
    ['latents so large that the model output overflows', ['--latents', 'lat-huge.npy'], 'E_NON_FINITE'],
  ];

  const run = (args: string[]) => {
    const given = args.includes('-o') ? [] : ['-o', path.join('out', 'result.npy')];
    return tgate(['run', dir, '--steps', '3', '--height', '64', '--width', '64', ...given, ...args], work);
  };

  it.each([...tensors, ...numbers, ...outputs, ...duringTheRun])('%s: %s', (_label, args, code) => {
    const before = listing(work);
    const notes = fs.readFileSync(w('notes.txt'));
    const r = run(args);
    expectRefused(r, code);
    // Nothing written, nothing left behind (a temporary file, a folder made for -o).
    expect(listing(work)).toEqual(before);
    expect(fs.readFileSync(w('notes.txt'))).toEqual(notes);
    // Output and input problems are found before the first step runs.
    if (code !== 'E_NON_FINITE') expect(r.stderr).not.toMatch(/^tgate step /m);
  });

  it('a scheduler config value is refused naming the key, its range and the file', () => {
    const r = run(['--scheduler-config', 'cfg-offset.json']);
    expect(r.stderr).toMatch(/Scheduler config cfg-offset\.json: steps_offset must be a whole number from 0 to 999 \(below num_train_timesteps\), not 5000\./);
    expect(run(['--steps', '2000', '--scheduler', 'dpmpp-2m']).stderr).toMatch(/steps must be a whole number from 1 to 1000/);
  });

  it('NaN during the run stops at the step it appears in, naming the step and the tensor', () => {
    const r = run(['--latents', 'lat-huge.npy']);
    expect(r.stderr).toMatch(
      /E_NON_FINITE: The UNet's output out_sample at step 1\/3 \(model evaluation 0, timestep \d+, the planning variant at batch 2\): 512 NaN or infinite values/,
    );
    expect(r.stderr.match(/^tgate step /gm) ?? []).toHaveLength(0);
    const g = run(['--guidance', '1e39']);
    expect(g.stderr).toMatch(/step 1\/3/);
    expect(g.stderr).toMatch(/guidance scale \(1e\+39\) is too large/);
  });

  it('the same bad output paths are refused by diff -o, before the models are read', () => {
    for (const [args, code] of [
      [['-o', ''], 'E_USAGE'],
      [['-o', 'a-folder'], 'E_OUTPUT_EXISTS'],
      [['-o', 'notes.txt/d.md'], 'E_OUTPUT_UNWRITABLE'],
    ] as const) {
      const before = listing(work);
      expectRefused(tgate(['diff', dir, ...args], work), code);
      expect(listing(work)).toEqual(before);
    }
  });

  it('bench and calibrate bound their numbers before any work', () => {
    expectRefused(tgate(['bench', dir, '--steps', '1000000000', '--no-memory'], work), 'E_USAGE');
    expectRefused(tgate(['calibrate', dir, '--samples', '100000000', '--steps', '3', '--dry-run'], work), 'E_USAGE');
  });

  describe('the library refuses the same requests (GatedUNet.generate)', () => {
    let unet: GatedUNet;
    const lat = { data: new Float32Array(256).fill(0.5), dims: [1, 4, 8, 8] };
    const cond = { encoder_hidden_states: { data: Float32Array.from({ length: 60 }, (_, i) => Math.sin(i)), dims: [1, 5, 12] } };
    const uncond = { encoder_hidden_states: { data: Float32Array.from({ length: 60 }, (_, i) => Math.cos(i)), dims: [1, 5, 12] } };
    const ok: GenerateOptions = { latents: lat, cond, uncond, steps: 3, guidance: 7.5 };
    beforeAll(async () => {
      unet = await GatedUNet.load(dir);
    });
    afterAll(async () => {
      await unet?.release();
    });
    const refused = async (o: unknown, code: string, message?: RegExp) => {
      let err: unknown;
      try {
        await unet.generate(o as GenerateOptions);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TgateError);
      expect((err as TgateError).code).toBe(code);
      if (message) expect((err as TgateError).message).toMatch(message);
    };

    it('refuses shapes, dtypes, names and values, naming the input', async () => {
      await refused(
        { ...ok, latents: { data: new BigInt64Array(256), dims: [1, 4, 8, 8] } },
        'E_BAD_TENSOR',
        /The latents: int64 values; the model's input sample takes float32/,
      );
      await refused(
        { ...ok, latents: { data: new Float32Array(255), dims: [1, 4, 8, 8] } },
        'E_BAD_TENSOR',
        /255 values, but its shape \[1, 4, 8, 8\] holds 256/,
      );
      await refused({ ...ok, latents: { data: new Float32Array(0), dims: [0, 4, 8, 8] } }, 'E_BAD_TENSOR', /a batch of 0 samples/);
      await refused(
        { ...ok, cond: { ...cond, text_embeds: cond.encoder_hidden_states } },
        'E_USAGE',
        /cond names the input "text_embeds", which the model does not have/,
      );
      await refused({ ...ok, uncond: { encoder_hidden_states: { data: new Float32Array(77 * 12), dims: [1, 77, 12] } } }, 'E_BAD_TENSOR', /must match/);
      await refused(
        { ...ok, cond: { encoder_hidden_states: { data: new Float32Array(60).fill(NaN), dims: [1, 5, 12] } } },
        'E_BAD_TENSOR',
        /cond encoder_hidden_states: 60 NaN/,
      );
      await refused({ ...ok, guidance: NaN }, 'E_USAGE', /guidance must be a number >= 0/);
      await refused({ ...ok, guidance: 'high' }, 'E_USAGE', /guidance must be a number >= 0, not "high"/);
      await refused({ ...ok, image: lat, strength: 0 }, 'E_USAGE', /strength/);
    });

    it('refuses a billion steps at once, in generate and in variantsFor', async () => {
      const started = performance.now();
      await refused({ ...ok, steps: 1e9 }, 'E_USAGE', /steps must be a whole number from 1 to 10000 \(tgate plans at most 10000 steps\)/);
      expect(() => variantsFor(readManifest(dir), 1e9)).toThrow(/steps must be a whole number from 1 to 10000 \(tgate plans at most 10000 steps\)/);
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('stops with E_NON_FINITE at the step where NaN appears', async () => {
      await refused({ ...ok, guidance: 1e39 }, 'E_NON_FINITE', /at step 1\/3 \(model evaluation 0/);
      await refused(
        { ...ok, latents: { data: new Float32Array(256).fill(3e38), dims: [1, 4, 8, 8] } },
        'E_NON_FINITE',
        /The UNet's output out_sample at step 1\/3/,
      );
      // A good request still runs (the checks cost nothing measurable: see the report).
      const r = await unet.generate(ok);
      expect(r.latents.every(Number.isFinite)).toBe(true);
    });
  });
});

describe('tgate generate and GatedPipeline refuse bad input before the work', () => {
  const work = scratch('tgate-inputs-pipe-');
  const dir = path.join(work, 'sdxl');
  beforeAll(async () => {
    await compile(SDXL, { outDir: dir, prover: null });
    fs.writeFileSync(path.join(work, 'notes.txt'), 'mine\n');
    fs.mkdirSync(path.join(work, 'a-folder.png'));
    // A PNG whose header claims 100000 x 100000 pixels (a few bytes that would inflate to 40 GB).
    const bomb = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bomb, 0);
    bomb.writeUInt32BE(13, 8);
    bomb.write('IHDR', 12, 'latin1');
    bomb.writeUInt32BE(100000, 16);
    bomb.writeUInt32BE(100000, 20);
    fs.writeFileSync(path.join(work, 'bomb.png'), bomb);
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  const cases: Case[] = [
    ['-o onto a folder', ['-o', 'a-folder.png'], 'E_OUTPUT_EXISTS'],
    ['-o under a file', ['-o', 'notes.txt/x.png'], 'E_OUTPUT_UNWRITABLE'],
    ['--num-images 0', ['--num-images', '0'], 'E_USAGE'],
    ['--num-images 1000000000', ['--num-images', '1000000000'], 'E_USAGE'],
    ['--steps 1000000000', ['--steps', '1000000000'], 'E_USAGE'],
    ['a folder as --image', ['--image', 'a-folder.png'], 'E_NOT_REGULAR_FILE'],
    ['a PNG claiming 10^10 pixels as --image', ['--image', 'bomb.png'], 'E_BAD_TENSOR'],
  ];
  it.each(cases)('%s: %s', (_label, args, code) => {
    const before = listing(work);
    const given = args.includes('-o') ? [] : ['-o', 'out.png'];
    const r = tgate(['generate', dir, '--prompt', 'a cat', '--steps', '2', ...given, ...args], work);
    expectRefused(r, code);
    expect(listing(work)).toEqual(before);
    expect(r.stderr).not.toMatch(/^tgate step /m);
  });

  it('tgate run on a compiled pipeline refuses a size its UNet cannot halve (a usage error for --height, a bad tensor for --latents)', () => {
    fs.writeFileSync(path.join(work, 'lat-3x3.npy'), f32([1, 4, 3, 3]));
    const before = listing(work);
    const h = tgate(['run', dir, '--steps', '2', '--height', '24', '--width', '24', '-o', 'o.npy'], work);
    expectRefused(h, 'E_USAGE');
    expect(h.stderr).toMatch(/this pipeline takes multiples of 16 pixels \(the latent factor 8 x 2: unet\/config\.json: 2 blocks/);
    expectRefused(tgate(['run', dir, '--steps', '2', '--latents', 'lat-3x3.npy', '-o', 'o.npy'], work), 'E_BAD_TENSOR');
    expect(listing(work)).toEqual(before);
  });

  it('the library: steps, sizes and NaN (GatedPipeline.generate)', async () => {
    const started = performance.now();
    expect(() => GatedPipeline.variantsFor(dir, { steps: 1e9 })).toThrow(/steps must be a whole number from 1 to 10000 \(tgate plans at most 10000 steps\)/);
    expect(performance.now() - started).toBeLessThan(1000);
    const pipe = await GatedPipeline.load(dir, { variants: ['planning', 'fidelity'] });
    try {
      const err = async (o: Parameters<GatedPipeline['generate']>[0]) => {
        try {
          await pipe.generate(o);
        } catch (e) {
          return e as TgateError;
        }
        throw new Error('expected a refusal');
      };
      expect((await err({ prompt: 'a cat', steps: 1e9 })).code).toBe('E_USAGE');
      expect((await err({ prompt: 'a cat', steps: 2, numImages: 100000 })).message).toMatch(/would hold \d+ values; tgate handles at most/);
      const nan = await err({ prompt: 'a cat', steps: 2, guidance: 1e39, tgate: { version: 1 } });
      expect([nan.code, nan.message]).toEqual(['E_NON_FINITE', expect.stringMatching(/step 1\/2/)]);
    } finally {
      await pipe.release();
    }
  });
});
