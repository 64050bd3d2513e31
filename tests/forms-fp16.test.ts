// float16 exports (issue 4, form 5): fp16 weights and inputs, the softmax upcast to float32 and
// back. Same sites and cut tensors as the float32 model, proven in onnxruntime (within 4 fp16
// ulps for the fidelity graph), and the sampler converts at the model boundary.
import path from 'node:path';
import { compile } from '../build/compile.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { float16Spec } from '../fixtures/float16.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { GatedUNet, type GenerateOptions } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { SeededRandom } from '../runtime/random.js';
import { writeModelFile } from './helpers/models.js';
import { scratch } from './helpers/paths.js';

describe('float16 exports', () => {
  it('finds the same sites through the upcast, proves the graphs, and samples like the float32 model', async () => {
    const work = scratch();
    const write = (name: string, bytes: Uint8Array) => writeModelFile(work, name, bytes);
    const f32 = await compile(write('f32', encodeModelSpec(tinyUnetSpec())), { outDir: path.join(work, 'f32-out'), prover: (r) => proveArtifacts(r) });
    const f16 = await compile(write('f16', encodeModelSpec(float16Spec(tinyUnetSpec()))), {
      outDir: path.join(work, 'f16-out'),
      prover: (r) => proveArtifacts(r),
    });
    expect(f16.manifest.sites.map((s) => [s.id, s.tensor])).toEqual(f32.manifest.sites.map((s) => [s.id, s.tensor]));
    expect(f16.manifest.sites.filter((s) => s.cached).every((s) => s.dtype === 'float16')).toBe(true);
    expect(f16.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true, shapesConfirmed: true });

    const r = new SeededRandom(4);
    const t = (dims: number[]) => ({ data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal()), dims });
    const io: Pick<GenerateOptions, 'latents' | 'cond' | 'uncond'> = {
      latents: t([1, 4, 8, 8]),
      cond: { encoder_hidden_states: t([1, 5, 12]) },
      uncond: { encoder_hidden_states: t([1, 5, 12]) },
    };
    const run = async (dir: string, sessions: 'gated' | 'pair') => {
      const u = await GatedUNet.load(dir, { sessions });
      const res = await u.generate({ ...io, steps: 8, gateStep: 4, guidance: 7.5 });
      await u.release();
      return res.latents;
    };
    const half = await run(path.join(work, 'f16-out'), 'gated');
    const full = await run(path.join(work, 'f32-out'), 'gated');
    expect(await run(path.join(work, 'f16-out'), 'pair')).toEqual(half);
    let num = 0;
    let den = 0;
    half.forEach((v, i) => {
      num += (v - full[i]!) ** 2;
      den += full[i]! ** 2;
    });
    expect(Math.sqrt(num / den)).toBeLessThan(2e-2);
  });
});
