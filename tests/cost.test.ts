// MAC and parameter counts: the per-node count from inferred shapes equals the same count from
// the shapes onnxruntime actually produces (tiny models run here); on the full-size SD-1.5 graph
// at batch 1, 64x64 latents, 77 tokens it matches the published 339 G MACs (convolutions and
// linear layers) and the 401.6 G, 16.0 G (cross-attention modules) and 86.8 G (self-attention
// modules) measured from onnxruntime's tensor shapes; and the schedule cost follows the plan.
import fs from 'node:fs';
import path from 'node:path';
import { countMacs, countMacsWith } from '../analyses/cost/macs.js';
import { bindSizes, parseShapes } from '../build/schedule-cost.js';
import { inspectModel } from '../build/inspect.js';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { dtypeName } from '../ir/dtype.js';
import { inferShapes } from '../analyses/shapes/infer.js';
import { makeFeeds } from '../runtime/prove.js';
import { writeTinyUnet } from './helpers/models.js';
import { runOnce } from './helpers/ort.js';
import { ROOT, SHARED, scratch, sharedAvailable } from './helpers/paths.js';

async function ortShapes(file: string, sizes: Record<string, number>) {
  const model = decodeModel(fs.readFileSync(file), 'm');
  const g = model.graph;
  const inferred = inferShapes(g);
  for (const n of g.nodes)
    for (const v of n.outputs)
      if (v && !g.isGraphOutput(v)) {
        v.type ??= { dtype: inferred.facts.get(v)?.dtype || 1, shape: null };
        g.addOutput(v);
      }
  const probe = path.join(scratch(), 'all.onnx');
  fs.writeFileSync(probe, encodeModel(model));
  const inputs = g.inputs.filter((v) => !v.constant).map((v) => ({ name: v.name, dtype: dtypeName(v.type!.dtype), shape: v.type!.shape! }));
  const feeds = makeFeeds(inputs, sizes, 1);
  const out = await runOnce(probe, feeds);
  const fresh = decodeModel(fs.readFileSync(file), 'm').graph;
  return { graph: fresh, shapes: (name: string) => (out[name] ?? feeds[name])?.dims.slice() ?? fresh.value(name)?.constant?.dims.slice() ?? null };
}

describe('MAC counting', () => {
  it.each([
    ['tiny-unet', path.join(ROOT, 'fixtures/models/tiny-unet.onnx')],
    ['pixart-tiny', path.join(ROOT, 'fixtures/models/pixart-tiny.onnx')],
  ])("%s: the count from inferred shapes equals the count from onnxruntime's shapes", async (_l, file) => {
    const sizes = { batch_size: 2, height: 8, width: 16, sequence_length: 5 };
    const { graph, shapes } = await ortShapes(file, sizes);
    const fromOrt = countMacsWith(graph, (v) => (v ? shapes(v.name) : null));
    const inferred = countMacs(graph, inferShapes(graph), sizes);
    expect(fromOrt.uncounted).toEqual([]);
    expect(inferred.uncounted).toEqual([]);
    expect(inferred.linearMacs).toBe(fromOrt.linearMacs);
    expect(inferred.attentionMacs).toBe(fromOrt.attentionMacs);
    expect(inferred.attentionMacs).toBeGreaterThan(0);
    // Doubling the batch doubles every product (the timestep embedding included).
    const twice = countMacs(graph, inferShapes(graph), { ...sizes, batch_size: 4 });
    expect(twice.linearMacs).toBe(2 * inferred.linearMacs);
  });

  it('fused attention ops count the same MACs as the unfused modules they replace', () => {
    const sizes = { batch_size: 2, height: 8, width: 8, sequence_length: 5 };
    const count = (attention: 'torch' | 'ms-mha' | 'onnx') => {
      const g = decodeModel(fs.readFileSync(writeTinyUnet(path.join(scratch(), attention), { attention })), attention).graph;
      const c = countMacs(g, inferShapes(g), sizes);
      expect(c.uncounted).toEqual([]);
      return [c.linearMacs, c.attentionMacs];
    };
    const torch = count('torch');
    expect(count('ms-mha')).toEqual(torch);
    expect(count('onnx')).toEqual(torch);
  });

  it('binds --shape dims, refuses shapes that contradict the model, and defaults the rest per family', () => {
    const inputs = [
      { name: 'sample', dtype: 'float32', shape: ['batch', 4, 'h', 'w'] },
      { name: 'encoder_hidden_states', dtype: 'float32', shape: ['batch', 'seq', 768] },
    ];
    expect(bindSizes(inputs, 'sd').sizes).toEqual({ batch: 1, h: 64, w: 64, seq: 77 });
    expect(bindSizes(inputs, 'sdxl').sizes).toEqual({ batch: 1, h: 128, w: 128, seq: 77 });
    expect(bindSizes(inputs, 'sd', parseShapes(['sample=2x4x32x48'])).sizes).toEqual({ batch: 2, h: 32, w: 48, seq: 77 });
    expect(() => bindSizes(inputs, 'sd', parseShapes(['sample=2x3x32x48']))).toThrow(/dim 1 is fixed at 4 in the model, not 3/);
    expect(() => parseShapes(['sample=2,4'])).toThrow(/--shape takes NAME=AxBxC/);
    expect(() => bindSizes(inputs, 'sd', { latents: [1] })).toThrow(/not an input \(inputs: sample, encoder_hidden_states\)/);
  });
});

