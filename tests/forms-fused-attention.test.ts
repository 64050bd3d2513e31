// Fused attention ops (issue 4, form 2): com.microsoft MultiHeadAttention with separate q/k/v,
// packed KV and packed QKV, and the ONNX opset-23 Attention op. The same weights as the
// TorchScript-form tiny UNet, so each site's cut value is checked against the unfused module.
import { variantOf } from '../build/manifest.js';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import { decodeModel } from '../io/decode.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { tinyUnetSpec, type TinyUnetOptions } from '../fixtures/tiny-unet.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { makeFeeds, proveArtifacts } from '../runtime/prove.js';
import { writeTinyUnet } from './helpers/models.js';
import { data, maxAbsDiff, runOnce } from './helpers/ort.js';
import { scratch } from './helpers/paths.js';

async function compiled(work: string, name: string, opts: TinyUnetOptions, prove: boolean): Promise<CompileResult> {
  const src = writeTinyUnet(path.join(work, `${name}-src`), opts);
  return compile(src, { outDir: path.join(work, name), prover: prove ? (r) => proveArtifacts(r) : null });
}

describe('fused attention ops', () => {
  it.each([
    ['ms-mha', 'ms-multihead-attention'],
    ['onnx', 'onnx-attention'],
  ] as const)('%s: sites found, proven, and cut values equal the unfused modules', async (form, variant) => {
    const work = scratch();
    const report = findAttentionSites(decodeModel(encodeModelSpec(tinyUnetSpec({ attention: form })), 'm').graph);
    expect(report.sites.map((s) => [s.kind, s.scope, s.match.variant])).toEqual([
      ['self', '/transformer_blocks.0/attn1', variant],
      ['cross', '/transformer_blocks.0/attn2', variant],
      ['self', '/transformer_blocks.1/attn1', variant],
      ['cross', '/transformer_blocks.1/attn2', variant],
    ]);
    const plain = await compiled(work, 'plain', {}, true);
    const fused = await compiled(work, 'fused', { attention: form }, true);
    expect(fused.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    expect(variantOf(fused.manifest, 'fidelity').removedInputs).toEqual(['encoder_hidden_states']);
    const feeds = makeFeeds(plain.manifest.source.inputs, { batch_size: 2, height: 8, width: 8, sequence_length: 5 }, 9);
    const a = await runOnce(path.join(work, 'plain/planning.onnx'), feeds);
    const b = await runOnce(path.join(work, 'fused/planning.onnx'), feeds);
    for (const s of fused.manifest.sites.filter((x) => x.cached)) {
      const twin = plain.manifest.sites.find((x) => x.scope === s.scope)!;
      expect(maxAbsDiff(data(b[s.planningOutput!]), data(a[twin.planningOutput!]))).toBeLessThan(1e-5);
    }
    expect(maxAbsDiff(data(b.out_sample), data(a.out_sample))).toBeLessThan(1e-4);
  });

  it('packed QKV is self and packed KV is cross, by data flow; the text projection leaves the fidelity graph', async () => {
    const work = scratch();
    const report = findAttentionSites(decodeModel(encodeModelSpec(tinyUnetSpec({ attention: 'ms-mha-packed' })), 'm').graph);
    expect(report.sites.map((s) => [s.kind, s.match.variant])).toEqual([
      ['self', 'ms-multihead-attention-packed-qkv'],
      ['cross', 'ms-multihead-attention-packed-kv'],
      ['self', 'ms-multihead-attention-packed-qkv'],
      ['cross', 'ms-multihead-attention-packed-kv'],
    ]);
    for (const s of report.sites.filter((x) => x.kind === 'cross')) {
      expect(s.match.kProj).toBe(s.match.vProj);
      expect(s.conditioning).toEqual(['encoder_hidden_states']);
    }
    // onnxruntime has no CPU kernel for packed MultiHeadAttention, so no proof here: structure only.
    const r = await compiled(work, 'packed', { attention: 'ms-mha-packed' }, false);
    expect(r.manifest.verification).toEqual({ skipped: true });
    const fidelity = decodeModel((await import('node:fs')).readFileSync(path.join(work, 'packed/fidelity.onnx')), 'f').graph;
    expect(fidelity.inputs.map((v) => v.name)).not.toContain('encoder_hidden_states');
    expect(fidelity.nodes.filter((n) => n.opType === 'MultiHeadAttention')).toHaveLength(2);
    expect(fidelity.nodes.some((n) => n.declaredName.includes('to_kv'))).toBe(false);
  });

  it('near miss: a MultiHeadAttention over unprojected inputs is rejected with the reason', () => {
    const spec = tinyUnetSpec({ attention: 'ms-mha' });
    // Feed the first attention op its raw input instead of the projected query.
    const mha = spec.nodes.find((n) => n.op === 'MultiHeadAttention')!;
    const raw = spec.nodes.find((n) => n.name?.includes('norm1'))!.outputs[0]!;
    const nodes = spec.nodes.map((n) => (n === mha ? { ...n, inputs: [raw, ...n.inputs.slice(1)] } : n));
    const report = findAttentionSites(decodeModel(encodeModelSpec({ ...spec, nodes }), 'm').graph);
    expect(report.sites).toHaveLength(3);
    const node = expect.stringMatching(/MultiHeadAttention/);
    expect(report.rejected).toEqual([{ node, code: 'NO_QUERY_PROJECTION', reason: expect.any(String), at: [{ node }, { tensor: raw }] }]);
  });
});
