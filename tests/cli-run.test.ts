// tgate run and tgate bench as a user runs them: real processes, .npy files in and out, and the
// same numbers as the library API on the same tensors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { parseNpy } from '../runtime/npy.js';
import { tgate } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/ort.js';
import { seededNpy } from './helpers/npy-files.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');

const npy = seededNpy;

describe('tgate run', () => {
  const work = scratch();
  const dir = path.join(work, 'tiny');
  beforeAll(async () => {
    await compile(TINY, { outDir: dir, prover: null });
  });

  it('generates with seeded stand-ins, says so, and writes the final latents', () => {
    const out = path.join(work, 'final.npy');
    const r = tgate(['run', dir, '--steps', '6', '--gate-step', '3', '--height', '64', '--width', '64', '-o', out, '--json']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ mode: 'tgate', steps: 6, gateStep: 3, cfg: true, phases: { planning: 2, gate: 1, fidelity: 3 } });
    // The family's v2 defaults, and only the variants this schedule runs were opened.
    expect(s.schedule).toEqual({ version: 2, gateStep: 3, spInterval: 5, fiInterval: 1, warmUp: 2 });
    expect(s.variants).toEqual(['planning', 'fidelity']);
    expect(r.stderr).toMatch(/note: latents: seeded Gaussian noise \[1, 4, 8, 8\]/);
    expect(r.stderr).toMatch(/note: uncond encoder_hidden_states: seeded random \[1, 77, 12\]/);
    // Not a terminal: no progress, unless --verbose (one plain line per step).
    expect(r.stderr).not.toMatch(/step \d\/6/);
    const verbose = tgate(['run', dir, '--steps', '6', '--gate-step', '3', '--height', '64', '--width', '64', '-o', out, '--json', '-v']);
    expect(verbose.stderr.match(/^tgate step \d\/6 /gm)).toHaveLength(6);
    const final = parseNpy(fs.readFileSync(out), out);
    expect(final.shape).toEqual([1, 4, 8, 8]);
  });

  it('gives the library result for the same .npy inputs, and --baseline the ungated one', async () => {
    const lat = npy(path.join(work, 'x.npy'), [1, 4, 8, 8], 1);
    const c = npy(path.join(work, 'c.npy'), [1, 5, 12], 2);
    const u = npy(path.join(work, 'u.npy'), [1, 5, 12], 3);
    const args = [
      '--steps',
      '8',
      '--gate-step',
      '4',
      '--guidance',
      '6',
      '--scheduler',
      'dpmpp-2m',
      '--latents',
      path.join(work, 'x.npy'),
      '--cond',
      `encoder_hidden_states=${path.join(work, 'c.npy')}`,
      '--uncond',
      `encoder_hidden_states=${path.join(work, 'u.npy')}`,
    ];
    const gatedFile = path.join(work, 'g.npy');
    const baseFile = path.join(work, 'b.npy');
    const traj = path.join(work, 'traj');
    expect(tgate(['run', dir, ...args, '-o', gatedFile, '--save-trajectory', traj]).status).toBe(0);
    expect(tgate(['run', dir, ...args, '--baseline', '-o', baseFile]).status).toBe(0);
    const unet = await GatedUNet.load(dir);
    const io = {
      latents: { data: lat, dims: [1, 4, 8, 8] },
      cond: { encoder_hidden_states: { data: c, dims: [1, 5, 12] } },
      uncond: { encoder_hidden_states: { data: u, dims: [1, 5, 12] } },
    };
    const gated = await unet.generate({ ...io, steps: 8, gateStep: 4, guidance: 6, scheduler: 'dpmpp-2m' });
    const base = await unet.generate({ ...io, steps: 8, gateStep: 8, guidance: 6, scheduler: 'dpmpp-2m', tgate: { version: 1 } });
    await unet.release();
    const read = (f: string) => parseNpy(fs.readFileSync(f), f).data as Float32Array;
    expect(maxAbsDiff(read(gatedFile), gated.latents)).toBe(0);
    expect(maxAbsDiff(read(baseFile), base.latents)).toBe(0);
    expect(maxAbsDiff(read(gatedFile), read(baseFile))).toBeGreaterThan(0);
    const files = fs.readdirSync(traj).sort();
    expect(files).toHaveLength(8);
    expect(maxAbsDiff(read(path.join(traj, files[7]!)), gated.latents)).toBe(0);
  });

  it('--tgate-version, --sp-interval, --fi-interval and --warm-up set the schedule', () => {
    const run = (...extra: string[]) =>
      JSON.parse(tgate(['run', dir, '--steps', '10', '--gate-step', '6', '--height', '32', '--width', '32', '--json', ...extra]).stdout);
    const v2 = run('--sp-interval', '2', '--warm-up', '1', '--fi-interval', '2');
    expect(v2.records.map((x: { variant: string }) => x.variant)).toEqual([
      'planning',
      'planning',
      'planning',
      'reuse-self',
      'planning',
      'planning',
      'fidelity',
      'fidelity-reuse-self',
      'fidelity',
      'fidelity-reuse-self',
    ]);
    expect(v2.variants).toEqual(['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self']);
    const v1 = run('--tgate-version', '1');
    expect(v1.records.every((x: { self: string }) => x.self === 'compute')).toBe(true);
    expect(v1.variants).toEqual(['planning', 'fidelity']);
    expect(tgate(['run', dir, '--sp-interval', '0'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--sp-interval must be a whole number >= 1, not "0"/),
    });
    expect(tgate(['run', dir, '--tgate-version', '3'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--tgate-version must be 1 or 2/) });
  });

  it('reads a diffusers scheduler_config.json', () => {
    const cfg = path.join(work, 'scheduler_config.json');
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        _class_name: 'EulerDiscreteScheduler',
        beta_schedule: 'scaled_linear',
        beta_start: 0.00085,
        beta_end: 0.012,
        timestep_spacing: 'leading',
        steps_offset: 1,
      }),
    );
    const r = tgate([
      'run',
      dir,
      '--steps',
      '4',
      '--gate-step',
      '2',
      '--height',
      '32',
      '--width',
      '32',
      '--scheduler',
      'euler',
      '--scheduler-config',
      cfg,
      '--json',
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).records.map((x: { t: number }) => x.t)).toEqual([751, 501, 251, 1]);
  });

  it('runs the schedulers that draw noise (seeded: the same file twice) and PNDM by its config class', () => {
    const outs = [1, 2].map((i) => path.join(work, `ancestral-${i}.npy`));
    for (const out of outs)
      expect(
        tgate(['run', dir, '--steps', '4', '--gate-step', '2', '--height', '32', '--width', '32', '--scheduler', 'euler-ancestral', '--seed', '3', '-o', out])
          .status,
      ).toBe(0);
    expect(fs.readFileSync(outs[0]!).equals(fs.readFileSync(outs[1]!))).toBe(true);
    const cfg = path.join(work, 'pndm_config.json');
    fs.writeFileSync(
      cfg,
      '{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "skip_prk_steps": true, "steps_offset": 1, "set_alpha_to_one": false, "lambda_min_clipped": -Infinity}',
    );
    const r = tgate(['run', dir, '--steps', '4', '--gate-step', '2', '--height', '32', '--width', '32', '--scheduler-config', cfg, '--json']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    // PLMS repeats its first timestep; the gate comes one evaluation later, as the official code counts.
    expect(s.scheduler).toBe('pndm');
    expect(s.records.map((x: { t: number }) => x.t)).toEqual([751, 501, 501, 251, 1]);
    expect(s.records.map((x: { batch: number }) => x.batch)).toEqual([2, 2, 2, 1, 1]);
  });

  it('refuses bad input with the problem and the fix', () => {
    expect(tgate(['run', TINY])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/is a file; tgate run takes a compiled folder[\s\S]*tgate compile/),
    });
    expect(tgate(['run', work])).toMatchObject({ status: 3, stderr: expect.stringMatching(/has no tgate\.json/) });
    expect(tgate(['run', dir, '--cond', 'oops'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--cond takes NAME=FILE/) });
    expect(tgate(['run', dir, '--scheduler', 'heun'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--scheduler must be one of .*ddim, .*euler.*dpmpp-2m/),
    });
    // Conditioning by name: an unknown name or a wrong shape is an error, never ignored.
    const c = path.join(work, 'cond-bad.npy');
    npy(c, [1, 5, 12], 9);
    expect(tgate(['run', dir, '--cond', `text_embeds=${c}`])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--cond text_embeds: the model has no conditioning input "text_embeds"[\s\S]*encoder_hidden_states/),
    });
    npy(c, [1, 5, 11], 9);
    expect(tgate(['run', dir, '--cond', `encoder_hidden_states=${c}`])).toMatchObject({
      status: 3,
      stderr: expect.stringMatching(/--cond encoder_hidden_states has shape \[1, 5, 11\]; the model takes \[1, .*, 12\]/),
    });
    npy(c, [2, 5, 12], 9);
    expect(tgate(['run', dir, '--uncond', `encoder_hidden_states=${c}`])).toMatchObject({
      status: 3,
      stderr: expect.stringMatching(/batch 1, as the latents/),
    });
    expect(tgate(['run', dir, '--strength', '0.5'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--strength needs --image/) });
    expect(tgate(['run', dir, '--height', '30'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--height must be a positive multiple of 8/) });
    fs.writeFileSync(path.join(work, 'bad.npy'), 'nope');
    expect(tgate(['run', dir, '--latents', path.join(work, 'bad.npy')])).toMatchObject({
      status: 3,
      stderr: expect.stringMatching(/bad\.npy is not a readable \.npy file/),
    });
  });
});

