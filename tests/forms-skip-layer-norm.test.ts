// SkipLayerNormalization that has swallowed the out-projection bias and the residual add (what
// onnxruntime's transformers optimizer emits): the module output no longer exists, so the cut is
// the out-projection's output, one constant bias away. The manifest says so; caching it is
// equivalent (the CFG mean commutes with a constant), and the sampler's results agree with the
// unfused model.
import path from 'node:path';
import { compile } from '../build/compile.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { skipLayerNormSpec } from '../fixtures/skip-layer-norm.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { makeFeeds, proveArtifacts } from '../runtime/prove.js';
import { SeededRandom } from '../runtime/random.js';
import { data, maxAbsDiff, runOnce } from './helpers/ort.js';
import { writeModelFile } from './helpers/models.js';
import { scratch } from './helpers/paths.js';

describe('SkipLayerNormalization fusions', () => {
  it('cuts before the fused bias, says so, and samples like the unfused model', async () => {
    const work = scratch();
    const write = (name: string, bytes: Uint8Array) => writeModelFile(work, name, bytes);
    const plainSpec = tinyUnetSpec();
    const plain = await compile(write('plain', encodeModelSpec(plainSpec)), { outDir: path.join(work, 'plain-out'), prover: (r) => proveArtifacts(r) });
    const fusedSpec = skipLayerNormSpec(plainSpec);
    expect(fusedSpec.nodes.filter((n) => n.op === 'SkipLayerNormalization')).toHaveLength(4);
    const fused = await compile(write('fused', encodeModelSpec(fusedSpec)), { outDir: path.join(work, 'fused-out'), prover: (r) => proveArtifacts(r) });
    expect(fused.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    for (const s of fused.manifest.sites) {
      expect(s.tensor).toMatch(/to_out\.0\/MatMul_\d+_output_0$/);
      expect(s.note).toMatch(/out-projection bias and residual add fused into .*SkipLayerNorm: cut before the bias/);
    }
    expect(plain.manifest.sites.every((s) => s.note === null)).toBe(true);

    // The cut plus the to_out bias is the unfused module output.
    const feeds = makeFeeds(plain.manifest.source.inputs, { batch_size: 2, height: 8, width: 8, sequence_length: 5 }, 2);
    const a = await runOnce(path.join(work, 'plain-out/planning.onnx'), feeds);
    const b = await runOnce(path.join(work, 'fused-out/planning.onnx'), feeds);
    for (const s of fused.manifest.sites.filter((x) => x.cached)) {
      const twin = plain.manifest.sites.find((x) => x.scope === s.scope)!;
      const matmul = fusedSpec.nodes.find((n) => n.outputs[0] === s.tensor)!;
      const biasName = plainSpec.nodes.find((n) => n.op === 'Add' && n.inputs[1] === matmul.outputs[0])!.inputs[0]!;
      const bias = plainSpec.initializers.find((t) => t.name === biasName)!.values as Float32Array;
      const withBias = Float32Array.from(data(b[s.planningOutput!]), (v, i) => v + bias[i % bias.length]!);
      expect(maxAbsDiff(withBias, data(a[twin.planningOutput!]))).toBeLessThan(1e-5);
    }

    const r = new SeededRandom(8);
    const t = (dims: number[]) => ({ data: Float32Array.from({ length: dims.reduce((x, y) => x * y, 1) }, () => r.normal()), dims });
    const io = { latents: t([1, 4, 8, 8]), cond: { encoder_hidden_states: t([1, 5, 12]) }, uncond: { encoder_hidden_states: t([1, 5, 12]) } };
    const results: Float32Array[] = [];
    for (const dir of ['plain-out', 'fused-out']) {
      const u = await GatedUNet.load(path.join(work, dir));
      results.push((await u.generate({ ...io, steps: 6, gateStep: 3, guidance: 7.5 })).latents);
      await u.release();
    }
    // Same math, other summation order inside the fused op: equal to float32 rounding.
    const scale = Math.max(...Array.from(results[0]!, Math.abs));
    expect(maxAbsDiff(results[0]!, results[1]!) / scale).toBeLessThan(1e-5);
  });
});
