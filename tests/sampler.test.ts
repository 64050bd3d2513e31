// The gated sampler on code-built models, checked against independent onnxruntime runs of the
// source and compiled graphs: CFG pairing, gate-step cache averaging, the switch to batch B,
// no-CFG runs, resets between generations, timestep types, learned variance, extra conditioning
// after the gate, guidance embeddings and img2img.
import ort from 'onnxruntime-node';
import path from 'node:path';
import { concatRows, guide, meanOfHalves } from '../runtime/batch-ops.js';
import { GatedUNet, variantsFor, type GenerateOptions, type TensorInput } from '../runtime/gated-unet.js';
import { SeededRandom } from '../runtime/random.js';
import { createScheduler } from '../runtime/schedulers/index.js';
import { openSession } from '../runtime/session.js';
import { compiledTinyUnet } from './helpers/compiled.js';
import { f32, maxAbsDiff } from './helpers/ort.js';

function randn(n: number, seed: number): Float32Array {
  const r = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

function inputs(B: number, seed = 1, extra: Record<string, number[]> = {}): Pick<GenerateOptions, 'latents' | 'cond' | 'uncond'> {
  const t = (dims: number[], s: number): TensorInput => ({
    data: randn(
      dims.reduce((a, b) => a * b, 1),
      s,
    ),
    dims,
  });
  const cond: Record<string, TensorInput> = { encoder_hidden_states: t([B, 5, 12], seed + 1) };
  const uncond: Record<string, TensorInput> = { encoder_hidden_states: t([B, 5, 12], seed + 2) };
  for (const [name, dims] of Object.entries(extra)) {
    cond[name] = t([B, ...dims], seed + 3);
    uncond[name] = t([B, ...dims], seed + 4);
  }
  return { latents: t([B, 4, 8, 8], seed), cond, uncond };
}

/** The plain diffusers loop on the untouched source model: CFG every step. */
async function plainLoop(source: string, o: Pick<GenerateOptions, 'latents' | 'cond' | 'uncond'>, steps: number, guidance: number): Promise<Float32Array> {
  const s = await openSession(source, { threads: 0, optimization: 'extended' });
  const sch = createScheduler('ddim', steps);
  const B = o.latents.dims[0]!;
  let x: Float32Array = Float32Array.from(o.latents.data as Float32Array);
  for (let k = 0; k < steps; k++) {
    const out = await s.run({
      sample: f32(concatRows(x, x), [2 * B, 4, 8, 8]),
      timestep: f32(Float32Array.of(sch.timesteps[k]!), []),
      encoder_hidden_states: f32(concatRows(o.uncond!.encoder_hidden_states!.data as Float32Array, o.cond.encoder_hidden_states!.data as Float32Array), [
        2 * B,
        5,
        12,
      ]),
    });
    x = sch.step(guide(out.out_sample!.data as Float32Array, guidance), k, x);
  }
  await s.release();
  return x;
}

describe('gated sampler', () => {
  let dir: string;
  let source: string;
  let unet: GatedUNet;
  beforeAll(async () => {
    ({ dir, source } = await compiledTinyUnet());
    unet = await GatedUNet.load(dir);
  });
  afterAll(async () => unet.release());

  it('v1 with gateStep >= steps equals the plain CFG loop on the source model exactly; v2 reuses self-attention there', async () => {
    const io = inputs(2);
    const plain = await plainLoop(source, io, 6, 7.5);
    for (const G of [6, 99]) {
      const r = await unet.generate({ ...io, steps: 6, gateStep: G, guidance: 7.5, tgate: { version: 1 } });
      expect(r.records.map((x) => x.variant)).toEqual(Array(6).fill('planning'));
      expect(maxAbsDiff(r.latents, plain)).toBe(0);
    }
    const v2 = await unet.generate({ ...io, steps: 6, gateStep: 99, guidance: 7.5 });
    expect(v2.schedule).toEqual({ version: 2, gateStep: 99, spInterval: 5, fiInterval: 1, warmUp: 2 });
    expect(v2.records.map((x) => x.self)).toEqual(['compute', 'compute', 'store', 'reuse', 'reuse', 'store']);
    expect(maxAbsDiff(v2.latents, plain)).toBeGreaterThan(0);
  });

  it('runs [uncond, cond] pairs before the gate and batch B after, caching the pair mean at G-1', async () => {
    const io = inputs(2, 7);
    const r = await unet.generate({ ...io, steps: 8, gateStep: 3, guidance: 7.5, keepTrajectory: true });
    expect(r.records.map((x) => [x.phase, x.batch])).toEqual([
      ['planning', 4],
      ['planning', 4],
      ['gate', 4],
      ['fidelity', 2],
      ['fidelity', 2],
      ['fidelity', 2],
      ['fidelity', 2],
      ['fidelity', 2],
    ]);
    // Independent replay of the gate step on the planning graph.
    const planning = await openSession(path.join(dir, 'planning.onnx'));
    const x = r.trajectory[1]!;
    const sch = createScheduler('ddim', 8);
    const out = await planning.run({
      sample: f32(concatRows(x, x), [4, 4, 8, 8]),
      timestep: f32(Float32Array.of(sch.timesteps[2]!), []),
      encoder_hidden_states: f32(
        concatRows(io.uncond!.encoder_hidden_states!.data as Float32Array, io.cond.encoder_hidden_states!.data as Float32Array),
        [4, 5, 12],
      ),
    });
    await planning.release();
    for (const c of unet.roles.cross) {
      const full = out[c.tensor]!.data as Float32Array;
      expect(maxAbsDiff(r.caches[c.id]!, meanOfHalves(full))).toBe(0);
      // Per sample: row b of the cache is the mean of rows b and B+b, not a mix across samples.
      const perRow = full.length / 4;
      expect(r.caches[c.id]![perRow + 3]).toBeCloseTo((full[perRow + 3]! + full[3 * perRow + 3]!) / 2, 6);
    }
    // The first fidelity step: fidelity graph at batch B with the caches, output used unguided.
    const fidelity = await openSession(path.join(dir, 'fidelity.onnx'));
    const feeds: Record<string, ort.Tensor> = { sample: f32(r.trajectory[2]!, [2, 4, 8, 8]), timestep: f32(Float32Array.of(sch.timesteps[3]!), []) };
    for (const c of unet.roles.cross) feeds[c.tensor] = f32(r.caches[c.id]!, [2, 16, 16]);
    const fid = await fidelity.run(feeds);
    await fidelity.release();
    expect(maxAbsDiff(r.modelOutputs[3]!, fid.out_sample!.data as Float32Array)).toBe(0);
  });

  it('without CFG (guidance 1) runs batch B throughout and never splits a batch of one', async () => {
    const io = inputs(1, 11);
    const r = await unet.generate({ latents: io.latents, cond: io.cond, steps: 5, gateStep: 2, guidance: 1 });
    expect(r.cfg).toBe(false);
    expect(r.records.map((x) => x.batch)).toEqual([1, 1, 1, 1, 1]);
    for (const c of unet.roles.cross) expect(r.caches[c.id]!.length).toBe(16 * 16);
  });

  it('resets between generations: repeated runs agree, and a baseline after a gated run equals a fresh one', async () => {
    const io = inputs(1, 21);
    const base1 = await unet.generate({ ...io, steps: 6, gateStep: 6, guidance: 5 });
    const g1 = await unet.generate({ ...io, steps: 6, gateStep: 2, guidance: 5 });
    const g2 = await unet.generate({ ...io, steps: 6, gateStep: 2, guidance: 5 });
    const base2 = await unet.generate({ ...io, steps: 6, gateStep: 6, guidance: 5 });
    expect(maxAbsDiff(g1.latents, g2.latents)).toBe(0);
    expect(maxAbsDiff(base1.latents, base2.latents)).toBe(0);
    expect(maxAbsDiff(g1.latents, base1.latents)).toBeGreaterThan(0);
    const other = await unet.generate({ ...inputs(1, 99), steps: 6, gateStep: 2, guidance: 5 });
    expect(maxAbsDiff(other.latents, g1.latents)).toBeGreaterThan(0);
  });

  it('img2img: strength runs the tail of the schedule and counts the gate within it', async () => {
    const io = inputs(1, 31);
    const image = { data: randn(256, 5), dims: [1, 4, 8, 8] };
    const r = await unet.generate({ ...io, image, strength: 0.6, steps: 10, gateStep: 3, guidance: 7.5 });
    const ts = createScheduler('ddim', 10).timesteps;
    expect(r.records.map((x) => x.t)).toEqual(ts.slice(4));
    expect(r.records.map((x) => x.phase)).toEqual(['planning', 'planning', 'gate', 'fidelity', 'fidelity', 'fidelity']);
  });

  it('the gated model (one session) and a session per variant give identical results, v1 and v2', async () => {
    expect(unet.sessions).toBe('gated');
    expect(unet.opened).toEqual(['planning', 'reuse-self', 'fidelity']);
    const pair = await GatedUNet.load(dir, { sessions: 'separate' });
    expect(pair.sessions).toBe('separate');
    expect(pair.opened).toEqual(['planning', 'reuse-self', 'fidelity']);
    for (const [guidance, G, version] of [
      [7.5, 3, 1],
      [1, 2, 1],
      [7.5, 5, 2],
      [1, 5, 2],
    ] as const) {
      const io = inputs(2, 77);
      const a = await unet.generate({ ...io, steps: 7, gateStep: G, guidance, scheduler: 'euler', tgate: { version } });
      const b = await pair.generate({ ...io, steps: 7, gateStep: G, guidance, scheduler: 'euler', tgate: { version } });
      expect(a.records.some((x) => x.variant === 'reuse-self')).toBe(version === 2);
      expect(maxAbsDiff(a.latents, b.latents)).toBe(0);
      for (const c of unet.roles.cross) expect(maxAbsDiff(a.caches[c.id]!, b.caches[c.id]!)).toBe(0);
    }
    await pair.release();
  });

  it('a folder compiled by an older tgate is refused with the fix', async () => {
    const fs = await import('node:fs');
    const old = path.join(path.dirname(dir), 'old');
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(path.join(old, 'tgate.json'), JSON.stringify({ format: 'tgate/1' }));
    await expect(GatedUNet.load(old)).rejects.toMatchObject({
      code: 'E_UNSUPPORTED_MODEL',
      message: expect.stringMatching(/this tgate reads tgate\/3/),
      hint: expect.stringMatching(/Recompile/),
    });
    fs.writeFileSync(path.join(old, 'tgate.json'), JSON.stringify({ format: 'tgate/3', sites: [] }));
    await expect(GatedUNet.load(old)).rejects.toMatchObject({
      code: 'E_BAD_MANIFEST',
      message: expect.stringMatching(/source: expected an object, got nothing \(the field is missing\)/),
    });
    fs.writeFileSync(path.join(old, 'tgate.json'), '{"format": "tgate/3",');
    await expect(GatedUNet.load(old)).rejects.toMatchObject({ code: 'E_BAD_MANIFEST', message: expect.stringMatching(/tgate\.json is not valid JSON/) });
  });

  it('opens only the variants a schedule uses, and says which are missing when a run needs more', async () => {
    const v1 = await GatedUNet.load(dir, { variants: variantsFor(unet.manifest, 8, 3, { version: 1 }) });
    expect(v1.opened).toEqual(['planning', 'fidelity']);
    const io = inputs(1, 3);
    await expect(v1.generate({ ...io, steps: 8, gateStep: 6, guidance: 7.5 })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/runs the reuse-self variant\(s\), which this GatedUNet did not open/),
    });
    expect((await v1.generate({ ...io, steps: 8, gateStep: 3, guidance: 7.5, tgate: { version: 1 } })).records).toHaveLength(8);
    await v1.release();
    expect(variantsFor(unet.manifest, 25, 10, { fiInterval: 2 })).toEqual(['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self']);
    const all = await GatedUNet.load(dir, { variants: ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] });
    expect(all.opened).toHaveLength(4);
    await all.release();
  });

  it('refuses CFG without uncond inputs, naming the input', async () => {
    const io = inputs(1);
    await expect(unet.generate({ latents: io.latents, cond: io.cond, steps: 3, gateStep: 1, guidance: 7.5 })).rejects.toThrow(
      /Missing uncond input "encoder_hidden_states"/,
    );
  });
});

