// compile end to end on models built in code (no ../shared needed): the artifacts, the shared
// weights file, the proof, determinism, external-data sources, and every kind of bad input.
import { variantOf } from '../build/manifest.js';
import { jest } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import { decodeModel, parseModelProto } from '../io/decode.js';
import { EXTERNAL_MIN_BYTES, WEIGHTS_ALIGNMENT } from '../io/external-data.js';
import type { Model } from '../ir/model.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { makeFeeds } from '../runtime/prove.js';
import { proveArtifacts } from '../runtime/prove.js';
import { data, maxAbsDiff, runOnce } from './helpers/ort.js';
import { writeTinyUnet, writeWithExternalData } from './helpers/models.js';
import { folderDigest, scratch, sha256 } from './helpers/paths.js';

function graphOf(dir: string, file: string): Model {
  return decodeModel(fs.readFileSync(path.join(dir, file)), file);
}

async function compileTo(src: string, out: string, extra: { force?: boolean } = {}): Promise<CompileResult> {
  return compile(src, { outDir: out, prover: (r) => proveArtifacts(r), ...extra });
}

describe('compile (embedded weights)', () => {
  const work = scratch();
  const src = writeTinyUnet(path.join(work, 'src'));
  const out = path.join(work, 'out');
  let result: CompileResult;
  beforeAll(async () => {
    result = await compileTo(src, out);
  });

  it('writes exactly the two graphs, the gated model, one weights file and the manifest', () => {
    expect(fs.readdirSync(out).sort()).toEqual([
      'fidelity-reuse-self.onnx',
      'fidelity.onnx',
      'gated-v2-fi.onnx',
      'gated-v2.onnx',
      'gated.onnx',
      'planning.onnx',
      'reuse-self.onnx',
      'tgate.json',
      'weights.onnx_data',
    ]);
    expect(fs.readdirSync(work).sort()).toEqual(['out', 'src']);
  });

  it('the manifest describes sources, graphs, sites and the proof', () => {
    const m = JSON.parse(fs.readFileSync(path.join(out, 'tgate.json'), 'utf8'));
    expect(m.format).toBe('tgate/3');
    expect(m.source).toMatchObject({ file: 'model.onnx', sha256: sha256(fs.readFileSync(src)), opset: 17 });
    expect(m.variants.map((v: { name: string; file: string }) => [v.name, v.file])).toEqual([
      ['planning', 'planning.onnx'],
      ['reuse-self', 'reuse-self.onnx'],
      ['fidelity', 'fidelity.onnx'],
      ['fidelity-reuse-self', 'fidelity-reuse-self.onnx'],
    ]);
    expect(m.gated[0]).toEqual({
      file: 'gated.onnx',
      variants: [
        {
          name: 'planning',
          flag: 'tgate.run.planning',
          output: 'tgate.planning.out_sample',
          siteOutputs: Object.fromEntries(['self.0', 'cross.0', 'self.1', 'cross.1'].map((id) => [id, `tgate.planning.cache_out.${id}`])),
        },
        {
          name: 'fidelity',
          flag: 'tgate.run.fidelity',
          output: 'tgate.fidelity.out_sample',
          siteOutputs: { 'self.0': 'tgate.fidelity.cache_out.self.0', 'self.1': 'tgate.fidelity.cache_out.self.1' },
        },
      ],
    });
    expect(m.family.name).toBe('sd');
    expect(m.schedule).toEqual({ gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2, guidance: 7.5 });
    expect(m.weights).toBe('weights.onnx_data');
    expect(m.sites).toHaveLength(4);
    const cross = m.sites.find((s: { id: string }) => s.id === 'cross.0');
    expect(cross).toEqual({
      id: 'cross.0',
      kind: 'cross',
      scope: '/transformer_blocks.0/attn2',
      tensor: cross.tensor,
      cached: true,
      reason: 'cross-attention: cached at the gate step',
      note: null,
      planningOutput: cross.tensor,
      fidelityInput: cross.tensor,
      reuseInput: null,
      gatedInput: 'tgate.cache.cross.0',
      dtype: 'float32',
      shape: ['batch_size', 'height/2*width/2', 16],
    });
    const self = m.sites.find((s: { id: string }) => s.id === 'self.0');
    expect(self.planningOutput).toBe(self.tensor);
    expect(self.reuseInput).toBe(self.tensor);
    expect(self.fidelityInput).toBeNull();
    expect(variantOf(m, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    expect(m.verification).toMatchObject({ skipped: false, planningBitExact: true, shapesConfirmed: true, gatedBitExact: true });
    expect(m.verification.fidelityMaxAbsError).toBeLessThanOrEqual(m.verification.tolerance);
    expect(result.manifest).toEqual(m);
  });

  it('both graphs reference one aligned weights file and store no weight twice', () => {
    const planning = graphOf(out, 'planning.onnx');
    const fidelity = graphOf(out, 'fidelity.onnx');
    const refs = (m: Model) => new Map(m.graph.initializers.map((v) => [v.name, v.constant!.external]));
    const p = refs(planning);
    const f = refs(fidelity);
    const source = decodeModel(fs.readFileSync(src), 'model.onnx');
    let external = 0;
    for (const [name, ref] of p) {
      const bytes = source.graph.value(name)!.constant!.raw()?.length ?? 0;
      // Weights go to the shared file; tensors under 1 KiB (shapes, scalars) stay in the graphs.
      if (bytes < EXTERNAL_MIN_BYTES) {
        expect(ref).toBeNull();
        continue;
      }
      external++;
      expect(ref).not.toBeNull();
      expect(ref!.location).toBe('weights.onnx_data');
      expect(ref!.offset % WEIGHTS_ALIGNMENT).toBe(0);
      expect(ref!.length).toBe(bytes);
      expect(planning.graph.value(name)!.constant!.raw()).toBeUndefined();
    }
    expect(external).toBeGreaterThanOrEqual(15);
    for (const [name, ref] of f) expect(ref).toEqual(p.get(name));
    expect(f.size).toBeLessThan(p.size);
    const size = fs.statSync(path.join(out, 'weights.onnx_data')).size;
    const end = Math.max(...[...p.values()].filter((r) => r).map((r) => r!.offset + r!.length!));
    expect(size).toBe(end);
  });

  it('the gated models: an If node per variant, side by side, the same weight references, tgate.* inputs', () => {
    const gated = graphOf(out, 'gated.onnx');
    const planning = graphOf(out, 'planning.onnx');
    expect(gated.graph.nodes.map((n) => `${n.opType}(${n.inputs.map((v) => v?.name).join(',')})`)).toEqual([
      'If(tgate.run.planning)',
      'If(tgate.run.fidelity)',
    ]);
    const fidelity = graphOf(out, 'fidelity.onnx');
    // then = the variant's own nodes; else = an empty tensor per output.
    const gatedProto = parseModelProto(fs.readFileSync(path.join(out, 'gated.onnx')), 'gated.onnx');
    const branches = gatedProto.graph!.node.map((n) => n.attribute.map((a) => [a.name, a.g!.node.length]));
    expect(branches).toEqual([
      [
        ['then_branch', planning.graph.nodes.length],
        ['else_branch', 5],
      ],
      [
        ['then_branch', fidelity.graph.nodes.length],
        ['else_branch', 3],
      ],
    ]);
    const refs = (m: Model) => m.graph.initializers.map((v) => [v.name, v.constant!.external]);
    expect(refs(gated)).toEqual(refs(planning));
    const caches = ['self.0', 'cross.0', 'self.1', 'cross.1'];
    expect(gated.graph.inputs.map((v) => v.name)).toEqual([
      'sample',
      'timestep',
      'encoder_hidden_states',
      'tgate.cache.cross.0',
      'tgate.cache.cross.1',
      'tgate.run.planning',
      'tgate.run.fidelity',
    ]);
    expect(gated.graph.outputs.map((v) => v.name)).toEqual([
      'tgate.planning.out_sample',
      ...caches.map((c) => `tgate.planning.cache_out.${c}`),
      'tgate.fidelity.out_sample',
      'tgate.fidelity.cache_out.self.0',
      'tgate.fidelity.cache_out.self.1',
    ]);
    const v2 = graphOf(out, 'gated-v2-fi.onnx');
    expect(v2.graph.inputs.map((v) => v.name)).toEqual([
      'sample',
      'timestep',
      'encoder_hidden_states',
      ...caches.map((c) => `tgate.cache.${c}`),
      ...['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'].map((v) => `tgate.run.${v}`),
    ]);
    expect(refs(v2)).toEqual(refs(planning));
    // The If node reads the outer inputs its branches use: every weight stays referenced once.
    expect(gated.graph.nodes[0]!.implicitInputs.length).toBeGreaterThan(gated.graph.initializers.length);
    expect(gated.graph.nodes[1]!.implicitInputs.length).toBeLessThan(gated.graph.nodes[0]!.implicitInputs.length);
  });

  it('planning = source plus site outputs; fidelity has no text input and fewer nodes', () => {
    const planning = graphOf(out, 'planning.onnx');
    const fidelity = graphOf(out, 'fidelity.onnx');
    const source = decodeModel(fs.readFileSync(src), 'model.onnx');
    expect(planning.graph.nodes.length).toBe(source.graph.nodes.length);
    expect(planning.graph.outputs.map((v) => v.name)).toEqual(['out_sample', ...result.manifest.sites.map((s) => s.tensor)]);
    expect(fidelity.graph.inputs.map((v) => v.name)).not.toContain('encoder_hidden_states');
    expect(fidelity.graph.inputs.map((v) => v.name).slice(0, 2)).toEqual(['sample', 'timestep']);
    expect(fidelity.graph.nodes.length).toBeLessThan(source.graph.nodes.length);
    expect(fidelity.graph.nodes.some((n) => n.opType === 'Softmax' && n.declaredName.includes('attn2'))).toBe(false);
    expect(fidelity.graph.nodes.filter((n) => n.opType === 'Softmax')).toHaveLength(2);
  });

  it('proven independently at other sizes: fidelity fed planning caches equals the source (batch 1, 6x10 latent)', async () => {
    const inputs = result.manifest.source.inputs.map((i) => ({ ...i, shape: i.shape.map((d) => (d === '?' ? null : d)) }));
    const feeds = makeFeeds(inputs, { batch_size: 1, height: 6, width: 10, sequence_length: 3 }, 99);
    const source = await runOnce(src, feeds);
    const planned = await runOnce(path.join(out, 'planning.onnx'), feeds);
    expect(maxAbsDiff(data(planned.out_sample), data(source.out_sample))).toBe(0);
    const fFeeds = { sample: feeds.sample!, timestep: feeds.timestep! };
    for (const s of result.manifest.sites.filter((x) => x.kind === 'cross')) {
      expect(planned[s.planningOutput!]!.dims).toEqual([1, 15, 16]);
      Object.assign(fFeeds, { [s.fidelityInput!]: planned[s.planningOutput!]! });
    }
    const fid = await runOnce(path.join(out, 'fidelity.onnx'), fFeeds);
    expect(maxAbsDiff(data(fid.out_sample), data(source.out_sample))).toBeLessThan(1e-5);
  });

  it('caching a different cross-attention output changes the fidelity result (the cut is live)', async () => {
    const feeds = makeFeeds(
      result.manifest.source.inputs.map((i) => ({ ...i, shape: i.shape })),
      { batch_size: 1, height: 4, width: 4, sequence_length: 3 },
      5,
    );
    const planned = await runOnce(path.join(out, 'planning.onnx'), feeds);
    const cross = result.manifest.sites.filter((x) => x.kind === 'cross');
    const fFeeds: Record<string, (typeof planned)[string]> = { sample: feeds.sample!, timestep: feeds.timestep! };
    for (const s of cross) fFeeds[s.fidelityInput!] = planned[s.planningOutput!]!;
    const same = await runOnce(path.join(out, 'fidelity.onnx'), fFeeds);
    const { f32 } = await import('./helpers/ort.js');
    const zeroed = { ...fFeeds, [cross[0]!.fidelityInput!]: f32(new Float32Array(data(planned[cross[0]!.planningOutput!]).length), [1, 4, 16]) };
    const changed = await runOnce(path.join(out, 'fidelity.onnx'), zeroed);
    expect(maxAbsDiff(data(changed.out_sample), data(same.out_sample))).toBeGreaterThan(1e-3);
  });

  it('the same input gives byte-identical artifacts', async () => {
    const again = path.join(work, 'again');
    await compileTo(src, again);
    expect(folderDigest(again)).toEqual(folderDigest(out));
    fs.rmSync(again, { recursive: true });
  });
});

describe('compile (external-data source)', () => {
  it('links the data file, never rewrites it, and proves the graphs', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'model.onnx_data');
    const data0 = sha256(fs.readFileSync(path.join(work, 'src/model.onnx_data')));
    const out = path.join(work, 'out');
    const r = await compileTo(src, out);
    expect(r.weights.mode).toBe('linked');
    expect(r.manifest.weights).toBe('model.onnx_data');
    expect(fs.statSync(path.join(out, 'model.onnx_data')).ino).toBe(fs.statSync(path.join(work, 'src/model.onnx_data')).ino);
    expect(sha256(fs.readFileSync(path.join(work, 'src/model.onnx_data')))).toBe(data0);
    expect(fs.readdirSync(out).sort()).toEqual([
      'fidelity-reuse-self.onnx',
      'fidelity.onnx',
      'gated-v2-fi.onnx',
      'gated-v2.onnx',
      'gated.onnx',
      'model.onnx_data',
      'planning.onnx',
      'reuse-self.onnx',
      'tgate.json',
    ]);
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true });
    const planning = graphOf(out, 'planning.onnx');
    expect(planning.graph.initializers.filter((v) => v.constant!.external).length).toBeGreaterThan(10);
  });
});

