// A source with two outputs, compiled with the proof on: the gated models give every source output
// of every variant (the first under the manifest entry's `output`, the second by gatedSourceOutputs'
// rule), the proof holds each branch to its variant on both, and the variant runner gives the same
// outputs, all of them, bit for bit, through the gated model and through the separate graphs.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { compile } from '../build/compile.js';
import { gatedSourceOutputs } from '../build/gated-model.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { decodeModel } from '../io/decode.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { makeFeeds, proveArtifacts } from '../runtime/prove.js';
import { VariantRunner, type RunnerSite } from '../runtime/variant-runner.js';
import { scratch } from './helpers/paths.js';

const VARIANTS = ['planning', 'reuse-self', 'fidelity'] as const;
const OUTPUTS = ['out_sample', 'aux_sample'];
const exact = { threads: 1, optimization: 'basic' } as const;

/** The tiny UNet with a second output: a sigmoid of the last convolution, beside out_sample. */
function twoOutputSpec() {
  const spec = tinyUnetSpec();
  const conv = spec.nodes.find((n) => n.name === '/Identity_out')!.inputs[0]!;
  spec.outputs.push({ ...spec.outputs[0]!, name: 'aux_sample' });
  spec.nodes.push({ op: 'Sigmoid', inputs: [conv], outputs: ['aux_sample'], name: '/Sigmoid_aux' });
  return spec;
}

const bits = (t: ort.Tensor) => Array.from(t.data as Float32Array);

describe('a gated model of a source with two outputs', () => {
  let work: string;
  let dir: string;
  beforeAll(async () => {
    work = scratch('tgate-two-out-');
    const file = path.join(work, 'model.onnx');
    fs.writeFileSync(file, encodeModelSpec(twoOutputSpec()));
    dir = path.join(work, 'out');
    const r = await compile(file, { outDir: dir, prover: (q) => proveArtifacts(q) });
    expect(r.manifest.source.outputs.map((o) => o.name)).toEqual(OUTPUTS);
    expect(r.manifest.verification).toMatchObject({ skipped: false, gatedBitExact: true });
  }, 120_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it("gives both source outputs of every variant: the first under the entry's output, the second by the rule", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'tgate.json'), 'utf8')) as {
      gated: { file: string; variants: { name: string; output: string }[] }[];
    };
    expect(manifest.gated.length).toBeGreaterThan(0);
    for (const g of manifest.gated) {
      const outputs = decodeModel(fs.readFileSync(path.join(dir, g.file)), g.file).graph.outputs.map((v) => v.name);
      for (const v of g.variants) {
        const names = gatedSourceOutputs(v, OUTPUTS);
        expect(names).toEqual([`tgate.${v.name}.out_sample`, `tgate.${v.name}.aux_sample`]);
        expect(names[0]).toBe(v.output);
        for (const n of names) expect(outputs).toContain(n);
      }
    }
  });

  it('runs every variant through the gated model and the separate graphs to the same outputs, all of them', async () => {
    const gated = await GatedUNet.load(dir, { ...exact, variants: [...VARIANTS] });
    const separate = await GatedUNet.load(dir, { ...exact, variants: [...VARIANTS], sessions: 'separate' });
    try {
      expect(gated.sessions).toBe('gated');
      // The runner over both outputs (the sampler asks for its noise prediction only).
      const a = new VariantRunner({ ...gated.runner.layout, outputs: OUTPUTS }, gated.runner.sessions);
      const b = new VariantRunner({ ...separate.runner.layout, outputs: OUTPUTS }, separate.runner.sessions);
      const sites = a.layout.sites;
      const inputs = gated.manifest.source.inputs.map((i) => ({
        ...i,
        shape: i.shape.map((d, k) => (k === 0 ? 2 : typeof d === 'number' ? d : i.shape.length === 4 ? 8 : 5)),
      }));
      const feeds = makeFeeds(inputs, {}, 11);
      const planned = await b.call({ variant: 'planning', batch: 2, feeds, caches: new Map(), fetch: sites });
      for (const variant of VARIANTS) {
        const spec = gated.manifest.variants.find((v) => v.name === variant)!;
        const computed: RunnerSite[] = sites.filter((c) => (c.kind === 'cross' ? spec.cross : spec.self) === 'output');
        const call = { variant, batch: 2, feeds, caches: planned.sites, fetch: computed };
        const x = await a.call(call);
        const y = await b.call(call);
        expect(Object.keys(x.outputs)).toEqual(OUTPUTS);
        expect(Object.keys(y.outputs)).toEqual(OUTPUTS);
        for (const o of OUTPUTS) {
          expect(x.outputs[o]!.dims).toEqual([2, 4, 8, 8]);
          expect(bits(x.outputs[o]!)).toEqual(bits(y.outputs[o]!));
        }
        // The two outputs are not the same tensor under two names.
        expect(bits(x.outputs['aux_sample']!)).not.toEqual(bits(x.outputs['out_sample']!));
        for (const c of computed) expect(bits(x.sites.get(c.id)!)).toEqual(bits(y.sites.get(c.id)!));
      }
    } finally {
      await gated.release();
      await separate.release();
    }
  }, 120_000);
});
