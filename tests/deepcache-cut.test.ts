// The DeepCache cut is found by structure: on sd15-tiny, branch 0 is the tensor the official
// DeepCache helper caches (its name recorded in the reference, its values equal to the recorded
// feature within 1e-5 relative L2); on sdxl-tiny the last-but-one resnet of the last up block; on
// the SD-1.5-structure graph `up_blocks.3.attentions.1`'s output, every branch id a distinct tensor,
// deeper for larger ids. Scrambling every name and the node order moves no cut; a DiT has none.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { findDeepCacheCut, type DeepCacheCut } from '../analyses/deepcache/find-cut.js';
import { isDeepCacheMiss, type DeepCacheMiss } from '../analyses/deepcache/miss.js';
import { ancestorNodes } from '../analyses/deepcache/reach.js';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { loadSource } from '../io/load.js';
import { DTYPE } from '../ir/dtype.js';
import { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import { runOnce } from './helpers/ort.js';
import { FIXTURES, ROOT, SHARED, readF32, sharedAvailable } from './helpers/paths.js';
import { relL2 } from './helpers/reference-runs.js';

const have = sharedAvailable('the DeepCache cut on the shared UNet exports');
const TINY = path.join(FIXTURES, 'sd15-tiny/model.onnx');
const REF = path.join(FIXTURES, 'tgate-ref/sd15-tiny/deepcache-ddim');

function graphOf(file: string): Graph {
  return loadSource(file, { externalData: { requireFiles: false } }).decode().graph;
}

function cut(g: Graph, branch = 0): DeepCacheCut {
  const r = findDeepCacheCut(g, branch);
  if (isDeepCacheMiss(r)) throw new Error(`branch ${branch}: ${r.code}: ${r.reason}`);
  return r;
}

function missOf(r: DeepCacheCut | DeepCacheMiss): DeepCacheMiss {
  if (!isDeepCacheMiss(r)) throw new Error(`expected a miss, found ${r.tensor}`);
  return r;
}

/** A deterministic permutation of 0..n-1 (a small LCG drives Fisher-Yates). */
function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** The same graph with every node and value renamed to meaningless names and the nodes shuffled; `map` takes old values to new. */
function scrambled(src: Graph): { graph: Graph; map: Map<Value, Value> } {
  const g = new Graph();
  const map = new Map<Value, Value>();
  for (const v of src.initializers) map.set(v, g.addInitializer(v.constant!));
  for (const v of src.inputs) {
    if (map.has(v)) continue;
    const nv = g.createValue(v.name, v.type);
    g.addInput(nv);
    map.set(v, nv);
  }
  for (const n of src.nodes) for (const o of n.outputs) if (o) map.set(o, g.createValue(o.name, o.type));
  const nodes = src.nodes;
  const order = permutation(nodes.length, 7);
  const nodeNames = permutation(nodes.length, 11);
  order.forEach((i, k) => {
    const n = nodes[i]!;
    expect(n.implicitInputs).toHaveLength(0);
    g.createNode({
      opType: n.opType,
      domain: n.domain,
      name: `n${nodeNames[k]}`,
      inputs: n.inputs.map((v) => (v ? map.get(v)! : null)),
      outputs: n.outputs.map((v) => (v ? map.get(v)! : null)),
      attributes: n.attr,
    });
  });
  g.setOutputs(src.outputs.map((v) => map.get(v)!));
  // Two rounds, so no new name collides with an old one still present.
  const values = [...g.values()];
  const names = permutation(values.length, 13);
  values.forEach((v, i) => g.renameValue(v, `tmp-${i}`));
  values.forEach((v, i) => g.renameValue(v, `v${names[i]}`));
  return { graph: g, map };
}

(have ? describe : describe.skip)('DeepCache cut on real UNet exports', () => {
  it('sd15-tiny branch 0: the tensor the official helper caches, by name and by value', async () => {
    const index = JSON.parse(fs.readFileSync(path.join(REF, 'index.json'), 'utf8'));
    const c = cut(graphOf(TINY));
    expect(c.tensor).toBe(index.onnx_cut.tensor);
    expect(c.tensor).toBe('/up_blocks.1/resnets.1/Div_output_0');
    expect(c.producer).toBe(index.onnx_cut.node);
    expect(c.consumer).toBe(index.onnx_cut.consumers[0].node);
    expect(c.skip).toBe('/conv_in/Conv_output_0');
    expect(c.upBlocks).toEqual([3, 3]);
    expect(c).toMatchObject({ block: 0, layer: 0, upBlock: 1, upLayer: 2, branches: 6, scope: '/up_blocks.1/resnets.1' });

    // The full graph with the cut exposed, fed the deepcache run's step-0 CFG inputs (k 0, t 961).
    const model = decodeModel(fs.readFileSync(TINY), TINY);
    const v = model.graph.requireValue(c.tensor, 'expose');
    v.type ??= { dtype: DTYPE.float32, shape: null };
    model.graph.addOutput(v);
    const step0 = index.runs.deepcache.steps[0];
    expect(step0).toMatchObject({ k: 0, t: 961, batch: 2, encoder_hidden_states: 'cat[uncond,cond]' });
    const latents = readF32(path.join(REF, 'inputs/latents_init.bin'));
    const neg = readF32(path.join(REF, 'inputs/negative_prompt_embeds.bin'));
    const pos = readF32(path.join(REF, 'inputs/prompt_embeds.bin'));
    const cat = (a: Float32Array, b: Float32Array) => Float32Array.from([...a, ...b]);
    const out = await runOnce(encodeModel(model), {
      sample: new ort.Tensor('float32', cat(latents, latents), [2, 4, 32, 32]),
      timestep: new ort.Tensor('float32', Float32Array.of(step0.t), []),
      encoder_hidden_states: new ort.Tensor('float32', cat(neg, pos), [2, 77, 32]),
    });
    const got = out[c.tensor]!;
    expect(got.dims).toEqual(index.runs.deepcache.deepcache_cut.shape);
    const rows = readF32(path.join(REF, 'deepcache/deepcache_feature_batch2.bin'));
    const want = rows.subarray(0, got.data.length);
    const err = relL2(got.data as Float32Array, want);
    console.log(`sd15-tiny DeepCache feature at step 0: relative L2 ${err.toExponential(2)} against the official helper's cache`);
    expect(err).toBeLessThan(1e-5);
  });

  it('sdxl-tiny branch 0: the last up block has no attention, so its last-but-one resnet', () => {
    const c = cut(graphOf(path.join(FIXTURES, 'sdxl-tiny/model.onnx')));
    expect(c.scope).toBe('/up_blocks.1/resnets.1');
    expect(c.skip).toBe('/conv_in/Conv_output_0');
    expect(c.upBlocks).toEqual([3, 3]);
    expect(c.evidence.join('\n')).toContain('scope is /up_blocks.1/resnets.1');
  });

  it('sd15-small (SD-1.5 blocks): branch 0 is up_blocks.3.attentions.1, and every branch is a distinct, deeper cut', () => {
    const g = graphOf(path.join(SHARED, 'models/sd15-small/model.onnx'));
    const c0 = cut(g);
    expect(c0.tensor).toBe('/up_blocks.3/attentions.1/Add_output_0');
    expect(c0.consumer).toBe('/up_blocks.3/Concat_2');
    expect(c0.skip).toBe('/conv_in/Conv_output_0');
    expect(c0.upBlocks).toEqual([3, 3, 3, 3]);
    expect(c0.branches).toBe(12);
    const cuts = Array.from({ length: c0.branches }, (_, b) => cut(g, b));
    expect(new Set(cuts.map((c) => c.tensor)).size).toBe(12);
    for (let b = 1; b < cuts.length; b++) {
      // Deeper: the larger id's cut flows into the smaller id's cut.
      const shallower = g.requireValue(cuts[b - 1]!.tensor, 'read');
      const deeper = g.requireValue(cuts[b]!.tensor, 'read');
      expect(ancestorNodes([shallower]).has(deeper.producer!)).toBe(true);
      expect(cuts[b]).toMatchObject({ block: Math.floor(b / 3), layer: b % 3, upBlock: 3 - Math.floor(b / 3), upLayer: 2 - (b % 3) });
    }
    expect(cuts[2]!.scope).toBe('/up_blocks.2/upsamplers.0/conv');
    expect(cuts[11]!.tensor).toBe('/mid_block/resnets.1/Div_output_0');
    for (const b of [12, -1, 1.5]) expect(missOf(findDeepCacheCut(g, b)).code).toBe('BRANCH_OUT_OF_RANGE');
  });

  it('scrambled names and node order: the same cuts, found without any name', () => {
    const src = graphOf(TINY);
    const { graph, map } = scrambled(src);
    expect(graph.nodes.some((n) => n.name.includes('up_blocks'))).toBe(false);
    expect(graph.value('/up_blocks.1/resnets.1/Div_output_0')).toBeUndefined();
    for (let b = 0; b < 6; b++) {
      const want = cut(src, b);
      const got = cut(graph, b);
      expect(graph.value(got.tensor)).toBe(map.get(src.requireValue(want.tensor, 'read')));
      expect(graph.value(got.skip)).toBe(map.get(src.requireValue(want.skip, 'read')));
      expect(got.scope).toBeNull();
      expect({ ...got, tensor: '', skip: '', producer: '', consumer: '', scope: null, evidence: [] }).toEqual({
        ...want,
        tensor: '',
        skip: '',
        producer: '',
        consumer: '',
        scope: null,
        evidence: [],
      });
    }
  });
});

describe('DeepCache cut misses', () => {
  it('a DiT (no UNet up path) gives the coded miss', () => {
    const g = graphOf(path.join(ROOT, 'fixtures/models/pixart-tiny.onnx'));
    const m = missOf(findDeepCacheCut(g));
    expect(m.code).toBe('NO_UP_PATH');
    expect(m.reason).toMatch(/no UNet up path/);
  });
});
