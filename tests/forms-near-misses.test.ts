// A near miss per export form: the tiny UNet with a softmax gate that is not attention (a softmax
// over a projection, multiplied back in), put through each form's transformation. The gate must
// be rejected with its reason, and the real sites still found.
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel } from '../io/decode.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { float16Spec } from '../fixtures/float16.js';
import { skipLayerNormSpec } from '../fixtures/skip-layer-norm.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { writeOptimizedModel } from '../runtime/session.js';
import { scratch } from './helpers/paths.js';

const decoy = (extra: Parameters<typeof tinyUnetSpec>[0] = {}) => tinyUnetSpec({ decoySoftmax: true, ...extra });

function dynamoStyle(spec: ModelSpec): ModelSpec {
  return {
    ...spec,
    nodes: spec.nodes.map((n, i) => {
      const segments = (n.name ?? '').split('/').slice(1, -1);
      return { ...n, name: `node_${n.op}_${i}`, metadata: { 'pkg.torch.onnx.name_scopes': `[${['', ...segments, `n${i}`].map((s) => `'${s}'`).join(', ')}]` } };
    }),
  };
}

function expectGateRejected(bytes: Uint8Array, sites: number): void {
  const report = findAttentionSites(decodeModel(bytes, 'near-miss.onnx').graph);
  expect(report.sites).toHaveLength(sites);
  expect(report.rejected).toHaveLength(1);
  expect(report.rejected[0]!.code).toBe('NO_SCORES_MATMUL');
}

describe('near misses in every form', () => {
  it.each([
    ['TorchScript form', () => decoy()],
    ['dynamo-style names and metadata', () => dynamoStyle(decoy())],
    ['float16 with upcast softmax', () => float16Spec(decoy())],
    ['static shapes', () => decoy({ staticShape: { batch: 2, height: 8, width: 8, sequence: 5 } })],
    ['SkipLayerNormalization fusions', () => skipLayerNormSpec(decoy())],
    ['com.microsoft MultiHeadAttention', () => decoy({ attention: 'ms-mha' })],
    ['ONNX Attention (opset 23)', () => decoy({ attention: 'onnx' })],
  ])('%s', (_, spec) => {
    expectGateRejected(encodeModelSpec(spec()), 4);
  });

  it('ORT-optimized (extended)', async () => {
    const work = scratch();
    const src = path.join(work, 'src.onnx');
    fs.writeFileSync(src, encodeModelSpec(decoy()));
    const opt = path.join(work, 'opt.onnx');
    await writeOptimizedModel(src, opt, 'extended');
    expectGateRejected(fs.readFileSync(opt), 4);
  });
});