describe('gated sampler on model variants', () => {
  it('a static-shape export (batch fixed at 2) runs the fidelity phase at its fixed batch and gives the dynamic result', async () => {
    const { dir: staticDir } = await compiledTinyUnet({ staticShape: { batch: 2, height: 8, width: 8, sequence: 5 } });
    const { dir: dynamicDir } = await compiledTinyUnet();
    const st = await GatedUNet.load(staticDir);
    const dyn = await GatedUNet.load(dynamicDir);
    expect(st.manifest.sites.find((s) => s.id === 'cross.0')!.shape).toEqual([2, 16, 16]);
    const io = inputs(1, 123);
    const a = await st.generate({ ...io, steps: 5, gateStep: 2, guidance: 7.5 });
    const b = await dyn.generate({ ...io, steps: 5, gateStep: 2, guidance: 7.5 });
    expect(maxAbsDiff(a.latents, b.latents)).toBeLessThan(1e-5);
    expect(a.records.map((x) => x.batch)).toEqual([2, 2, 1, 1, 1]);
    await st.release();
    await dyn.release();
    // v2 with every variant: self caches stored at the fixed batch and at batch 1 (then repeated).
    const all = ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] as const;
    const st2 = await GatedUNet.load(staticDir, { variants: [...all] });
    const dyn2 = await GatedUNet.load(dynamicDir, { variants: [...all] });
    const v2 = { steps: 8, gateStep: 5, guidance: 7.5, tgate: { version: 2 as const, spInterval: 2, warmUp: 1, fiInterval: 2 } };
    const c = await st2.generate({ ...io, ...v2 });
    const d = await dyn2.generate({ ...io, ...v2 });
    expect(c.records.map((x) => x.variant)).toEqual([
      'planning',
      'planning',
      'planning',
      'reuse-self',
      'planning',
      'fidelity-reuse-self',
      'fidelity',
      'fidelity-reuse-self',
    ]);
    expect(maxAbsDiff(c.latents, d.latents)).toBeLessThan(1e-5);
    await dyn2.release();
    await expect(st2.generate({ ...inputs(2, 1), steps: 2, gateStep: 1, guidance: 7.5 })).rejects.toThrow(/fixed batch of 2; batch 4 does not divide it/);
    await st2.release();
  });

  it('with one cross site left uncached, the fidelity phase feeds it the uncond text', async () => {
    const work = (await import('./helpers/paths.js')).scratch();
    const { writeTinyUnet } = await import('./helpers/models.js');
    const { compile } = await import('../build/compile.js');
    const source = writeTinyUnet(path.join(work, 'src'));
    const dir = path.join(work, 'out');
    await compile(source, { outDir: dir, prover: null, sites: { exclude: ['cross.1'] } });
    const unet = await GatedUNet.load(dir);
    expect(unet.roles.cross.map((c) => c.id)).toEqual(['cross.0']);
    expect(unet.roles.conditioning).toEqual(['encoder_hidden_states']);
    const io = inputs(1, 88);
    const r = await unet.generate({ ...io, steps: 4, gateStep: 2, guidance: 7.5, keepTrajectory: true });
    const fidelity = await openSession(path.join(dir, 'fidelity.onnx'));
    const feeds: Record<string, ort.Tensor> = {
      sample: f32(r.trajectory[1]!, [1, 4, 8, 8]),
      timestep: f32(Float32Array.of(createScheduler('ddim', 4).timesteps[2]!), []),
      encoder_hidden_states: f32(io.uncond!.encoder_hidden_states!.data as Float32Array, [1, 5, 12]),
      [unet.roles.cross[0]!.tensor]: f32(r.caches['cross.0']!, [1, 16, 16]),
    };
    expect(maxAbsDiff(r.modelOutputs[2]!, (await fidelity.run(feeds)).out_sample!.data as Float32Array)).toBe(0);
    await fidelity.release();
    await unet.release();
  });

  it('feeds an int64 [batch] timestep as the model declares it', async () => {
    const { dir } = await compiledTinyUnet({ timestep: 'int64-batch' });
    const unet = await GatedUNet.load(dir);
    expect(unet.roles.timestep).toMatchObject({ dtype: 'int64', shape: ['batch_size'] });
    const r = await unet.generate({ ...inputs(2), steps: 4, gateStep: 2, guidance: 7.5 });
    expect(r.latents.every(Number.isFinite)).toBe(true);
    await unet.release();
  });

  it('learned variance: guidance on all 8 channels, then the first 4 are the noise', async () => {
    const { dir } = await compiledTinyUnet({ outChannels: 8 });
    const unet = await GatedUNet.load(dir);
    const io = inputs(1, 41);
    const r = await unet.generate({ ...io, steps: 3, gateStep: 3, guidance: 4.5, keepTrajectory: true });
    expect(r.dims).toEqual([1, 4, 8, 8]);
    const planning = await openSession(path.join(dir, 'planning.onnx'));
    const x = io.latents.data as Float32Array;
    const out = await planning.run(
      {
        sample: f32(concatRows(x, x), [2, 4, 8, 8]),
        timestep: f32(Float32Array.of(createScheduler('ddim', 3).timesteps[0]!), []),
        encoder_hidden_states: f32(
          concatRows(io.uncond!.encoder_hidden_states!.data as Float32Array, io.cond.encoder_hidden_states!.data as Float32Array),
          [2, 5, 12],
        ),
      },
      ['out_sample'],
    );
    await planning.release();
    const guided = guide(out.out_sample!.data as Float32Array, 4.5);
    expect(maxAbsDiff(r.modelOutputs[0]!, guided.subarray(0, 4 * 64))).toBe(0);
    await unet.release();
  });

  it('extra conditioning (SD-XL text_embeds) is paired before the gate and takes its uncond value after', async () => {
    const { dir } = await compiledTinyUnet({ extraConditioning: true });
    const unet = await GatedUNet.load(dir);
    expect(unet.roles.conditioning).toEqual(['text_embeds']);
    const io = inputs(1, 51, { text_embeds: [6] });
    const r = await unet.generate({ ...io, steps: 4, gateStep: 2, guidance: 7.5, keepTrajectory: true });
    // The sampler opened several variants, so without pre-packing (GatedUNet.load): the same kernels here, for the same bits.
    const fidelity = await openSession(path.join(dir, 'fidelity.onnx'), { prepacking: false });
    const run = async (te: TensorInput) => {
      const feeds: Record<string, ort.Tensor> = {
        sample: f32(r.trajectory[1]!, [1, 4, 8, 8]),
        timestep: f32(Float32Array.of(createScheduler('ddim', 4).timesteps[2]!), []),
        text_embeds: f32(te.data as Float32Array, te.dims),
      };
      for (const c of unet.roles.cross) feeds[c.tensor] = f32(r.caches[c.id]!, [1, 16, 16]);
      return (await fidelity.run(feeds)).out_sample!.data as Float32Array;
    };
    expect(maxAbsDiff(r.modelOutputs[2]!, await run(io.uncond!.text_embeds!))).toBe(0);
    expect(maxAbsDiff(r.modelOutputs[2]!, await run(io.cond.text_embeds!))).toBeGreaterThan(1e-4);
    await fidelity.release();
    await unet.release();
  });

  it('a guidance embedding (LCM timestep_cond) switches CFG off', async () => {
    const { dir } = await compiledTinyUnet({ guidanceEmbedding: true });
    const unet = await GatedUNet.load(dir);
    expect(unet.roles.guidanceEmbedding).toEqual(['timestep_cond']);
    // The LCM family: gate at step 1, no self-attention reuse, no CFG (the official LCM defaults).
    expect(unet.manifest.family.name).toBe('lcm');
    expect(unet.manifest.schedule).toEqual({ gateStep: 1, spInterval: 1, fiInterval: 1, warmUp: 0, guidance: 1 });
    const io = inputs(1, 61, { timestep_cond: [4] });
    const r = await unet.generate({ latents: io.latents, cond: io.cond, steps: 4, guidance: 8 });
    expect(r.cfg).toBe(false);
    expect(r.records.map((x) => [x.phase, x.batch, x.variant])).toEqual([
      ['gate', 1, 'planning'],
      ['fidelity', 1, 'fidelity'],
      ['fidelity', 1, 'fidelity'],
      ['fidelity', 1, 'fidelity'],
    ]);
    await unet.release();
  });
});