describe('compile --include/--exclude', () => {
  it('caches only the chosen cross sites, records why, and keeps the text input the rest still reads', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    const r = await compile(src, { outDir: path.join(work, 'out'), prover: (q) => proveArtifacts(q), sites: { exclude: ['/transformer_blocks.1/*'] } });
    expect(r.manifest.sites.map((s) => [s.id, s.cached, s.reason])).toEqual([
      ['self.0', true, 'self-attention: reused on the v2 schedule'],
      ['cross.0', true, 'cross-attention: cached at the gate step'],
      ['self.1', false, "excluded by --exclude '/transformer_blocks.1/*'"],
      ['cross.1', false, "excluded by --exclude '/transformer_blocks.1/*'"],
    ]);
    expect(r.manifest.sites[3]!.fidelityInput).toBeNull();
    expect(variantOf(r.manifest, 'fidelity').removedInputs).toEqual([]);
    expect(variantOf(r.manifest, 'fidelity').inputs.map((i) => i.name)).toContain('encoder_hidden_states');
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    const only = await compile(src, { outDir: path.join(work, 'only'), prover: null, sites: { include: ['cross.1'] } });
    expect(only.manifest.sites.filter((s) => s.cached).map((s) => s.id)).toEqual(['cross.1']);
  });

  it('refuses globs that leave nothing to cache, listing the sites', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    await expect(compile(src, { outDir: path.join(work, 'out'), prover: null, sites: { include: ['/nowhere/*'] } })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/left no cross-attention site to gate \(cross sites: \/transformer_blocks\.0\/attn2, \/transformer_blocks\.1\/attn2\)/),
    });
    expect(fs.readdirSync(work)).toEqual(['src']);
  });
});

