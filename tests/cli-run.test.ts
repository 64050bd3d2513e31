// tgate run and tgate bench as a user runs them: real processes, .npy files in and out, and the
// same numbers as the library API on the same tensors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compile } from '../compiler/compile.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { encodeNpy, parseNpy } from '../runtime/npy.js';
import { SeededRandom } from '../runtime/random.js';
import { tgate } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/ort.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');

function npy(file: string, dims: number[], seed: number): Float32Array {
  const r = new SeededRandom(seed);
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal());
  fs.writeFileSync(file, encodeNpy({ dtype: 'float32', shape: dims, data }));
  return data;
}

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
    expect(r.stderr).toMatch(/note: latents: seeded Gaussian noise \[1, 4, 8, 8\]/);
    expect(r.stderr).toMatch(/note: uncond encoder_hidden_states: seeded random \[1, 77, 12\]/);
    // Not a terminal: one plain progress line per step.
    expect(r.stderr.match(/^tgate step \d\/6 /gm)).toHaveLength(6);
    const final = parseNpy(fs.readFileSync(out), out);
    expect(final.shape).toEqual([1, 4, 8, 8]);
  });

  it('gives the library result for the same .npy inputs, and --baseline the ungated one', async () => {
    const lat = npy(path.join(work, 'x.npy'), [1, 4, 8, 8], 1);
    const c = npy(path.join(work, 'c.npy'), [1, 5, 12], 2);
    const u = npy(path.join(work, 'u.npy'), [1, 5, 12], 3);
    const args = ['--steps', '8', '--gate-step', '4', '--guidance', '6', '--scheduler', 'dpmpp-2m', '--latents', path.join(work, 'x.npy'), '--cond', `encoder_hidden_states=${path.join(work, 'c.npy')}`, '--uncond', `encoder_hidden_states=${path.join(work, 'u.npy')}`];
    const gatedFile = path.join(work, 'g.npy');
    const baseFile = path.join(work, 'b.npy');
    const traj = path.join(work, 'traj');
    expect(tgate(['run', dir, ...args, '-o', gatedFile, '--save-trajectory', traj]).status).toBe(0);
    expect(tgate(['run', dir, ...args, '--baseline', '-o', baseFile]).status).toBe(0);
    const unet = await GatedUNet.load(dir);
    const io = { latents: { data: lat, dims: [1, 4, 8, 8] }, cond: { encoder_hidden_states: { data: c, dims: [1, 5, 12] } }, uncond: { encoder_hidden_states: { data: u, dims: [1, 5, 12] } } };
    const gated = await unet.generate({ ...io, steps: 8, gateStep: 4, guidance: 6, scheduler: 'dpmpp-2m' });
    const base = await unet.generate({ ...io, steps: 8, gateStep: 8, guidance: 6, scheduler: 'dpmpp-2m' });
    await unet.release();
    const read = (f: string) => parseNpy(fs.readFileSync(f), f).data as Float32Array;
    expect(maxAbsDiff(read(gatedFile), gated.latents)).toBe(0);
    expect(maxAbsDiff(read(baseFile), base.latents)).toBe(0);
    expect(maxAbsDiff(read(gatedFile), read(baseFile))).toBeGreaterThan(0);
    const files = fs.readdirSync(traj).sort();
    expect(files).toHaveLength(8);
    expect(maxAbsDiff(read(path.join(traj, files[7]!)), gated.latents)).toBe(0);
  });

  it('reads a diffusers scheduler_config.json', () => {
    const cfg = path.join(work, 'scheduler_config.json');
    fs.writeFileSync(cfg, JSON.stringify({ _class_name: 'EulerDiscreteScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, timestep_spacing: 'leading', steps_offset: 1 }));
    const r = tgate(['run', dir, '--steps', '4', '--gate-step', '2', '--height', '32', '--width', '32', '--scheduler', 'euler', '--scheduler-config', cfg, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).records.map((x: { t: number }) => x.t)).toEqual([751, 501, 251, 1]);
  });

  it('refuses bad input with the problem and the fix', () => {
    expect(tgate(['run', TINY])).toMatchObject({ status: 2, stderr: expect.stringMatching(/is a file; tgate run takes a compiled folder[\s\S]*tgate compile/) });
    expect(tgate(['run', work])).toMatchObject({ status: 3, stderr: expect.stringMatching(/has no tgate\.json/) });
    expect(tgate(['run', dir, '--cond', 'oops'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--cond takes NAME=FILE/) });
    expect(tgate(['run', dir, '--scheduler', 'pndm'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--scheduler must be one of ddim, euler, dpmpp-2m/) });
    expect(tgate(['run', dir, '--strength', '0.5'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--strength needs --image/) });
    expect(tgate(['run', dir, '--height', '30'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--height must be a positive multiple of 8/) });
    fs.writeFileSync(path.join(work, 'bad.npy'), 'nope');
    expect(tgate(['run', dir, '--latents', path.join(work, 'bad.npy')])).toMatchObject({ status: 3, stderr: expect.stringMatching(/bad\.npy is not a readable \.npy file/) });
  });
});

describe('tgate bench', () => {
  it('compiles a model into a temporary folder, compares baseline and TGATE, and cleans up', () => {
    const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tgate-bench-'));
    const r = tgate(['bench', TINY, '--steps', '6', '--gate-step', '3', '--runs', '2', '--height', '64', '--width', '64', '--json']);
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f).toMatchObject({ steps: 6, gateStep: 3, runs: 2 });
    expect(f.baselineRunsSeconds).toHaveLength(2);
    expect(f.speedup).toBeGreaterThan(0);
    expect(f.msPerStep.fidelity).toBeGreaterThan(0);
    // The bound follows from the reported per-step times (timings themselves are not asserted:
    // on a model this small they are noise).
    const { baselinePlanning: p, gate, fidelity } = f.msPerStep;
    expect(f.boundSpeedup).toBeCloseTo((6 * p) / (2 * p + gate + 3 * fidelity), 6);
    expect(f.peakRssMiB.baseline).toBeGreaterThan(10);
    expect(f.peakRssMiB.tgate).toBeGreaterThan(10);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tgate-bench-'))).toEqual(before);
    const text = tgate(['bench', TINY, '--steps', '4', '--gate-step', '2', '--runs', '1', '--height', '32', '--width', '32', '--no-memory']);
    expect(text.stdout).toMatch(/speed-up [\d.]+x; the schedule allows [\d.]+x/);
  });
});