describe('tgate bench', () => {
  it('compiles a model into a temporary folder, compares baseline and TGATE, and cleans up', () => {
    const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tgate-bench-'));
    const r = tgate(['bench', TINY, '--steps', '6', '--gate-step', '3', '--runs', '2', '--height', '64', '--width', '64', '--json']);
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f).toMatchObject({ steps: 6, gateStep: 3, runs: 2 });
    expect(Object.keys(f.modes)).toEqual(['baseline', 'v1', 'v2']);
    expect(f.modes.v1.steps).toEqual({ 'planning @2': 2, 'planning (gate) @2': 1, 'fidelity @1': 3 });
    expect(f.modes.baseline.steps).toEqual({ 'planning @2': 6 });
    // The bound follows from the reported per-step times (timings themselves are not asserted:
    // on a model this small they are noise).
    const cost = (steps: Record<string, number>) => Object.entries(steps).reduce((a, [k, n]) => a + n * f.msPerStep[k], 0);
    for (const m of ['v1', 'v2']) {
      expect(f.modes[m].runsSeconds).toHaveLength(2);
      expect(f.modes[m].speedup).toBeGreaterThan(0);
      expect(f.modes[m].boundSpeedup).toBeCloseTo(cost(f.modes.baseline.steps) / cost(f.modes[m].steps), 6);
    }
    for (const m of ['baseline', 'v1', 'v2']) expect(f.modes[m].peakRssMiB).toBeGreaterThan(10);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tgate-bench-'))).toEqual(before);
    const text = tgate(['bench', TINY, '--steps', '4', '--gate-step', '2', '--runs', '1', '--height', '32', '--width', '32', '--no-memory']);
    expect(text.stdout).toMatch(/speed-up the schedule allows +- +[\d.]+x \([\d.]+ % reached\) +[\d.]+x/);
  });
});