describe('compile (external data under the names exporters use)', () => {
  it.each(['weights.pb', 'model.onnx.data', 'data/model.onnx_data'])('%s', async (location) => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), location);
    const r = await compileTo(src, path.join(work, 'out'));
    expect(r.manifest.weights).toBe(location);
    expect(fs.statSync(path.join(work, 'out', location)).ino).toBe(fs.statSync(path.join(work, 'src', location)).ino);
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
  });
});

describe('compile --sites', () => {
  it('all (the default): four variants, self sites reused, and the sampler runs v2 through them', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    const out = path.join(work, 'out');
    const r = await compile(src, { outDir: out, prover: (q) => proveArtifacts(q) });
    expect(r.manifest.sites.map((s) => [s.id, s.cached, s.reason])).toEqual([
      ['self.0', true, 'self-attention: reused on the v2 schedule'],
      ['cross.0', true, 'cross-attention: cached at the gate step'],
      ['self.1', true, 'self-attention: reused on the v2 schedule'],
      ['cross.1', true, 'cross-attention: cached at the gate step'],
    ]);
    expect(r.manifest.variants.map((v) => [v.name, v.cross, v.self])).toEqual([
      ['planning', 'output', 'output'],
      ['reuse-self', 'output', 'input'],
      ['fidelity', 'input', 'output'],
      ['fidelity-reuse-self', 'input', 'input'],
    ]);
    expect(r.manifest.gated.map((g) => [g.file, g.variants.map((v) => v.name).join(' ')])).toEqual([
      ['gated.onnx', 'planning fidelity'],
      ['gated-v2.onnx', 'planning reuse-self fidelity'],
      ['gated-v2-fi.onnx', 'planning reuse-self fidelity fidelity-reuse-self'],
    ]);
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    const proof = r.manifest.verification as { variantMaxAbsErrors: Record<string, number>; tolerance: number };
    expect(Object.keys(proof.variantMaxAbsErrors)).toEqual(['reuse-self', 'fidelity', 'fidelity-reuse-self']);
    for (const e of Object.values(proof.variantMaxAbsErrors)) expect(e).toBeLessThanOrEqual(proof.tolerance);
    // What each variant still computes: reuse-self keeps the text and cross-attention only.
    const softmaxes = (file: string) => graphOf(out, file).graph.nodes.filter((n) => n.opType === 'Softmax').length;
    expect([softmaxes('planning.onnx'), softmaxes('reuse-self.onnx'), softmaxes('fidelity.onnx'), softmaxes('fidelity-reuse-self.onnx')]).toEqual([4, 2, 2, 0]);
    expect(variantOf(r.manifest, 'reuse-self').removedInputs).toEqual([]);
    expect(variantOf(r.manifest, 'fidelity-reuse-self').removedInputs).toEqual(['encoder_hidden_states']);
    const { GatedUNet } = await import('../runtime/gated-unet.js');
    const z = (dims: number[]) => ({ data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i)), dims });
    const request = {
      latents: z([1, 4, 8, 8]),
      cond: { encoder_hidden_states: z([1, 5, 12]) },
      uncond: { encoder_hidden_states: z([1, 5, 12]) },
      steps: 8,
      gateStep: 5,
      guidance: 7.5,
    };
    const all = ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] as const;
    const results = [];
    for (const sessions of ['gated', 'separate'] as const) {
      const unet = await GatedUNet.load(out, { sessions, variants: [...all] });
      expect(unet.roles.self.map((c) => c.id)).toEqual(['self.0', 'self.1']);
      const g = await unet.generate({ ...request, tgate: { version: 2, spInterval: 2, warmUp: 1, fiInterval: 2 } });
      expect(g.records.map((x) => x.variant)).toEqual([
        'planning',
        'planning',
        'planning',
        'reuse-self',
        'planning',
        'fidelity-reuse-self',
        'fidelity',
        'fidelity-reuse-self',
      ]);
      results.push(g.latents);
      await unet.release();
    }
    // One session over the gated model and one session per variant give the same numbers.
    expect(Buffer.from(results[0]!.buffer).equals(Buffer.from(results[1]!.buffer))).toBe(true);
  });

  it('cross: v1 only, self-attention computed every step; v2 is refused with the fix', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    const out = path.join(work, 'out');
    const r = await compile(src, { outDir: out, prover: (q) => proveArtifacts(q), sites: { kinds: 'cross' } });
    expect(r.manifest.sites.filter((s) => s.cached).map((s) => s.id)).toEqual(['cross.0', 'cross.1']);
    expect(r.manifest.variants.map((v) => [v.name, v.self])).toEqual([
      ['planning', null],
      ['fidelity', null],
    ]);
    expect(r.manifest.gated.map((g) => g.file)).toEqual(['gated.onnx']);
    expect(fs.existsSync(path.join(out, 'reuse-self.onnx'))).toBe(false);
    const { GatedUNet } = await import('../runtime/gated-unet.js');
    await expect(GatedUNet.load(out, { variants: ['planning', 'reuse-self'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/no reuse-self variant/),
    });
    const unet = await GatedUNet.load(out);
    expect(unet.opened).toEqual(['planning', 'fidelity']);
    const z = (dims: number[]) => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5), dims });
    const request = {
      latents: z([1, 4, 8, 8]),
      cond: { encoder_hidden_states: z([1, 5, 12]) },
      uncond: { encoder_hidden_states: z([1, 5, 12]) },
      steps: 4,
      gateStep: 2,
      guidance: 7.5,
    };
    await expect(unet.generate({ ...request, tgate: { version: 2 } })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/compiled without self-attention sites/),
    });
    expect((await unet.generate(request)).schedule.version).toBe(1);
    await unet.release();
  });
});

