// Every way a candidate can miss, on a small real graph built in code with exactly that defect:
// each graph runs in onnxruntime (it is a model an exporter could write, not a malformed one),
// and the analysis rejects its candidate with the code, the candidate node, and `at` naming the
// nodes and tensors the miss is about, each marked as a node or a tensor. The codes not covered
// here are in attention.test.ts (NO_SCORES_MATMUL), dead-sites.test.ts (DEAD_CODE),
// forms-fused-attention/forms-ort-optimized (NO_QUERY_PROJECTION) and forms-dit-2d
// (BATCH_AXIS_MOVED).
import { GraphBuilder, INT64 } from '../fixtures/graph-builder.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import type { MissCode } from '../analyses/attention/miss.js';
import { decodeModel } from '../io/decode.js';
import { tgate } from './helpers/cli.js';
import { runOnce, specFeeds } from './helpers/ort.js';
import { openSession } from '../runtime/session.js';
import { scratch } from './helpers/paths.js';
import fs from 'node:fs';
import path from 'node:path';

const C = 8;
const TOKENS = 4;
const TEXT = 3;

/** What a test needs of a built graph: the model, and the names its expectations refer to. */
interface Case {
  spec: ModelSpec;
  candidate: string;
  at: { node?: string; tensor?: string }[];
  /** onnxruntime's CPU kernels run it (packed KV MultiHeadAttention is GPU-only: loaded, not run). */
  runsOnCpu?: false;
}

const nameOf = (b: GraphBuilder, output: string) => b.nodes.find((n) => n.outputs.includes(output))!.name!;

/** The latent stream x [batch, tokens, C] and the text ctx [batch, text, C]. */
function inputs(b: GraphBuilder): { x: string; ctx: string } {
  return { x: b.input('x', ['batch', TOKENS, C]), ctx: b.input('ctx', ['batch', TEXT, C]) };
}

const project = (b: GraphBuilder, v: string, name: string) => b.op('MatMul', [v, b.weight(`${name}.weight`, [C, C], 0.3)]);

/**
 * The TorchScript form of one cross-attention module, q from x and k/v from ctx, with one part
 * left out or changed by `o`; the residual add makes the output.
 */
function unfused(o: { key?: 'raw'; value?: 'raw'; probs?: 'gated'; out?: 'none'; kv?: 'joint' } = {}) {
  const b = new GraphBuilder();
  const { x, ctx } = inputs(b);
  return b.scope('attn2', () => {
    const kvSource = o.kv === 'joint' ? b.op('Concat', [x, ctx], { axis: { i: 1 } }) : ctx;
    const q = project(b, x, 'to_q');
    const k = o.key === 'raw' ? kvSource : project(b, kvSource, 'to_k');
    const v = o.value === 'raw' ? kvSource : project(b, kvSource, 'to_v');
    const scores = b.op('MatMul', [q, b.op('Transpose', [k], { perm: { ints: [0, 2, 1] } })]);
    const softmax = b.op('Softmax', [b.op('Mul', [scores, b.constant([C ** -0.5], [])])], { axis: { i: -1 } });
    let result: string;
    let probsMatMul = '';
    if (o.probs === 'gated') {
      // The probabilities scale the scores again instead of weighting the values.
      result = b.op('MatMul', [b.op('Mul', [softmax, scores]), v]);
    } else {
      result = probsMatMul = b.op('MatMul', [softmax, v]);
    }
    const out = o.out === 'none' ? result : b.op('Add', [project(b, result, 'to_out.0'), b.weight('to_out.0.bias', [C])]);
    const y = b.op('Add', [x, out]);
    b.output(y, ['batch', TOKENS, C]);
    return { b, x, ctx, kvSource, q, k, v, scores, softmax, probsMatMul, result };
  });
}

