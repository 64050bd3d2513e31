// The attention-site analysis on graphs built in code: sites by structure, cross vs self by data
// flow (names only label), rejected candidates carry reasons, and the analysis never mutates.
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { parsePythonStringList } from '../analyses/attention/scope.js';

function analyse(spec = tinyUnetSpec()) {
  const m = decodeModel(encodeModelSpec(spec), 'tiny.onnx');
  return { m, report: findAttentionSites(m.graph) };
}

describe('attention sites', () => {
  it('finds every attn1 as self and every attn2 as cross, in graph order', () => {
    const { report } = analyse();
    expect(report.candidates).toBe(4);
    expect(report.rejected).toEqual([]);
    expect(report.sites.map((s) => [s.id, s.kind, s.scope])).toEqual([
      ['self.0', 'self', '/transformer_blocks.0/attn1'],
      ['cross.0', 'cross', '/transformer_blocks.0/attn2'],
      ['self.1', 'self', '/transformer_blocks.1/attn1'],
      ['cross.1', 'cross', '/transformer_blocks.1/attn2'],
    ]);
    for (const s of report.sites) {
      expect(s.conditioning).toEqual(s.kind === 'cross' ? ['encoder_hidden_states'] : []);
      expect(s.type).toEqual({ dtype: 1, shape: ['batch_size', 'height/2*width/2', 16] });
    }
  });

  it('cuts after the out-projection bias and the rescale, before the residual add', () => {
    const { report } = analyse();
    for (const s of report.sites) {
      const producer = s.match.output.producer!;
      expect(producer.opType).toBe('Div');
      expect(producer.inputs[0]!.producer!.opType).toBe('Add');
      expect(s.match.outProj.outputs[0]!.uses()[0]!.node).toBe(producer.inputs[0]!.producer);
      const consumers = s.match.output.uses().map((u) => u.node.opType);
      expect(consumers).toEqual(['Add']);
      expect(s.match.qProj.declaredName).toMatch(/to_q/);
      expect(s.match.kProj.declaredName).toMatch(/to_k/);
      expect(s.match.vProj.declaredName).toMatch(/to_v/);
    }
  });

  it('decides cross vs self by data flow when the export has no names at all', () => {
    const spec = tinyUnetSpec();
    const anonymous = { ...spec, nodes: spec.nodes.map((n) => ({ ...n, name: '' })) };
    const { report } = analyse(anonymous);
    expect(report.sites.map((s) => s.kind)).toEqual(['self', 'cross', 'self', 'cross']);
    expect(report.sites.every((s) => s.scope === null)).toBe(true);
  });

  it('is not fooled by names: a self-attention labelled attn2 stays self', () => {
    const spec = tinyUnetSpec({ crossAttention: false });
    const renamed = { ...spec, nodes: spec.nodes.map((n) => ({ ...n, name: n.name?.replace('attn1', 'attn2') })) };
    const { report } = analyse(renamed);
    expect(report.sites.map((s) => [s.kind, s.scope])).toEqual([
      ['self', '/transformer_blocks.0/attn2'],
      ['self', '/transformer_blocks.1/attn2'],
    ]);
  });

  it('rejects a softmax that is not attention, with the reason', () => {
    const { report } = analyse(tinyUnetSpec({ decoySoftmax: true }));
    expect(report.candidates).toBe(5);
    expect(report.sites).toHaveLength(4);
    const softmax = expect.stringMatching(/gate\/Softmax/);
    expect(report.rejected).toEqual([{ node: softmax, code: 'NO_SCORES_MATMUL', reason: expect.any(String), at: [{ node: softmax }] }]);
  });

  it('never mutates the graph', () => {
    const spec = tinyUnetSpec({ decoySoftmax: true });
    const bytes = encodeModelSpec(spec);
    const m = decodeModel(bytes, 'tiny.onnx');
    findAttentionSites(m.graph);
    expect(Buffer.from(encodeModel(m)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('reads module paths from dynamo metadata_props when node names are generic', () => {
    const spec = tinyUnetSpec();
    // As torch.onnx.export(dynamo=True) writes them: generic names, the module stack in
    // pkg.torch.onnx.name_scopes, as relative names on one variant and full dotted paths on the other.
    for (const full of [false, true]) {
      const nodes = spec.nodes.map((n, i) => {
        const segments = (n.name ?? '').split('/').slice(1, -1);
        const scopes = ['', ...segments.map((s, j) => (full ? segments.slice(0, j + 1).join('.') : s)), `node_${i}`];
        return { ...n, name: `node_${n.op}_${i}`, metadata: { 'pkg.torch.onnx.name_scopes': `[${scopes.map((s) => `'${s}'`).join(', ')}]` } };
      });
      const { report } = analyse({ ...spec, nodes });
      expect(report.sites.map((s) => s.scope)).toEqual([
        '/transformer_blocks.0/attn1',
        '/transformer_blocks.0/attn2',
        '/transformer_blocks.1/attn1',
        '/transformer_blocks.1/attn2',
      ]);
    }
  });

  it('labels LDM-layout checkpoints (input_blocks/middle_block/output_blocks) by their own names', () => {
    const spec = tinyUnetSpec();
    const ldm = {
      ...spec,
      nodes: spec.nodes.map((n) => ({ ...n, name: n.name?.replace(/^\/transformer_blocks\.(\d)/, '/input_blocks.$1/1/transformer_blocks.0') })),
    };
    const { report } = analyse(ldm);
    expect(report.sites.map((s) => [s.kind, s.scope])).toEqual([
      ['self', '/input_blocks.0/1/transformer_blocks.0/attn1'],
      ['cross', '/input_blocks.0/1/transformer_blocks.0/attn2'],
      ['self', '/input_blocks.1/1/transformer_blocks.0/attn1'],
      ['cross', '/input_blocks.1/1/transformer_blocks.0/attn2'],
    ]);
  });

  it('parses Python string-list literals', () => {
    expect(parsePythonStringList("['', 'down_blocks.1', \"it's\"]")).toEqual(['', 'down_blocks.1', "it's"]);
    expect(parsePythonStringList('not a list')).toBeNull();
  });
});