describe('compile (one external file per tensor)', () => {
  it('links every data file, keeps the layout, and proves the graphs', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'tensors', { perTensor: true });
    const files = fs.readdirSync(path.join(work, 'src/tensors')).sort();
    expect(files.length).toBeGreaterThan(10);
    const out = path.join(work, 'out');
    const r = await compileTo(src, out);
    // In initializer order, the order the graphs reference them.
    expect(r.manifest.weightsFiles.slice().sort()).toEqual(files.map((f) => `tensors/${f}`));
    expect(r.manifest.weights).toBe(r.manifest.weightsFiles[0]);
    for (const f of files) expect(fs.statSync(path.join(out, 'tensors', f)).ino).toBe(fs.statSync(path.join(work, 'src/tensors', f)).ino);
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
  });
});

describe('compile never reads external weights', () => {
  it('opens only the .onnx file: the data file is stat-ed and linked, never read', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'model.onnx_data');
    const dataFile = path.join(work, 'src/model.onnx_data');
    const opened: string[] = [];
    const spies = (['readFileSync', 'openSync', 'createReadStream', 'copyFileSync', 'readSync'] as const).map((name) => {
      const original = fs[name] as (...a: unknown[]) => unknown;
      const spy = jest.spyOn(fs, name as 'readFileSync').mockImplementation(((...args: unknown[]) => {
        if (typeof args[0] === 'string') opened.push(path.resolve(args[0]));
        return original.apply(fs, args);
      }) as never);
      return spy;
    });
    try {
      await compile(src, { outDir: path.join(work, 'out'), prover: null });
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(opened).toContain(path.resolve(src));
    expect(opened).not.toContain(path.resolve(dataFile));
    expect(fs.statSync(path.join(work, 'out/model.onnx_data')).ino).toBe(fs.statSync(dataFile).ino);
  });
});

