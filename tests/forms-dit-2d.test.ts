// Issue 12, item 13: the PixArt-style DiT as onnxruntime optimises it once its shapes are static
// (fixtures/pixart-ort.ts writes fixtures/models/pixart-tiny-ort-2d.onnx). onnxruntime's
// MatMulAddFusion makes every projection a Gemm on [batch·tokens, channels], so the cut (the
// out-projection's output) is [128, 32], and q, k and v of a self-attention each read their own
// Reshape of one stream. Sites are found with the cut's real shape, the compile proves it, and a
// TGATE run of the optimised model gives what the PyTorch export's gives: the CFG mean pairs
// the rows of a sample's uncond half with the same sample's cond half.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { compile, type CompileResult } from '../build/compile.js';
import { inspectCompiled } from '../build/inspect.js';
import { decodeModel } from '../io/decode.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { variantOf } from '../build/manifest.js';
import { GraphBuilder, INT64 } from '../fixtures/graph-builder.js';
import { BUILT_WITH, PIXART_ORT_FILE, pixartOrtBytes } from '../fixtures/pixart-ort.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { GatedUNet, type GenerateResult } from '../runtime/gated-unet.js';
import { makeFeeds, proveArtifacts } from '../runtime/prove.js';
import { sampleOrderError } from '../runtime/prove-rows.js';
import { runOnce } from './helpers/ort.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const MODELS = path.join(ROOT, 'fixtures/models');
const OPTIMIZED = path.join(MODELS, PIXART_ORT_FILE);
const PLAIN = path.join(MODELS, 'pixart-tiny.onnx');

const wave = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));

/** One TGATE v2 generation at the fixture's sizes (16x16 latents, 12 text tokens), B samples with CFG. */
async function tgateRun(dir: string, B: number, sessions: 'gated' | 'separate' = 'gated'): Promise<GenerateResult> {
  const unet = await GatedUNet.load(dir, { variants: ['planning', 'reuse-self', 'fidelity'], sessions });
  try {
    return await unet.generate({
      latents: { data: wave(B * 4 * 256, 1), dims: [B, 4, 16, 16] },
      cond: { encoder_hidden_states: { data: wave(B * 12 * 24, 2), dims: [B, 12, 24] } },
      uncond: { encoder_hidden_states: { data: wave(B * 12 * 24, 3), dims: [B, 12, 24] } },
      steps: 20,
      guidance: 4.5,
    });
  } finally {
    await unet.release();
  }
}

function relDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let s = 1;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

