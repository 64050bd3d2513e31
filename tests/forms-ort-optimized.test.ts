// ORT-optimized exports (issue 4, form 1): what onnxruntime writes at `extended` — FusedMatMul
// score products with the scale folded in, the trailing Div by 1 removed, constants turned into
// initializers. The same sites are found, the cut carries the same value as the unfused module
// output, and the compiled graphs are proven.
import { variantOf } from '../build/manifest.js';
import fs from 'node:fs';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import { decodeModel } from '../io/decode.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { GraphBuilder } from '../fixtures/graph-builder.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { makeFeeds, proveArtifacts } from '../runtime/prove.js';
import { writeOptimizedModel } from '../runtime/session.js';
import { data, maxAbsDiff, runOnce } from './helpers/ort.js';
import { FIXTURES, ROOT, scratch, sharedAvailable } from './helpers/paths.js';

async function compileBoth(source: string, work: string): Promise<{ plain: CompileResult; optimized: CompileResult; optimizedPath: string }> {
  const optimizedPath = path.join(work, 'src-opt/model.onnx');
  fs.mkdirSync(path.dirname(optimizedPath), { recursive: true });
  await writeOptimizedModel(source, optimizedPath, 'extended');
  const plain = await compile(source, { outDir: path.join(work, 'plain'), prover: (r) => proveArtifacts(r) });
  const optimized = await compile(optimizedPath, { outDir: path.join(work, 'opt'), prover: (r) => proveArtifacts(r) });
  return { plain, optimized, optimizedPath };
}

/** Every site's cut value in the optimized compile equals the same module's in the plain one. */
async function sameCutValues(work: string, plain: CompileResult, optimized: CompileResult, dims: Record<string, number>): Promise<number> {
  const feeds = makeFeeds(plain.manifest.source.inputs, dims, 3);
  const a = await runOnce(path.join(work, 'plain/planning.onnx'), feeds);
  const b = await runOnce(path.join(work, 'opt/planning.onnx'), feeds);
  let worst = 0;
  for (const s of optimized.manifest.sites.filter((x) => x.kind === 'cross')) {
    const twin = plain.manifest.sites.find((x) => x.scope === s.scope)!;
    worst = Math.max(worst, maxAbsDiff(data(b[s.planningOutput!]), data(a[twin.planningOutput!])));
  }
  return worst;
}

describe('ORT-optimized graphs', () => {
  it('the committed tiny UNet after onnxruntime extended optimisation: same sites, same cut values, proven', async () => {
    const work = scratch();
    const { plain, optimized, optimizedPath } = await compileBoth(path.join(ROOT, 'fixtures/models/tiny-unet.onnx'), work);
    const g = decodeModel(fs.readFileSync(optimizedPath), 'opt').graph;
    expect(g.nodes.some((n) => n.domain === 'com.microsoft' && n.opType === 'FusedMatMul')).toBe(true);
    const report = findAttentionSites(g);
    expect(report.sites.map((s) => [s.kind, s.scope, s.match.variant])).toEqual([
      ['self', '/transformer_blocks.0/attn1', 'fusedmatmul-softmax-matmul'],
      ['cross', '/transformer_blocks.0/attn2', 'fusedmatmul-softmax-matmul'],
      ['self', '/transformer_blocks.1/attn1', 'fusedmatmul-softmax-matmul'],
      ['cross', '/transformer_blocks.1/attn2', 'fusedmatmul-softmax-matmul'],
    ]);
    expect(optimized.manifest.verification).toMatchObject({ planningBitExact: true, gatedBitExact: true });
    expect(variantOf(optimized.manifest, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    expect(await sameCutValues(work, plain, optimized, { batch_size: 2, height: 8, width: 8, sequence_length: 5 })).toBeLessThan(1e-5);
  });

  (sharedAvailable('ORT-optimized sd15-tiny') ? it : it.skip)(
    'sd15-tiny after extended optimisation: 6 + 6 sites, cut values equal the unfused ones',
    async () => {
      const work = scratch();
      const { plain, optimized } = await compileBoth(path.join(FIXTURES, 'sd15-tiny/model.onnx'), work);
      expect(optimized.manifest.sites.filter((s) => s.kind === 'cross')).toHaveLength(6);
      expect(optimized.manifest.sites.filter((s) => s.kind === 'self')).toHaveLength(6);
      // ORT removed the trailing "/ 1.0": the cut is the out-projection's bias Add, same value.
      expect(optimized.manifest.sites.filter((s) => s.kind !== 'deep').every((s) => /to_out\.0\/Add_output_0$/.test(s.tensor))).toBe(true);
      expect(await sameCutValues(work, plain, optimized, { batch_size: 2, height: 16, width: 16, sequence_length: 77 })).toBeLessThan(1e-5);
    },
  );
});

describe('near misses', () => {
  it('a softmax-weighted sum with no learned q/k/v projections is rejected with the reason', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['n', 6, 8]);
    const scores = b.op('MatMul', [x, b.op('Transpose', [x], { perm: { ints: [0, 2, 1] } })]);
    const mixed = b.op('MatMul', [b.op('Softmax', [scores], { axis: { i: -1 } }), x]);
    b.nodes.push({ op: 'Identity', inputs: [mixed], outputs: ['y'], name: 'out' });
    b.output('y', ['n', 6, 8]);
    const report = findAttentionSites(decodeModel(encodeModelSpec(b.model()), 'near-miss.onnx').graph);
    expect(report.sites).toEqual([]);
    expect(report.rejected).toEqual([
      {
        node: expect.stringMatching(/Softmax/),
        code: 'NO_QUERY_PROJECTION',
        reason: expect.any(String),
        at: [{ node: expect.stringMatching(/MatMul/) }, { tensor: 'x' }],
      },
    ]);
  });
});
