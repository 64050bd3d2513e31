// compile on the real diffusers exports in ../shared/fixtures, checked against the PyTorch
// references: the sites are exactly the attention modules, planning outputs equal each module's
// output, and the fidelity graph fed cached tensors reproduces the reference outputs.
import { variantOf } from '../build/manifest.js';
import fs from 'node:fs';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { runPasses } from '../passes/pass-manager.js';
import { exposeOutputs } from '../passes/expose-outputs.js';
import { proveArtifacts } from '../runtime/prove.js';
import type { Feeds } from '../runtime/session.js';
import { data, f32, maxAbsDiff, runOnce } from './helpers/ort.js';
import { FIXTURES, folderDigest, readF32, scratch, sharedAvailable } from './helpers/paths.js';

interface TensorRef {
  file: string;
  shape: number[];
}
interface Meta {
  attn1_count: number;
  attn2_count: number;
  attention_modules_onnx: Record<
    string,
    { onnx_scope: string; onnx_output: string; other_opsets?: Record<string, { onnx_output: string; onnx_scope: string }> }
  >;
  reference: { inputs: Record<string, TensorRef>; outputs: Record<string, TensorRef>; attention: { module: string; file: string; shape: number[] }[] };
  reference_alt: { inputs: Record<string, TensorRef>; outputs: Record<string, TensorRef>; attention: { module: string; file: string; shape: number[] }[] };
  reference_cached: {
    inputs: Record<string, TensorRef>;
    outputs: Record<string, TensorRef>;
    inputs_b1: Record<string, TensorRef>;
    outputs_b1: Record<string, TensorRef>;
  };
}

const have = sharedAvailable('the checks against the real diffusers exports');
const CASES = [
  { fixture: 'sd15-tiny', file: 'model.onnx', opset: '17', cross: 6, self: 6, family: 'sd', guidance: 7.5 },
  { fixture: 'sd15-tiny', file: 'model_opset14.onnx', opset: '14', cross: 6, self: 6, family: 'sd', guidance: 7.5 },
  { fixture: 'sdxl-tiny', file: 'model.onnx', opset: '17', cross: 12, self: 12, family: 'sdxl', guidance: 5 },
];