describe('PixArt-style DiT optimised by onnxruntime on static shapes (2-D out-projections)', () => {
  const work = scratch();
  let plain: CompileResult;
  let optimized: CompileResult;
  beforeAll(async () => {
    plain = await compile(PLAIN, { outDir: path.join(work, 'plain'), prover: (r) => proveArtifacts(r) });
    optimized = await compile(OPTIMIZED, { outDir: path.join(work, 'opt'), prover: (r) => proveArtifacts(r) });
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  (ort.env.versions.node === BUILT_WITH ? it : it.skip)('the committed fixture is what onnxruntime writes from pixart-tiny.onnx (same bytes)', async () => {
    expect(Buffer.from(await pixartOrtBytes(MODELS)).equals(fs.readFileSync(OPTIMIZED))).toBe(true);
  });
  if (ort.env.versions.node !== BUILT_WITH)
    console.log(`SKIPPED the fixture byte check: onnxruntime-node ${ort.env.versions.node} is installed, the fixture was written by ${BUILT_WITH}.`);

  it('finds every site, self included, with the cut at the 2-D Gemm: [batch·tokens, channels] = [128, 32]', () => {
    const g = decodeModel(fs.readFileSync(OPTIMIZED), 'opt').graph;
    const report = findAttentionSites(g);
    expect(report.sites.map((s) => [s.id, s.scope, s.match.variant])).toEqual([
      ['self.0', '/transformer_blocks.0/attn1', 'fusedmatmul-softmax-matmul'],
      ['cross.0', '/transformer_blocks.0/attn2', 'fusedmatmul-softmax-matmul'],
      ['self.1', '/transformer_blocks.1/attn1', 'fusedmatmul-softmax-matmul'],
      ['cross.1', '/transformer_blocks.1/attn2', 'fusedmatmul-softmax-matmul'],
    ]);
    for (const s of report.sites) {
      expect(s.match.outProj.opType).toBe('Gemm');
      // Self: q, k and v each reshape the one normalised stream (three Reshapes, one stream).
      if (s.kind === 'self') expect(new Set([s.match.qSource, s.match.kSource, s.match.vSource]).size).toBe(3);
      expect(s.type.shape).toEqual([2, 64, 32]);
      expect(s.cut.shape).toEqual([128, 32]);
    }
  });

  it('compiles with its proof: the manifest records the real [128, 32], and the text path leaves the fidelity graph', () => {
    expect(optimized.manifest.sites.map((s) => [s.id, s.cached, s.shape])).toEqual([
      ['self.0', true, [128, 32]],
      ['cross.0', true, [128, 32]],
      ['self.1', true, [128, 32]],
      ['cross.1', true, [128, 32]],
    ]);
    expect(optimized.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, shapesConfirmed: true, gatedBitExact: true });
    expect(optimized.manifest.family.name).toBe('pixart');
    expect(variantOf(optimized.manifest, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    // The fidelity graph takes the cross caches at the cut's real shape.
    const fidelity = variantOf(optimized.manifest, 'fidelity');
    for (const s of optimized.manifest.sites.filter((x) => x.kind === 'cross')) {
      expect(fidelity.inputs.find((i) => i.name === s.fidelityInput)).toEqual({ name: s.fidelityInput, dtype: 'float32', shape: [128, 32] });
    }
    // inspect reads the rows per sample: 64 tokens of 32 channels, 8 KiB a sample.
    const sites = inspectCompiled(path.join(work, 'opt'), { height: 128, width: 128 }).sites;
    expect(sites.map((s) => [s.tokens, s.channels, s.bytesPerSample])).toEqual(Array(4).fill([64, 32, 64 * 32 * 4]));
  });

  it("a TGATE v2 run agrees with the PyTorch export's at the same inputs (gated model and separate sessions)", async () => {
    const want = await tgateRun(path.join(work, 'plain'), 1);
    const got = await tgateRun(path.join(work, 'opt'), 1);
    expect(got.records.map((r) => [r.variant, r.batch])).toEqual(want.records.map((r) => [r.variant, r.batch]));
    expect(got.records.filter((r) => r.self === 'reuse').length).toBeGreaterThan(0);
    expect(relDiff(got.latents, want.latents)).toBeLessThan(1e-4);
    // The gate's cross caches: [64, 32] rows against [1, 64, 32], the same values.
    for (const s of optimized.manifest.sites.filter((x) => x.kind === 'cross')) {
      const twin = plain.manifest.sites.find((x) => x.scope === s.scope)!;
      expect(relDiff(got.caches[s.id]!, want.caches[twin.id]!)).toBeLessThan(1e-4);
    }
    const separate = await tgateRun(path.join(work, 'opt'), 1, 'separate');
    expect(relDiff(separate.latents, got.latents)).toBeLessThan(1e-5);
  });

  it("two samples (fixed batch 4): the gate's CFG mean pairs each sample's uncond rows with its own cond rows", async () => {
    const file = path.join(work, 'batch4.onnx');
    fs.writeFileSync(file, await pixartOrtBytes(MODELS, 4));
    const four = await compile(file, { outDir: path.join(work, 'opt4'), prover: (r) => proveArtifacts(r) });
    expect(four.manifest.sites.map((s) => s.shape)).toEqual(Array(4).fill([256, 32]));
    const want = await tgateRun(path.join(work, 'plain'), 2);
    const got = await tgateRun(path.join(work, 'opt4'), 2);
    expect(relDiff(got.latents, want.latents)).toBeLessThan(1e-4);
    for (const s of four.manifest.sites.filter((x) => x.kind === 'cross')) {
      const twin = plain.manifest.sites.find((x) => x.scope === s.scope)!;
      expect(relDiff(got.caches[s.id]!, want.caches[twin.id]!)).toBeLessThan(1e-4);
    }
    // The samples differ, so a mean over the wrong rows would not match.
    const half = want.latents.length / 2;
    expect(relDiff(want.latents.subarray(0, half), want.latents.subarray(half))).toBeGreaterThan(1e-2);
  });

  it('a batch the fixed batch cannot hold is refused with the reason, before any model runs', async () => {
    await expect(tgateRun(path.join(work, 'opt'), 3)).rejects.toThrow(/fixed batch of 2/);
  });

  it("tgate run without --height/--width takes the model's fixed latent size (not 512 px)", () => {
    const r = tgate(['run', path.join(work, 'opt'), '--steps', '2', '--json']);
    expect(r.stderr).toMatch(/latent 16x16 for 128x128 px/);
    expect(r.status).toBe(0);
  });
});

/**
 * A minimal DiT-like graph whose out-projections are 2-D MatMuls on dynamic shapes: the head
 * merge ends in Reshape [-1, C] (batch-major: Transpose [0,2,1,3] first; token-major: [2,0,1,3],
 * the [tokens, batch, channels] layout of nn.MultiheadAttention), and a Reshape restores [B, T, C].
 */
function twoDimDit(merge: 'batch-major' | 'token-major'): ModelSpec {
  const b = new GraphBuilder(5);
  const [c, heads, hd, textDim] = [8, 2, 4, 6];
  const sample = b.input('sample', ['batch_size', 4, 'height', 'width']);
  const text = b.input('encoder_hidden_states', ['batch_size', 'sequence_length', textDim]);
  b.output('out_sample', ['batch_size', 4, 'height', 'width']);
  const h = b.scope('proj_in', () => b.op('Conv', [sample, b.weight('proj_in.weight', [c, 4, 1, 1], 0.3)]));
  let x = b.op('Reshape', [b.op('Transpose', [h], { perm: { ints: [0, 2, 3, 1] } }), b.constant([0, -1, c], [3], INT64)]);
  const attention = (name: string, q: string, kv: string, kvDim: number) =>
    b.scope(name, () => {
      const proj = (p: string, input: string, rows: number) =>
        b.scope(p, () => b.op('MatMul', [input, b.weight(`${name}.${p}.${b.nodes.length}`, [rows, c], 0.3)]));
      const split = (t: string, perm: number[]) =>
        b.op('Transpose', [b.op('Reshape', [t, b.constant([0, -1, heads, hd], [4], INT64)])], { perm: { ints: perm } });
      const scores = b.op('Mul', [
        b.op('MatMul', [split(proj('to_q', q, c), [0, 2, 1, 3]), split(proj('to_k', kv, kvDim), [0, 2, 3, 1])]),
        b.constant([1 / Math.sqrt(hd)], []),
      ]);
      const ctx = b.op('MatMul', [b.op('Softmax', [scores], { axis: { i: -1 } }), split(proj('to_v', kv, kvDim), [0, 2, 1, 3])]);
      const rows = b.op('Reshape', [
        b.op('Transpose', [ctx], { perm: { ints: merge === 'batch-major' ? [0, 2, 1, 3] : [2, 0, 1, 3] } }),
        b.constant([-1, c], [2], INT64),
      ]);
      const out = b.scope('to_out.0', () =>
        b.op('Add', [b.op('MatMul', [rows, b.weight(`${name}.to_out.${b.nodes.length}`, [c, c], 0.3)]), b.weight(`${name}.to_out.bias`, [c], 0.05)]),
      );
      if (merge === 'batch-major') return b.op('Reshape', [out, b.op('Shape', [q])]);
      const tb = b.op('Shape', [b.op('Transpose', [q], { perm: { ints: [1, 0, 2] } })]);
      return b.op('Transpose', [b.op('Reshape', [out, tb])], { perm: { ints: [1, 0, 2] } });
    });
  x = b.op('Add', [attention('attn1', x, x, c), x]);
  x = b.op('Add', [attention('attn2', x, text, textDim), x]);
  const back = b.op('Reshape', [b.op('Transpose', [x], { perm: { ints: [0, 2, 1] } }), b.op('Shape', [h])]);
  const out = b.scope('proj_out', () => b.op('Conv', [back, b.weight('proj_out.weight', [4, c, 1, 1], 0.3)]));
  b.nodes.push({ op: 'Identity', inputs: [out], outputs: ['out_sample'], name: '/Identity_out' });
  return b.model();
}

describe('2-D out-projections on dynamic shapes, and the sample order of a cut', () => {
  it('batch-major rows: the cut is [batch_size*height*width, channels], proven at the probe sizes', async () => {
    const work = scratch();
    const file = path.join(work, 'model.onnx');
    fs.writeFileSync(file, encodeModelSpec(twoDimDit('batch-major')));
    const r = await compile(file, { outDir: path.join(work, 'out'), prover: (q) => proveArtifacts(q) });
    expect(r.manifest.sites.map((s) => [s.id, s.shape])).toEqual([
      ['self.0', ['batch_size*height*width', 8]],
      ['cross.0', ['batch_size*height*width', 8]],
    ]);
    expect(r.manifest.verification).toMatchObject({ skipped: false, shapesConfirmed: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('token-major rows are not a site: the CFG mean could not pair them, and the reason says so', () => {
    const report = findAttentionSites(decodeModel(encodeModelSpec(twoDimDit('token-major')), 'token-major').graph);
    expect(report.sites).toEqual([]);
    expect(report.rejected.map((x) => x.code)).toEqual(['BATCH_AXIS_MOVED', 'BATCH_AXIS_MOVED']);
  });

  it("the proof checks a cut's sample order on the numbers: a [tokens, batch, channels] tensor fails it", async () => {
    // y1 keeps the batch in front, y2 moves it to axis 1: swapping the samples swaps y1's halves only.
    const b = new GraphBuilder(1);
    const x = b.input('x', [2, 3, 2, 2]);
    b.output('y1', [2, 12]);
    b.output('y2', [12, 2]);
    b.nodes.push({ op: 'Reshape', inputs: [x, b.constant([2, 12], [2], INT64)], outputs: ['y1'], name: 'r1' });
    const t = b.op('Transpose', [b.op('Reshape', [x, b.constant([2, 12], [2], INT64)])], { perm: { ints: [1, 0] } });
    b.nodes.push({ op: 'Identity', inputs: [t], outputs: ['y2'], name: 'id' });
    const model = encodeModelSpec(b.model());
    const feeds = makeFeeds([{ name: 'x', dtype: 'float32', shape: [2, 3, 2, 2] }], {}, 4);
    const planned = await runOnce(model, feeds);
    const run = (f: typeof feeds) => runOnce(model, f);
    expect(await sampleOrderError([{ id: 'cross.0', tensor: 'y1' }], feeds, planned, run, 1e-6)).toBeNull();
    expect(await sampleOrderError([{ id: 'cross.1', tensor: 'y2' }], feeds, planned, run, 1e-6)).toMatch(
      /^Site cross.1: swapping the two halves of the batch does not swap the two halves of y2/,
    );
  });
});