const full = path.join(SHARED, 'models/sd15-full/model.onnx');
const have = sharedAvailable('the full-size SD-1.5 MAC check') && fs.existsSync(full);
(have ? describe : describe.skip)('sd15-full at batch 1, 64x64 latents, 77 tokens', () => {
  it("matches the published and onnxruntime-measured MAC figures and SD-1.5's parameter count", () => {
    const r = inspectModel(full, { shapes: { sample: [1, 4, 64, 64], encoder_hidden_states: [1, 77, 768] } });
    const c = r.cost.call;
    // Published: 16.938 T for 25 steps with CFG = 338.76 G per call, convolutions and linear layers.
    expect(Math.abs(c.linearMacs / 338.76e9 - 1)).toBeLessThan(0.001);
    expect(Math.abs(c.allMacs / 401.6e9 - 1)).toBeLessThan(0.0005);
    const within = (kind: string) => r.sites.filter((s) => s.kind === kind).reduce((a, s) => a + s.linearMacs + s.attentionMacs, 0);
    expect(Math.abs(within('cross') / 16.0e9 - 1)).toBeLessThan(0.005);
    expect(Math.abs(within('self') / 86.8e9 - 1)).toBeLessThan(0.001);
    expect(c.params).toBe(859520964);
    // Parameters per block add up to the whole; a 320-channel cross-attention module holds
    // to_q 320x320, to_k and to_v 768x320, to_out 320x320 + bias.
    expect(r.cost.blocks.reduce((a, b) => a + b.params, 0)).toBe(c.params);
    expect(r.sites.find((x) => x.scope === '/down_blocks.0/attentions.0/transformer_blocks.0/attn2')!.params).toBe(2 * 320 * 320 + 2 * 768 * 320 + 320);
    // The schedule: 25 steps, CFG, baseline = 50 calls; v1 = 10 pairs + 15 fidelity calls.
    const s = r.cost.schedule!;
    expect(s.baseline.linearMacs).toBe(50 * c.linearMacs);
    const fidelity = r.cost.variants.find((v) => v.name === 'fidelity')!;
    expect(s.v1.linearMacs).toBe(20 * c.linearMacs + 15 * fidelity.linearMacs);
    expect(s.v1.boundLinear).toBeCloseTo((50 * c.linearMacs) / s.v1.linearMacs, 9);
    expect(s.v2!.boundAll).toBeGreaterThan(s.v1.boundAll);
  });
});
