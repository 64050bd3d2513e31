// The sampler reproduces the official DeepCache helper and the official TGATE + DeepCache loader
// on the compiled sd15-tiny fixture (../shared/fixtures/tgate-ref/sd15-tiny/deepcache-*): every
// step's latents and model outputs and the final latents within 1e-5 relative L2, the plan of
// full and shallow steps (and the batch) as recorded, and the gate-step caches of the combination.
// (tests/deepcache-cut.test.ts checks the cut's values against the official cached feature.)
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedUNet, type GenerateResult, type TgateOptions } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { FIXTURES, readF32, scratch, sharedAvailable } from './helpers/paths.js';
import { expectTrajectory, referenceInputs, relL2 } from './helpers/reference-runs.js';

const have = sharedAvailable('the official DeepCache trajectories');
const REF = path.join(FIXTURES, 'tgate-ref/sd15-tiny');

const dc = (interval: number): TgateOptions['deepcache'] => ({ interval, branch: 0, schedule: 'uniform' });
const CASES = [
  { folder: 'deepcache-ddim', scheduler: 'ddim', run: 'deepcache', gateStep: 25, tgate: { version: 1, deepcache: dc(3) } },
  { folder: 'deepcache-ddim', scheduler: 'ddim', run: 'deepcache_n5', gateStep: 25, tgate: { version: 1, deepcache: dc(5) } },
  { folder: 'deepcache-ddim', scheduler: 'ddim', run: 'tgate_deepcache', gateStep: 10, tgate: { version: 1, deepcache: dc(3) } },
  { folder: 'deepcache-ddim', scheduler: 'ddim', run: 'baseline', gateStep: 25, tgate: { version: 1 } },
  { folder: 'deepcache-dpm', scheduler: 'dpmpp-2m', run: 'deepcache', gateStep: 25, tgate: { version: 1, deepcache: dc(3) } },
  { folder: 'deepcache-dpm', scheduler: 'dpmpp-2m', run: 'tgate_deepcache', gateStep: 10, tgate: { version: 1, deepcache: dc(3) } },
] as { folder: string; scheduler: string; run: string; gateStep: number; tgate: TgateOptions }[];

(have ? describe : describe.skip)('official DeepCache and TGATE + DeepCache trajectories (sd15-tiny)', () => {
  let unet: GatedUNet;
  const results = new Map<string, GenerateResult>();
  beforeAll(async () => {
    const out = path.join(scratch(), 'sd15-deepcache');
    await compile(path.join(FIXTURES, 'sd15-tiny/model.onnx'), { outDir: out, prover: (r) => proveArtifacts(r) });
    unet = await GatedUNet.load(out, { variants: ['planning', 'shallow', 'fidelity', 'shallow-fidelity'] });
  });
  afterAll(async () => unet?.release());

  const index = (folder: string) => JSON.parse(fs.readFileSync(path.join(REF, folder, 'index.json'), 'utf8'));

  async function generate(c: (typeof CASES)[number]): Promise<GenerateResult> {
    const key = `${c.folder}/${c.run}`;
    if (results.has(key)) return results.get(key)!;
    const dir = path.join(REF, c.folder);
    const r = await unet.generate({
      ...referenceInputs(dir, index(c.folder), [1, 4, 32, 32], [1, 77, 32]),
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

  it('the compile found the official cut and wrote the shallow variants (92 nodes, as the reference sub-graph)', () => {
    const m = unet.manifest;
    expect(m.deepcache).toMatchObject({ branch: 0, tensor: index('deepcache-ddim').onnx_cut.tensor });
    expect(m.variants.find((v) => v.name === 'shallow')!.nodes).toBe(92);
    expect(unet.sessions).toBe('gated');
  });

  it.each(CASES)('$folder $run: every step and the final latents within 1e-5 relative L2', async (c) => {
    const r = await generate(c);
    expectTrajectory(r, path.join(REF, c.folder, c.run), 4 * 32 * 32);
  });

  it.each(CASES.filter((c) => c.run !== 'baseline'))('$folder $run: full and shallow steps and batches as the official code ran them', async (c) => {
    const r = await generate(c);
    const plan = index(c.folder).runs[c.run].plan as { steps: string; batch?: string };
    expect(r.records.map((x) => (x.deep === 'reuse' ? 's' : 'F')).join('')).toBe(plan.steps);
    if (plan.batch) expect(r.records.map((x) => x.batch).join('')).toBe(plan.batch);
    // Shallow steps run a shallow variant, full steps a full one; no self-attention reuse ever.
    for (const x of r.records) expect(x.variant.startsWith('shallow')).toBe(x.deep === 'reuse');
    expect(r.records.every((x) => x.self !== 'reuse')).toBe(true);
  });

  it('tgate_deepcache equals deepcache up to step 9 and takes the official gate-step caches', async () => {
    const a = await generate(CASES[0]!);
    const b = await generate(CASES[2]!);
    for (let k = 0; k < 9; k++) expect(Buffer.from(a.trajectory[k]!.buffer).equals(Buffer.from(b.trajectory[k]!.buffer))).toBe(true);
    const cacheDir = path.join(REF, 'deepcache-ddim/tgate_deepcache/ca_cache');
    for (const site of unet.manifest.sites.filter((s) => s.kind === 'cross')) {
      const module = site.scope!.slice(1).replace(/\//g, '.');
      expect(relL2(b.caches[site.id]!, readF32(path.join(cacheDir, `${module}.bin`)))).toBeLessThan(1e-5);
    }
  });
});
