// The committed SD-1.5-structure fixture (fixtures/models/sd15-struct-tiny, made by
// fixtures/export/sd15_struct_tiny.py) is self-consistent: every file its index names has the size
// its shape gives, the recorded plans are the official ones, model.onnx reproduces the official raw
// UNet outputs, and the tensors index.json names (the DeepCache cut, the shallow block's attn2
// output) hold the recorded feature and the T-GATE cache, on real onnxruntime sessions.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { DTYPE } from '../ir/dtype.js';
import { data, f32, runOnce } from './helpers/ort.js';
import { ROOT, readF32 } from './helpers/paths.js';
import { relL2 } from './helpers/reference-runs.js';

const DIR = path.join(ROOT, 'fixtures/models/sd15-struct-tiny');
const MODEL = path.join(DIR, 'model.onnx');
const REF = path.join(DIR, 'deepcache-ddim');
const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8'));
const SHALLOW_TB = 'up_blocks.3.attentions.2.transformer_blocks.0';
const LAT = [1, 4, 16, 16];
const N = 4 * 16 * 16;

interface FileRef {
  file: string;
  shape: number[];
  dtype: string;
}

function fileRefs(o: unknown, out: FileRef[] = []): FileRef[] {
  if (Array.isArray(o)) o.forEach((x) => fileRefs(x, out));
  else if (o && typeof o === 'object') {
    const r = o as Record<string, unknown>;
    if (typeof r.file === 'string' && Array.isArray(r.shape)) out.push(r as unknown as FileRef);
    else Object.values(r).forEach((x) => fileRefs(x, out));
  }
  return out;
}

const cat = (a: Float32Array, b: Float32Array) => {
  const r = new Float32Array(a.length + b.length);
  r.set(a);
  r.set(b, a.length);
  return r;
};

/** The UNet feeds of step k of a run: the previous step's latents (doubled under CFG), t, the text embeddings. */
function stepFeeds(run: string, k: number) {
  const step = index.runs[run].steps[k];
  expect(step.k).toBe(k);
  const x = k === 0 ? readF32(path.join(REF, 'inputs/latents_init.bin')) : readF32(path.join(REF, run, 'latents.bin')).slice((k - 1) * N, k * N);
  const neg = readF32(path.join(REF, 'inputs/negative_prompt_embeds.bin'));
  const pos = readF32(path.join(REF, 'inputs/prompt_embeds.bin'));
  const b = step.batch as number;
  return {
    step,
    feeds: {
      sample: f32(b === 2 ? cat(x, x) : x, [b, ...LAT.slice(1)]),
      timestep: f32(Float32Array.of(step.t), []),
      encoder_hidden_states: f32(b === 2 ? cat(neg, pos) : neg, [b, 77, 16]),
    },
  };
}

/** model.onnx with the named tensors added as graph outputs. */
function exposed(names: string[]): Uint8Array {
  const model = decodeModel(fs.readFileSync(MODEL), MODEL);
  for (const name of names) {
    const v = model.graph.requireValue(name, 'expose');
    v.type ??= { dtype: DTYPE.float32, shape: null };
    model.graph.addOutput(v);
  }
  return encodeModel(model);
}

describe('sd15-struct-tiny fixture', () => {
  it('every file index.json names exists with the byte size of its float32 shape, and the fixture stays small', () => {
    const refs = fileRefs(index);
    expect(refs.length).toBeGreaterThan(40);
    let total = 0;
    for (const r of refs) {
      expect(r.dtype).toBe('float32');
      const bytes = fs.statSync(path.join(REF, r.file)).size;
      expect(bytes).toBe(4 * r.shape.reduce((a, b) => a * b, 1));
      total += bytes;
    }
    expect(total).toBeLessThan(2 * 1024 * 1024);
    expect(fs.statSync(MODEL).size).toBeLessThan(3 * 1024 * 1024);
  });

  it('records the official plans, and the shallow network holding up_blocks.3.attentions.2 with T-GATE acting there', () => {
    expect(index.runs.deepcache.plan.steps).toBe('FssFssFssFssFssFssFssFssF');
    expect(index.runs.tgate_deepcache.plan.steps).toBe('FssFssFssFFssFssFssFssFss');
    expect(index.runs.tgate_deepcache.plan.batch).toBe('2'.repeat(10) + '1'.repeat(15));
    expect(index.runs.tgate_sa_off.plan.batch).toBe('2'.repeat(10) + '1'.repeat(15));
    const shallow: string[] = index.runs.tgate_deepcache.module_sets.shallow;
    expect(shallow).toEqual(
      expect.arrayContaining(['conv_in', 'up_blocks.3.resnets.2', 'up_blocks.3.attentions.2', `${SHALLOW_TB}.attn1`, `${SHALLOW_TB}.attn2`]),
    );
    expect(shallow).not.toContain('up_blocks.3.attentions.1');
    for (const s of index.runs.tgate_deepcache.steps) {
      if (s.deepcache.step !== 'shallow') continue;
      // Before the gate the shallow block's cross-attention computes; after it, it is the gate-step cache.
      expect(s.shallow_block_attention.attn2).toBe(s.k < 10 ? 'compute' : 'reuse');
      expect(s.modules_ran).toBe('shallow');
    }
  });

  it('model.onnx at the baseline step-0 inputs reproduces the official raw UNet output within 1e-5', async () => {
    const { feeds } = stepFeeds('baseline', 0);
    const out = await runOnce(MODEL, feeds);
    const want = readF32(path.join(REF, index.runs.baseline.files.model_out['0'].file));
    expect(relL2(data(out.out_sample), want)).toBeLessThan(1e-5);
  });

  it('the cut tensor index.json names is read with the conv_in output and holds the helper cached feature at step 0', async () => {
    const cut = index.onnx_cut;
    expect(cut.tensor).toBe('/up_blocks.3/attentions.1/Add_output_0');
    expect(cut.consumers[0].inputs).toEqual([cut.tensor, '/conv_in/Conv_output_0']);
    const { feeds } = stepFeeds('deepcache', 0);
    const out = await runOnce(exposed([cut.tensor]), feeds);
    const got = out[cut.tensor]!;
    expect(got.dims).toEqual(index.runs.deepcache.deepcache_cut.shape);
    const rows = readF32(path.join(REF, index.runs.deepcache.deepcache_cut.files.batch2.file));
    expect(relL2(data(got), rows.subarray(0, got.data.length))).toBeLessThan(1e-5);
  });

  it('at the gate step the shallow block attn2 output, averaged over the CFG pair, is the official T-GATE cache', async () => {
    const name = index.onnx_cut.shallow_attn2.tensor;
    const { step, feeds } = stepFeeds('tgate_deepcache', 9);
    expect(step.deepcache.step).toBe('full');
    const out = await runOnce(exposed([name]), feeds);
    expect(relL2(data(out.out_sample), readF32(path.join(REF, index.runs.tgate_deepcache.files.model_out['9'].file)))).toBeLessThan(1e-5);
    const a = data(out[name]);
    const half = a.length / 2;
    const mean = Float32Array.from({ length: half }, (_, i) => (a[i]! + a[half + i]!) / 2);
    const want = readF32(path.join(REF, index.runs.tgate_deepcache.ca_cache_at_gate.files[`${SHALLOW_TB}.attn2`].file));
    expect(relL2(mean, want)).toBeLessThan(1e-5);
  });
});