describe('compile refuses bad input without leaving anything behind', () => {
  async function refused(src: string, out: string, code: string, message: RegExp, opts: { force?: boolean } = {}): Promise<void> {
    const parent = path.dirname(out);
    fs.mkdirSync(parent, { recursive: true });
    const before = fs.readdirSync(parent).sort();
    const srcHash = fs.existsSync(src) && fs.statSync(src).isFile() ? sha256(fs.readFileSync(src)) : null;
    await expect(compileTo(src, out, opts)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
    expect(fs.readdirSync(parent).sort()).toEqual(before);
    if (srcHash) expect(sha256(fs.readFileSync(src))).toBe(srcHash);
  }

  it('a missing file', async () => {
    const work = scratch();
    await refused(path.join(work, 'nope.onnx'), path.join(work, 'out'), 'E_FILE_MISSING', /does not exist/);
  });

  it('a file that is not ONNX, and a truncated model', async () => {
    const work = scratch();
    const txt = path.join(work, 'notes.onnx');
    fs.writeFileSync(txt, 'this is not a model\n'.repeat(20));
    await refused(txt, path.join(work, 'out'), 'E_NOT_ONNX', /notes\.onnx is not/);
    const good = fs.readFileSync(writeTinyUnet(path.join(work, 'g')));
    const cut = path.join(work, 'cut.onnx');
    fs.writeFileSync(cut, good.subarray(0, Math.floor(good.length / 2)));
    await refused(cut, path.join(work, 'out'), 'E_NOT_ONNX', /cut\.onnx/);
  });

  it('a missing external data file', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'w.bin');
    fs.rmSync(path.join(work, 'src/w.bin'));
    await refused(src, path.join(work, 'out'), 'E_EXTERNAL_DATA_MISSING', /"w\.bin".*does not exist/);
  });

  it('a truncated external data file', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'w.bin');
    fs.truncateSync(path.join(work, 'src/w.bin'), 100);
    await refused(src, path.join(work, 'out'), 'E_EXTERNAL_DATA_INVALID', /truncated/);
  });

  it('external data at an absolute path, escaping with ../, or through a symlink: refused, never read', async () => {
    const work = scratch();
    const secret = path.join(work, 'outside.bin');
    const absSrc = writeWithExternalData(path.join(work, 'abs'), tinyUnetSpec(), secret, { dataPath: secret });
    await refused(absSrc, path.join(work, 'out'), 'E_EXTERNAL_DATA_UNSAFE', /outside the model's folder/);
    const upSrc = writeWithExternalData(path.join(work, 'up'), tinyUnetSpec(), '../outside2.bin');
    await refused(upSrc, path.join(work, 'out'), 'E_EXTERNAL_DATA_UNSAFE', /outside the model's folder/);
    const linkSrc = writeWithExternalData(path.join(work, 'link'), tinyUnetSpec(), 'w.bin', { dataPath: path.join(work, 'real.bin') });
    fs.symlinkSync(path.join(work, 'real.bin'), path.join(work, 'link/w.bin'));
    await refused(linkSrc, path.join(work, 'out'), 'E_EXTERNAL_DATA_UNSAFE', /symlink/);
  });

  it('a model with no cross-attention: says what was seen and why each candidate failed', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'), { crossAttention: false, decoySoftmax: true });
    await refused(
      src,
      path.join(work, 'out'),
      'E_NO_CROSS_ATTENTION',
      /3 softmax candidate\(s\) seen, 2 matched as self-attention, 1 rejected[\s\S]*gate\/Softmax.*no MatMul of two activations/,
    );
  });

  it('an output folder that holds the source', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    await refused(src, path.join(work, 'src'), 'E_OUTPUT_OVERLAPS_SOURCE', /would overwrite or delete the source/, { force: true });
    await refused(src, work, 'E_OUTPUT_OVERLAPS_SOURCE', /contains the source/, { force: true });
  });

  it('an existing non-empty output folder: an earlier compile only with --force, any other folder never', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await refused(src, out, 'E_OUTPUT_EXISTS', /not empty.*/);
    await refused(src, out, 'E_OUTPUT_EXISTS', /not an earlier tgate output: it holds no tgate\.json.*even with --force/, { force: true });
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    expect(fs.readFileSync(path.join(out, 'keep.txt'), 'utf8')).toBe('mine');
    fs.rmSync(out, { recursive: true });
    await compileTo(src, out);
    await refused(src, out, 'E_OUTPUT_EXISTS', /not empty \(an earlier tgate output\)/);
    await compileTo(src, out, { force: true });
    expect(fs.readdirSync(out).sort()).toEqual([
      'fidelity-reuse-self.onnx',
      'fidelity.onnx',
      'gated-v2-fi.onnx',
      'gated-v2.onnx',
      'gated.onnx',
      'planning.onnx',
      'reuse-self.onnx',
      'tgate.json',
      'weights.onnx_data',
    ]);
    expect(fs.readdirSync(work).sort()).toEqual(['out', 'src']);
  });

  it('a failed proof leaves no output folder', async () => {
    const work = scratch();
    const src = writeTinyUnet(path.join(work, 'src'));
    const out = path.join(work, 'out');
    const failing = compile(src, {
      outDir: out,
      prover: async () => {
        throw Object.assign(new Error('proof failed on purpose'), { code: 'E_VERIFY_FAILED' });
      },
    });
    await expect(failing).rejects.toThrow(/on purpose/);
    expect(fs.readdirSync(work)).toEqual(['src']);
  });
});
