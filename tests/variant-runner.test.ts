// The variant runner the sampler and compile's proof share, on real compiled folders in real
// onnxruntime sessions: the gated model and the separate variant graphs give the same bits for
// every variant at every batch it runs; a static-batch export runs a smaller batch by repeating
// rows and trimming the results; a variant that takes a cache never runs without it.
import type ort from 'onnxruntime-node';
import { GatedUNet } from '../runtime/gated-unet.js';
import { makeFeeds } from '../runtime/prove.js';
import type { RunnerSite } from '../runtime/variant-runner.js';
import { compiledTinyUnet } from './helpers/compiled.js';

const VARIANTS = ['planning', 'reuse-self', 'fidelity'] as const;
const exact = { threads: 1, optimization: 'basic' } as const;

/** Seeded feeds at a batch (a static export's too): every other symbolic dim 8 (image) or 5 (tokens). */
function feedsAt(unet: GatedUNet, batch: number, seed = 7): Record<string, ort.Tensor> {
  const inputs = unet.manifest.source.inputs.map((i) => ({
    ...i,
    shape: i.shape.map((d, k) => (k === 0 ? batch : typeof d === 'number' ? d : i.shape.length === 4 ? 8 : 5)),
  }));
  return makeFeeds(inputs, {}, seed);
}

function bits(t: ort.Tensor): number[] {
  return Array.from(t.data as Float32Array);
}

describe('variant runner', () => {
  let dir: string;
  beforeAll(async () => {
    ({ dir } = await compiledTinyUnet());
  }, 120_000);

  it('gives the same bits through the gated model as through the separate graphs, for every variant, at batch 2 and 1', async () => {
    const gated = await GatedUNet.load(dir, { ...exact, variants: [...VARIANTS] });
    const separate = await GatedUNet.load(dir, { ...exact, variants: [...VARIANTS], sessions: 'separate' });
    try {
      expect(gated.sessions).toBe('gated');
      expect(separate.sessions).toBe('separate');
      const sites = gated.runner.layout.sites;
      const out = gated.roles.output.name;
      for (const batch of [2, 1]) {
        const feeds = feedsAt(gated, batch);
        const planned = await separate.runner.call({ variant: 'planning', batch, feeds, caches: new Map(), fetch: sites });
        expect(planned.sites.size).toBe(sites.length);
        for (const variant of VARIANTS) {
          const spec = gated.manifest.variants.find((v) => v.name === variant)!;
          const computed: RunnerSite[] = sites.filter((c) => (c.kind === 'cross' ? spec.cross : spec.self) === 'output');
          const call = { variant, batch, feeds, caches: planned.sites, fetch: computed };
          const a = await gated.runner.call(call);
          const b = await separate.runner.call(call);
          expect(a.outputs[out]!.dims).toEqual(b.outputs[out]!.dims);
          expect(bits(a.outputs[out]!)).toEqual(bits(b.outputs[out]!));
          for (const c of computed) expect(bits(a.sites.get(c.id)!)).toEqual(bits(b.sites.get(c.id)!));
          // Fed the planning graph's caches at the same inputs, each variant reproduces the planning output.
          const want = bits(planned.outputs[out]!);
          const got = bits(a.outputs[out]!);
          expect(Math.max(...got.map((x, i) => Math.abs(x - want[i]!)))).toBeLessThan(1e-4);
        }
      }
    } finally {
      await gated.release();
      await separate.release();
    }
  }, 120_000);

  it('refuses to run a variant without a cache it takes (E_INTERNAL, naming the site)', async () => {
    const unet = await GatedUNet.load(dir, { ...exact, variants: [...VARIANTS] });
    try {
      const cross = unet.runner.layout.sites.find((c) => c.kind === 'cross')!;
      await expect(unet.runner.call({ variant: 'fidelity', batch: 1, feeds: feedsAt(unet, 1), caches: new Map(), fetch: [] })).rejects.toMatchObject({
        code: 'E_INTERNAL',
        message: expect.stringContaining(cross.id),
      });
    } finally {
      await unet.release();
    }
  }, 60_000);

  it('runs a static-batch export at a smaller batch: rows repeated to its batch, results trimmed', async () => {
    const fixed = await compiledTinyUnet({ staticShape: { batch: 2, height: 8, width: 8, sequence: 5 } });
    const unet = await GatedUNet.load(fixed.dir, { ...exact, variants: [...VARIANTS] });
    try {
      expect(unet.runner.layout.fixedBatch).toBe(2);
      expect(unet.runner.repeatFor(1)).toBe(2);
      expect(() => unet.runner.repeatFor(3)).toThrow(/fixed batch of 2; batch 3 does not divide it/);
      const one = feedsAt(unet, 1);
      const sites = unet.runner.layout.sites;
      const out = unet.roles.output.name;
      const small = await unet.runner.call({ variant: 'planning', batch: 1, feeds: one, caches: new Map(), fetch: sites });
      expect(small.outputs[out]!.dims[0]).toBe(1);
      // The same sample twice at the export's own batch: its first row is what batch 1 gave.
      const twice = await unet.runner.call({ variant: 'planning', batch: 2, feeds: doubled(one), caches: new Map(), fetch: sites });
      const half = bits(twice.outputs[out]!).slice(0, twice.outputs[out]!.data.length / 2);
      expect(bits(small.outputs[out]!)).toEqual(half);
      for (const c of sites) expect(small.sites.get(c.id)!.dims[0]! * 2).toBe(twice.sites.get(c.id)!.dims[0]);
    } finally {
      await unet.release();
    }
  }, 120_000);
});

/** Every batched feed with its rows twice over (what repeatRows does, written out here independently). */
function doubled(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    if (t.dims.length === 0 || t.dims[0] !== 1) {
      out[k] = t;
      continue;
    }
    const d = t.data as Float32Array;
    const data = new (d.constructor as new (n: number) => Float32Array)(d.length * 2);
    data.set(d);
    data.set(d, d.length);
    out[k] = new (t.constructor as typeof ort.Tensor)(t.type as 'float32', data, [2, ...t.dims.slice(1)]);
  }
  return out;
}