(have ? describe.each(CASES) : describe.skip.each(CASES))('$fixture/$file', ({ fixture, file, opset, cross, self, family, guidance }) => {
  const dir = path.join(FIXTURES, fixture);
  const src = path.join(dir, file);
  const meta = () => JSON.parse(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8')) as Meta;
  const load = (refs: Record<string, TensorRef>): Feeds =>
    Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, f32(readF32(path.join(dir, r.file)), r.shape)]));
  const work = scratch();
  const out = path.join(work, 'out');
  let result: CompileResult;
  /** module name -> the manifest site for it. */
  let byModule: Map<string, CompileResult['manifest']['sites'][number]>;

  beforeAll(async () => {
    result = await compile(src, { outDir: out, prover: (r) => proveArtifacts(r) });
    const m = meta();
    byModule = new Map();
    for (const [mod, info] of Object.entries(m.attention_modules_onnx)) {
      const tensor = opset === '17' ? info.onnx_output : (info.other_opsets?.[opset]?.onnx_output ?? info.onnx_output);
      const site = result.manifest.sites.find((s) => s.tensor === tensor);
      if (site) byModule.set(mod, site);
    }
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it(`is recognised as ${family}: the official v2 defaults, guidance ${guidance}`, () => {
    expect(result.manifest.family.name).toBe(family);
    expect(result.manifest.schedule).toEqual({ gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2, guidance });
  });

  it(`finds exactly the ${cross} + ${self} attention modules, cut at their output tensors`, () => {
    const m = meta();
    expect(m.attn2_count).toBe(cross);
    expect(m.attn1_count).toBe(self);
    const sites = result.manifest.sites;
    expect(sites.filter((s) => s.kind === 'cross')).toHaveLength(cross);
    expect(sites.filter((s) => s.kind === 'self')).toHaveLength(self);
    expect(byModule.size).toBe(cross + self);
    for (const [mod, site] of byModule) {
      expect(site.kind).toBe(mod.endsWith('attn2') ? 'cross' : 'self');
      const info = m.attention_modules_onnx[mod]!;
      expect(`${site.scope}/`).toBe(opset === '17' ? info.onnx_scope : (info.other_opsets?.[opset]?.onnx_scope ?? info.onnx_scope));
    }
  });

  it('the proof passed: planning bit-exact, fidelity within tolerance, shapes confirmed', () => {
    const v = result.manifest.verification;
    expect(v.skipped).toBe(false);
    if (v.skipped) return;
    expect(v.planningBitExact).toBe(true);
    expect(v.shapesConfirmed).toBe(true);
    expect(v.fidelityMaxAbsError).toBeLessThanOrEqual(v.tolerance);
  });

  it('planning outputs equal every module output of the PyTorch reference (<= 1e-4), at batch 2 and at batch 1 24x40', async () => {
    const m = meta();
    // Self sites are not planning outputs; expose them too in a test-only graph to check their cut.
    const probe = decodeModel(fs.readFileSync(path.join(out, 'planning.onnx')), 'planning.onnx');
    runPasses(probe.graph, [
      exposeOutputs(result.manifest.sites.filter((s) => s.kind === 'self').map((s) => ({ tensor: s.tensor, type: { dtype: 1, shape: s.shape } }))),
    ]);
    const probePath = path.join(out, 'probe-all-sites.onnx');
    fs.writeFileSync(probePath, encodeModel(probe));
    try {
      for (const ref of [m.reference, m.reference_alt]) {
        const got = await runOnce(probePath, load(ref.inputs));
        expect(maxAbsDiff(data(got.out_sample), readF32(path.join(dir, ref.outputs.out_sample!.file)))).toBeLessThanOrEqual(1e-4);
        for (const a of ref.attention) {
          const site = byModule.get(a.module)!;
          const t = got[site.tensor]!;
          expect(t.dims).toEqual(a.shape);
          expect(maxAbsDiff(data(t), readF32(path.join(dir, a.file)))).toBeLessThanOrEqual(1e-4);
        }
      }
    } finally {
      fs.rmSync(probePath);
    }
  });

  it('fidelity fed the reference cross-attention outputs reproduces out_sample_attn2_from_ref (<= 1e-4)', async () => {
    const m = meta();
    const feeds = load(m.reference_cached.inputs);
    delete feeds.encoder_hidden_states;
    for (const a of m.reference.attention) {
      const site = byModule.get(a.module)!;
      if (site.kind === 'cross') feeds[site.fidelityInput!] = f32(readF32(path.join(dir, a.file)), a.shape);
    }
    const got = await runOnce(path.join(out, 'fidelity.onnx'), feeds);
    const want = readF32(path.join(dir, m.reference_cached.outputs.out_sample_attn2_from_ref!.file));
    expect(maxAbsDiff(data(got.out_sample), want)).toBeLessThanOrEqual(1e-4);
    // And it is not the plain output: the cached tensors really drive the result.
    const plain = readF32(path.join(dir, m.reference_cached.outputs.out_sample!.file));
    expect(maxAbsDiff(data(got.out_sample), plain)).toBeGreaterThan(0.1);
  });

  it('at batch 1, fed the CFG-pair mean, fidelity reproduces b1_out_sample_attn2_cfgmean (<= 1e-4)', async () => {
    const m = meta();
    const feeds = load(m.reference_cached.inputs_b1);
    delete feeds.encoder_hidden_states;
    for (const a of m.reference.attention) {
      const site = byModule.get(a.module)!;
      if (site.kind !== 'cross') continue;
      const pair = readF32(path.join(dir, a.file));
      const half = pair.length / 2;
      const mean = Float32Array.from({ length: half }, (_, i) => (pair[i]! + pair[half + i]!) / 2);
      feeds[site.fidelityInput!] = f32(mean, [1, ...a.shape.slice(1)]);
    }
    const got = await runOnce(path.join(out, 'fidelity.onnx'), feeds);
    const want = readF32(path.join(dir, m.reference_cached.outputs_b1.out_sample_attn2_cfgmean!.file));
    expect(maxAbsDiff(data(got.out_sample), want)).toBeLessThanOrEqual(1e-4);
  });

  it('fidelity drops encoder_hidden_states (and only it) and has fewer nodes', () => {
    const man = result.manifest;
    const sourceInputs = Object.keys(meta().reference.inputs);
    expect(variantOf(man, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    const fidInputs = variantOf(man, 'fidelity').inputs.map((i) => i.name);
    expect(fidInputs).not.toContain('encoder_hidden_states');
    for (const n of sourceInputs.filter((x) => x !== 'encoder_hidden_states')) expect(fidInputs).toContain(n);
    expect(variantOf(man, 'fidelity').nodes).toBeLessThan(man.source.nodes);
    expect(variantOf(man, 'planning').nodes).toBe(man.source.nodes);
  });

  it('two compiles of the same input give byte-identical folders', async () => {
    const again = path.join(work, 'again');
    await compile(src, { outDir: again, prover: (r) => proveArtifacts(r) });
    expect(folderDigest(again)).toEqual(folderDigest(out));
  });
});
