// DeepCache where its shallow network holds attention: on the SD-1.5 block structure, branch 0's
// shallow network is conv_in, the time embedding, up_blocks.3's last resnet and transformer block,
// and conv_out. The sampler reproduces the official DeepCache helper, T-GATE (v1 settings) and the
// official TGATE + DeepCache loader on fixtures/models/sd15-struct-tiny (its README says how the
// trajectories were made): every step within 1e-5 relative L2; that block's cross-attention is
// computed on shallow steps before the gate and fed the gate-step cache after it, as the official
// code recorded. Uses only the project's own fixture.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedUNet, type GenerateResult, type TgateOptions } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { ROOT, readF32, scratch } from './helpers/paths.js';
import { expectTrajectory, referenceInputs, relL2 } from './helpers/reference-runs.js';

const FIXTURE = path.join(ROOT, 'fixtures/models/sd15-struct-tiny');
const REF = path.join(FIXTURE, 'deepcache-ddim');
const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8'));
const DC3: TgateOptions['deepcache'] = { interval: 3, branch: 0, schedule: 'uniform' };
const CASES: { run: string; gateStep: number; tgate: TgateOptions }[] = [
  { run: 'baseline', gateStep: 25, tgate: { version: 1 } },
  { run: 'deepcache', gateStep: 25, tgate: { version: 1, deepcache: DC3 } },
  { run: 'tgate_sa_off', gateStep: 10, tgate: { version: 1 } },
  { run: 'tgate_deepcache', gateStep: 10, tgate: { version: 1, deepcache: DC3 } },
];
const N = 4 * 16 * 16;

describe('DeepCache with attention in the shallow network (sd15-struct-tiny, official trajectories)', () => {
  let unet: GatedUNet;
  const results = new Map<string, GenerateResult>();
  beforeAll(async () => {
    const out = path.join(scratch(), 'struct');
    await compile(path.join(FIXTURE, 'model.onnx'), { outDir: out, prover: (r) => proveArtifacts(r) });
    unet = await GatedUNet.load(out, { variants: ['planning', 'shallow', 'fidelity', 'shallow-fidelity'] });
  }, 600_000);
  afterAll(async () => unet?.release());

  async function generate(c: (typeof CASES)[number]): Promise<GenerateResult> {
    if (results.has(c.run)) return results.get(c.run)!;
    const r = await unet.generate({
      ...referenceInputs(REF, index, index.inputs.latents_init.shape, index.inputs.prompt_embeds.shape),
      steps: 25,
      gateStep: c.gateStep,
      tgate: c.tgate,
      guidance: 7.5,
      scheduler: 'ddim',
      keepTrajectory: true,
    });
    results.set(c.run, r);
    return r;
  }

  it('the cut is the official one, and the shallow variants hold the one transformer block of up_blocks.3', () => {
    const m = unet.manifest;
    expect(m.deepcache).toMatchObject({ branch: 0, tensor: index.onnx_cut.tensor, scope: '/up_blocks.3/attentions.1' });
    const cuts = (name: string) => m.variants.find((v) => v.name === name)!.cuts;
    const scope = (id: string) => m.sites.find((s) => s.id === id)!.scope;
    const shallow = cuts('shallow');
    expect(Object.keys(shallow).map(scope).sort()).toEqual([
      '/up_blocks.3/attentions.1',
      '/up_blocks.3/attentions.2/transformer_blocks.0/attn1',
      '/up_blocks.3/attentions.2/transformer_blocks.0/attn2',
    ]);
    // Before the gate its cross-attention is computed; after it, fed the gate-step cache.
    const cross = Object.keys(shallow).find((id) => id.startsWith('cross.'))!;
    expect(shallow[cross]).toBe('output');
    expect(cuts('shallow-fidelity')[cross]).toBe('input');
    expect(m.variants.find((v) => v.name === 'shallow-fidelity')!.removedInputs).toEqual(['encoder_hidden_states']);
    expect(m.variants.find((v) => v.name === 'shallow')!.removedInputs).toEqual([]);
  });

  it.each(CASES)('$run: every step and the final latents within 1e-5 relative L2', async (c) => {
    const r = await generate(c);
    expectTrajectory(r, path.join(REF, c.run), N);
    const plan = index.runs[c.run].plan as { steps: string; batch: string };
    expect(r.records.map((x) => (x.deep === 'reuse' ? 's' : 'F')).join('')).toBe(plan.steps);
    expect(r.records.map((x) => x.batch).join('')).toBe(plan.batch);
  });

  it('tgate_deepcache: shallow steps after the gate run shallow-fidelity (cross-attention from the cache), and the gate-step caches are the official ones', async () => {
    const r = await generate(CASES[3]!);
    const after = r.records.filter((x) => x.k >= 10 && x.deep === 'reuse');
    expect(after.length).toBe(10);
    expect(after.every((x) => x.variant === 'shallow-fidelity' && x.cross === 'reuse')).toBe(true);
    expect(r.records.filter((x) => x.k < 9 && x.deep === 'reuse').every((x) => x.variant === 'shallow' && x.cross === 'compute')).toBe(true);
    const cacheDir = path.join(REF, 'tgate_deepcache/ca_cache');
    const crossSites = unet.manifest.sites.filter((s) => s.kind === 'cross');
    expect(fs.readdirSync(cacheDir)).toHaveLength(crossSites.length);
    for (const site of crossSites) {
      const module = site.scope!.slice(1).replace(/\//g, '.');
      expect(relL2(r.caches[site.id]!, readF32(path.join(cacheDir, `${module}.bin`)))).toBeLessThan(1e-5);
    }
  });
});
