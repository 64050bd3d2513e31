// A PixArt-style DiT exported by PyTorch (fixtures/export/pixart_tiny.py, committed with its
// references): AdaLN-single blocks, self-attention gated by gate_msa outside the module,
// cross-attention without a norm in front, a caption_projection MLP, learned sigma, int64
// [batch] timesteps. The cuts equal PyTorch's module outputs; the text path leaves the fidelity
// graph; the sampler runs it.
import { variantOf } from '../build/manifest.js';
import fs from 'node:fs';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { runPasses } from '../passes/pass-manager.js';
import { InputAncestry } from '../analyses/attention/ancestry.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { exposeOutputs } from '../passes/expose-outputs.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { makeTensor } from '../runtime/session.js';
import { proveArtifacts } from '../runtime/prove.js';
import { data, f32, maxAbsDiff, runOnce } from './helpers/ort.js';
import { readF32, ROOT, scratch } from './helpers/paths.js';

const MODEL = path.join(ROOT, 'fixtures/models/pixart-tiny.onnx');
const REF = path.join(ROOT, 'fixtures/models/pixart-tiny.ref');

describe('PixArt-style DiT (PyTorch export)', () => {
  const work = scratch();
  const out = path.join(work, 'out');
  let result: CompileResult;
  beforeAll(async () => {
    result = await compile(MODEL, { outDir: out, prover: (r) => proveArtifacts(r) });
  });

  it('cuts self-attention before the gate_msa multiply and cross-attention before its residual add', () => {
    const report = findAttentionSites(decodeModel(fs.readFileSync(MODEL), 'pixart').graph);
    expect(report.sites.map((s) => [s.id, s.scope])).toEqual([
      ['self.0', '/transformer_blocks.0/attn1'],
      ['cross.0', '/transformer_blocks.0/attn2'],
      ['self.1', '/transformer_blocks.1/attn1'],
      ['cross.1', '/transformer_blocks.1/attn2'],
    ]);
    for (const s of report.sites) {
      const consumers = s.match.output.uses().map((u) => u.node.opType);
      expect(consumers).toEqual([s.kind === 'self' ? 'Mul' : 'Add']);
      expect(s.type.shape).toEqual(['batch_size', 'height/2*width/2', 32]);
    }
  });

  it('every cut equals the PyTorch module output (<= 1e-4), and so does the model output', async () => {
    const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8'));
    const probe = decodeModel(fs.readFileSync(path.join(out, 'planning.onnx')), 'planning');
    runPasses(probe.graph, [
      exposeOutputs(result.manifest.sites.filter((s) => !s.cached).map((s) => ({ tensor: s.tensor, type: { dtype: 1, shape: s.shape } }))),
    ]);
    const probePath = path.join(out, 'probe.onnx');
    fs.writeFileSync(probePath, encodeModel(probe));
    const t = index.tensors;
    const got = await runOnce(probePath, {
      hidden_states: f32(readF32(path.join(REF, 'hidden_states.bin')), t.hidden_states),
      encoder_hidden_states: f32(readF32(path.join(REF, 'encoder_hidden_states.bin')), t.encoder_hidden_states),
      timestep: makeTensor('int64', BigInt64Array.of(601n, 601n), [2]),
    });
    expect(maxAbsDiff(data(got.out_sample), readF32(path.join(REF, 'out_sample.bin')))).toBeLessThan(1e-4);
    for (const module of index.attention_modules as string[]) {
      const site = result.manifest.sites.find((s) => s.scope === `/${module.replace(/\./g, '/').replace(/\/(\d)/g, '.$1')}`)!;
      expect(maxAbsDiff(data(got[site.tensor]), readF32(path.join(REF, `${module}.bin`)))).toBeLessThan(1e-4);
    }
    fs.rmSync(probePath);
  });

  it('the fidelity graph drops the text input and the whole caption_projection', () => {
    expect(variantOf(result.manifest, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    expect(result.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    const fidelity = decodeModel(fs.readFileSync(path.join(out, 'fidelity.onnx')), 'fidelity').graph;
    expect(fidelity.nodes.some((n) => n.declaredName.includes('caption_projection'))).toBe(false);
    const planning = decodeModel(fs.readFileSync(path.join(out, 'planning.onnx')), 'planning').graph;
    expect(planning.nodes.some((n) => n.declaredName.includes('caption_projection'))).toBe(true);
  });

  it('is recognised as PixArt and takes its official v2 defaults: gate step 15, sp_interval 3, guidance 4.5', () => {
    expect(result.manifest.family.name).toBe('pixart');
    expect(result.manifest.schedule).toEqual({ gateStep: 15, spInterval: 3, fiInterval: 1, warmUp: 2, guidance: 4.5 });
  });

  it("a reused self-attention output is still multiplied by the current step's gate_msa", async () => {
    // In the reuse-self graph each self cache input feeds the gate_msa Mul, whose other operand
    // is computed from this step's timestep: the cache replaces attn1's output, not gate * attn1.
    const reuse = decodeModel(fs.readFileSync(path.join(out, 'reuse-self.onnx')), 'reuse-self').graph;
    const ancestry = new InputAncestry(reuse);
    for (const site of result.manifest.sites.filter((x) => x.kind === 'self')) {
      const input = reuse.value(site.reuseInput!)!;
      expect(reuse.isGraphInput(input)).toBe(true);
      const uses = input.uses();
      expect(uses.map((u) => u.node.opType)).toEqual(['Mul']);
      const gate = uses[0]!.node.inputs.find((v) => v !== input)!;
      // (Shape arithmetic makes it depend on earlier activations too, never on its own cache.)
      expect(ancestry.of(gate).has('timestep')).toBe(true);
      expect(ancestry.of(gate).has(site.reuseInput!)).toBe(false);
    }
    // Numerically: the same cache fed at two timesteps gives two different outputs, and at the
    // step it was taken the reuse-self graph reproduces the source.
    const t = (n: bigint) => makeTensor('int64', BigInt64Array.of(n, n), [2]);
    const inputs = {
      hidden_states: f32(readF32(path.join(REF, 'hidden_states.bin')), [2, 4, 16, 16]),
      encoder_hidden_states: f32(readF32(path.join(REF, 'encoder_hidden_states.bin')), [2, 12, 24]),
    };
    const at601 = await runOnce(path.join(out, 'planning.onnx'), { ...inputs, timestep: t(601n) });
    const caches = Object.fromEntries(result.manifest.sites.filter((x) => x.kind === 'self').map((x) => [x.reuseInput!, at601[x.tensor]!]));
    const same = await runOnce(path.join(out, 'reuse-self.onnx'), { ...inputs, ...caches, timestep: t(601n) });
    expect(maxAbsDiff(data(same.out_sample), data(at601.out_sample))).toBeLessThan(1e-5);
    const later = await runOnce(path.join(out, 'reuse-self.onnx'), { ...inputs, ...caches, timestep: t(301n) });
    const source301 = await runOnce(MODEL, { ...inputs, timestep: t(301n) });
    expect(maxAbsDiff(data(later.out_sample), data(same.out_sample))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(data(later.out_sample), data(source301.out_sample))).toBeGreaterThan(0);
  });

  it('runs TGATE v2 on the PixArt schedule: self-attention reused between every 3rd step', async () => {
    const unet = await GatedUNet.load(out, { variants: ['planning', 'reuse-self', 'fidelity'] });
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
    const res = await unet.generate({
      latents: { data: r(4 * 64, 1), dims: [1, 4, 8, 8] },
      cond: { encoder_hidden_states: { data: r(5 * 24, 2), dims: [1, 5, 24] } },
      uncond: { encoder_hidden_states: { data: r(5 * 24, 3), dims: [1, 5, 24] } },
      steps: 20,
      guidance: 4.5,
    });
    expect(res.schedule).toEqual({ version: 2, gateStep: 15, spInterval: 3, fiInterval: 1, warmUp: 2 });
    expect(res.records.filter((x) => x.self === 'reuse').map((x) => x.k)).toEqual([4, 5, 7, 8, 10, 11, 13]);
    expect(res.records.filter((x) => x.phase === 'fidelity').map((x) => x.batch)).toEqual([1, 1, 1, 1, 1]);
    expect(res.latents.every(Number.isFinite)).toBe(true);
    await unet.release();
  });

  it('the sampler runs it: int64 [batch] timesteps, learned sigma split after guidance', async () => {
    const unet = await GatedUNet.load(out);
    expect(unet.roles.timestep).toMatchObject({ name: 'timestep', dtype: 'int64', shape: ['batch_size'] });
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
    const res = await unet.generate({
      latents: { data: r(4 * 64, 1), dims: [1, 4, 8, 8] },
      cond: { encoder_hidden_states: { data: r(5 * 24, 2), dims: [1, 5, 24] } },
      uncond: { encoder_hidden_states: { data: r(5 * 24, 3), dims: [1, 5, 24] } },
      steps: 6,
      gateStep: 3,
      guidance: 4.5,
      scheduler: 'dpmpp-2m',
    });
    expect(res.dims).toEqual([1, 4, 8, 8]);
    expect(res.latents.every(Number.isFinite)).toBe(true);
    expect(res.records.map((x) => x.batch)).toEqual([2, 2, 2, 1, 1, 1]);
    await unet.release();
  });
});