const CASES: [MissCode, () => Case][] = [
  [
    'NO_PROBS_MATMUL',
    () => {
      const g = unfused({ probs: 'gated' });
      return { spec: g.b.model(), candidate: nameOf(g.b, g.softmax), at: [{ node: nameOf(g.b, g.softmax) }, { tensor: g.softmax }] };
    },
  ],
  [
    'NO_KEY_PROJECTION',
    () => {
      const g = unfused({ key: 'raw' });
      const transposed = g.b.nodes.find((n) => n.op === 'Transpose')!.outputs[0]!;
      return { spec: g.b.model(), candidate: nameOf(g.b, g.softmax), at: [{ node: nameOf(g.b, g.scores) }, { tensor: transposed }] };
    },
  ],
  [
    'NO_VALUE_PROJECTION',
    () => {
      const g = unfused({ value: 'raw' });
      return { spec: g.b.model(), candidate: nameOf(g.b, g.softmax), at: [{ node: nameOf(g.b, g.probsMatMul) }, { tensor: 'ctx' }] };
    },
  ],
  [
    'NO_OUT_PROJECTION',
    () => {
      const g = unfused({ out: 'none' });
      return { spec: g.b.model(), candidate: nameOf(g.b, g.softmax), at: [{ node: nameOf(g.b, g.probsMatMul) }, { tensor: g.result }] };
    },
  ],
  [
    'JOINT_ATTENTION',
    () => {
      const g = unfused({ kv: 'joint' });
      const candidate = nameOf(g.b, g.softmax);
      return { spec: g.b.model(), candidate, at: [{ node: candidate }, { tensor: 'x' }, { tensor: g.kvSource }, { tensor: g.kvSource }] };
    },
  ],
  [
    'NO_KV_PROJECTION',
    () => {
      // com.microsoft MultiHeadAttention with packed key/value [batch, text, heads, 2, head dim]
      // that no projection produced: the text itself, reshaped.
      const b = new GraphBuilder();
      const { x, ctx } = inputs(b);
      const node = b.scope('attn2', () => {
        const kv = b.op('Reshape', [b.op('Concat', [ctx, ctx], { axis: { i: -1 } }), b.constant([0, -1, 1, 2, C], [5], INT64)]);
        const mha = b.opIn('com.microsoft', 'MultiHeadAttention', [project(b, x, 'to_q'), kv], { num_heads: { i: 1 } });
        b.output(b.op('Add', [x, b.op('Add', [project(b, mha, 'to_out.0'), b.weight('to_out.0.bias', [C])])]), ['batch', TOKENS, C]);
        return { name: nameOf(b, mha), kv };
      });
      return { spec: b.model(17, { 'com.microsoft': 1 }), candidate: node.name, at: [{ node: node.name }, { tensor: node.kv }], runsOnCpu: false };
    },
  ],
  [
    'WEIGHTS_NOT_CONSTANT',
    () => {
      // com.microsoft Attention projects its own input with packed weights; here they are fed.
      const b = new GraphBuilder();
      const x = b.input('x', ['batch', TOKENS, C]);
      const w = b.input('qkv_weight', [C, 3 * C]);
      const name = b.scope('attn1', () => {
        const att = b.opIn('com.microsoft', 'Attention', [x, w, b.weight('qkv_bias', [3 * C])], { num_heads: { i: 1 } });
        b.output(b.op('Add', [x, b.op('Add', [project(b, att, 'to_out.0'), b.weight('to_out.0.bias', [C])])]), ['batch', TOKENS, C]);
        return nameOf(b, att);
      });
      return { spec: b.model(17, { 'com.microsoft': 1 }), candidate: name, at: [{ node: name }, { tensor: 'qkv_weight' }] };
    },
  ],
];

describe('every miss code on a graph with exactly that defect', () => {
  it.each(CASES)('%s', async (code, build) => {
    const c = build();
    const bytes = encodeModelSpec(c.spec);
    // A real model: onnxruntime loads it, and runs it where its CPU kernels can.
    if (c.runsOnCpu === false) await (await openSession(bytes)).release();
    else expect(Object.keys(await runOnce(bytes, specFeeds(c.spec, { batch: 2 })))).toHaveLength(1);
    const report = findAttentionSites(decodeModel(bytes, `${code}.onnx`).graph);
    expect(report.sites).toEqual([]);
    expect(report.rejected).toEqual([{ node: c.candidate, code, reason: expect.stringMatching(/\S/), at: c.at }]);
  });

  it('inspect --explain names the place of the miss; --json carries it marked as a node or a tensor', () => {
    const c = CASES.find(([code]) => code === 'NO_OUT_PROJECTION')![1]();
    const file = path.join(scratch(), 'no-out-projection.onnx');
    fs.writeFileSync(file, encodeModelSpec(c.spec));
    const [node, tensor] = [c.at[0]!.node!, c.at[1]!.tensor!];
    const text = tgate(['inspect', file, '--explain']);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`rejected NO_OUT_PROJECTION at node ${node}, tensor ${tensor}: `);
    const json = JSON.parse(tgate(['inspect', file, '--json']).stdout);
    expect(json.rejected[0].at).toEqual([{ node }, { tensor }]);
    // compile refuses it (no cross-attention), naming the same place.
    const compiled = tgate(['compile', file, '-o', path.join(scratch(), 'out'), '--no-verify']);
    expect(compiled.status).toBe(4);
    expect(compiled.stderr).toContain(`(NO_OUT_PROJECTION at node ${node}, tensor ${tensor}): `);
  });
});
