// The gated sampler reproduces the official T-GATE code's denoising trajectories on the compiled
// sd15-tiny fixture: every step's latents and model outputs, the gate-step caches and the final
// latents within 1e-5 relative L2, for DDIM and DPM-Solver++: the baseline, TGATE v1 (cross-
// attention gating, `tgate_sa_off`) and TGATE v2 (self-attention reuse too, the official defaults).
// The per-step variant choice is checked against what the official code recorded per module.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedUNet, type GenerateResult, type TgateOptions } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { FIXTURES, readF32, scratch, sharedAvailable } from './helpers/paths.js';
import { expectTrajectory, referenceInputs, relL2 } from './helpers/reference-runs.js';

const have = sharedAvailable('the official T-GATE trajectories');
const REF = path.join(FIXTURES, 'tgate-ref/sd15-tiny');

const V1: TgateOptions = { version: 1 };
const V2: TgateOptions = { version: 2, spInterval: 5, fiInterval: 1, warmUp: 2 };
const CASES = [
  { folder: 'ddim', scheduler: 'ddim', run: 'baseline', gateStep: 25, tgate: V1 },
  { folder: 'ddim', scheduler: 'ddim', run: 'tgate_sa_off', gateStep: 10, tgate: V1 },
  { folder: 'ddim', scheduler: 'ddim', run: 'tgate', gateStep: 10, tgate: V2 },
  { folder: 'dpm', scheduler: 'dpmpp-2m', run: 'baseline', gateStep: 25, tgate: V1 },
  { folder: 'dpm', scheduler: 'dpmpp-2m', run: 'tgate_sa_off', gateStep: 10, tgate: V1 },
  { folder: 'dpm', scheduler: 'dpmpp-2m', run: 'tgate', gateStep: 10, tgate: V2 },
];

(have ? describe : describe.skip)('official T-GATE trajectories (sd15-tiny)', () => {
  let unet: GatedUNet;
  const results = new Map<string, GenerateResult>();
  beforeAll(async () => {
    const out = path.join(scratch(), 'sd15');
    await compile(path.join(FIXTURES, 'sd15-tiny/model.onnx'), { outDir: out, prover: (r) => proveArtifacts(r) });
    unet = await GatedUNet.load(out, { variants: ['planning', 'reuse-self', 'fidelity'] });
  });
  afterAll(async () => unet?.release());

  async function generate(c: Omit<(typeof CASES)[number], 'run'> & { run: string }): Promise<GenerateResult> {
    const key = `${c.folder}/${c.run}/${JSON.stringify(c.tgate)}`;
    if (results.has(key)) return results.get(key)!;
    const dir = path.join(REF, c.folder);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    const r = await unet.generate({
      ...referenceInputs(dir, index, [1, 4, 32, 32], [1, 77, 32]),
      steps: 25,
      gateStep: c.gateStep,
      tgate: c.tgate,
      guidance: 7.5,
      scheduler: c.scheduler,
      keepTrajectory: true,
    });
    results.set(key, r);
    return r;
  }

  it.each(CASES)('$folder $run: every step and the final latents within 1e-5 relative L2', async (c) => {
    const r = await generate(c);
    expectTrajectory(r, path.join(REF, c.folder, c.run), 4 * 32 * 32);
    expect(r.records.filter((x) => x.batch === 2)).toHaveLength(Math.min(c.gateStep, 25));
  });

  // tgate_sa_off is the official code at sp_interval 1, warm_up 0: it stores self-attention every
  // step and never reuses it, which the next test shows is v1 bit for bit.
  const SP1: TgateOptions = { version: 2, spInterval: 1, warmUp: 0, fiInterval: 1 };

  it.each(CASES.filter((c) => c.run !== 'baseline'))('$folder $run: each step does with self- and cross-attention what the official code did', async (c) => {
    const r = await generate(c.run === 'tgate_sa_off' ? { ...c, run: 'v2-sp1', tgate: SP1 } : c);
    const index = JSON.parse(fs.readFileSync(path.join(REF, c.folder, 'index.json'), 'utf8'));
    const official = (a: Record<string, number>) => (a.reuse ? 'reuse' : a.store || a.store_avg ? 'store' : 'compute');
    const steps = index.runs[c.run].steps as { attn_actions: { attn1: Record<string, number>; attn2: Record<string, number> } }[];
    expect(r.records.map((x) => x.self)).toEqual(steps.map((s) => official(s.attn_actions.attn1)));
    expect(r.records.map((x) => x.cross)).toEqual(steps.map((s) => official(s.attn_actions.attn2)));
  });

  it('v2 with the official defaults reuses self-attention at steps 3, 4, 6, 7, 8 through the reuse-self variant', async () => {
    const r = await generate(CASES[2]!);
    expect(r.records.filter((x) => x.variant === 'reuse-self').map((x) => x.k)).toEqual([3, 4, 6, 7, 8]);
    expect(r.records.filter((x) => x.variant === 'fidelity').map((x) => x.k)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
  });

  it('v2 with sp_interval 1 and warm_up 0 equals v1 bit for bit', async () => {
    for (const folder of ['ddim', 'dpm'] as const) {
      const v1 = CASES.find((c) => c.folder === folder && c.run === 'tgate_sa_off')!;
      const same = await generate({ ...v1, run: 'v2-sp1', tgate: SP1 });
      const ref = await generate(v1);
      expect(same.records.every((x) => x.self !== 'reuse')).toBe(true);
      expect(Buffer.from(same.latents.buffer).equals(Buffer.from(ref.latents.buffer))).toBe(true);
    }
  });

  it.each(CASES.filter((c) => c.run !== 'baseline'))('$folder $run: the gate-step caches equal the official ca_cache', async (c) => {
    const r = await generate(c);
    const cacheDir = path.join(REF, c.folder, c.run, 'ca_cache');
    const files = fs.readdirSync(cacheDir);
    expect(files).toHaveLength(6);
    for (const site of unet.manifest.sites.filter((s) => s.kind === 'cross')) {
      const module = site.scope!.slice(1).replace(/\//g, '.');
      expect(relL2(r.caches[site.id]!, readF32(path.join(cacheDir, `${module}.bin`)))).toBeLessThan(1e-5);
    }
  });

  it('TGATE v1 and v2 differ from the baseline by what the official code measured', async () => {
    const base = await generate(CASES[0]!);
    const index = JSON.parse(fs.readFileSync(path.join(REF, 'ddim/index.json'), 'utf8'));
    expect(relL2((await generate(CASES[1]!)).latents, base.latents)).toBeCloseTo(index.comparisons.tgate_sa_off_vs_baseline_final_rel_l2, 4);
    expect(relL2((await generate(CASES[2]!)).latents, base.latents)).toBeCloseTo(index.comparisons.tgate_vs_baseline_final_rel_l2, 4);
  });
});
