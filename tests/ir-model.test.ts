// The IR owns the model: typed attributes and constants read without protobuf, nodes created
// through the graph and encoded by io/ (run in onnxruntime), the value's type as the one source
// of truth at encode, an atomic remove(nodes), and the gated model's structural check.
import { describe, expect, it } from '@jest/globals';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { encodeGatedModelPlan } from '../io/gated-model-proto.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { inlineConstant } from '../ir/constant.js';
import { DTYPE } from '../ir/dtype.js';
import { verifyGraph } from '../ir/verify.js';
import { GraphBuilder } from '../fixtures/graph-builder.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { data, f32, maxAbsDiff, runOnce } from './helpers/ort.js';

const tinyUnet = () => decodeModel(encodeModelSpec(tinyUnetSpec()), 'tiny-unet.onnx');

describe('the IR owns the model', () => {
  it('reads typed attributes and constants without protobuf', () => {
    const g = tinyUnet().graph;
    const down = g.nodes.find((n) => n.opType === 'Conv' && n.attr.has('strides'))!;
    expect(down.attr.ints('strides')).toEqual([2, 2]);
    expect(down.attr.ints('pads')).toEqual([1, 1, 1, 1]);
    expect(down.attr.int('strides')).toBeUndefined(); // another kind: no silent conversion
    expect(down.attr.get('pads')).toEqual({ kind: 'ints', value: [1, 1, 1, 1] });
    const w = g.value('down.weight')!.constant!;
    expect(w.dtype).toBe(DTYPE.float32);
    expect(w.external).toBeNull();
    expect(w.numbers()!.length).toBe(w.dims.reduce((a, d) => a * d, 1));
  });

  it('creates a node through the graph; io/ encodes it and onnxruntime runs it', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    b.output(b.op('Relu', [x]), [2, 3]);
    const model = decodeModel(encodeModelSpec(b.model()), 'relu.onnx');
    const g = model.graph;
    const relu = g.outputs[0]!;
    const scale = g.addInitializer(inlineConstant('scale', DTYPE.float32, [], new Uint8Array(new Float32Array([3]).buffer)));
    const scaled = g.createValue('scaled', { dtype: DTYPE.float32, shape: [2, 3] });
    const mul = g.createNode({ opType: 'Mul', name: 'times3', inputs: [relu, scale], outputs: [scaled] });
    const y = g.createValue('y', { dtype: DTYPE.float32, shape: [3, 2] });
    g.createNode({ opType: 'Transpose', inputs: [scaled], outputs: [y], attributes: { perm: { kind: 'ints', value: [1, 0] } } });
    g.setOutputs([y]);
    expect(verifyGraph(g)).toEqual([]);
    expect(mul.declaredName).toBe('times3');
    const input = new Float32Array([-1, 2, -3, 4, 5, -6]);
    const out = await runOnce(encodeModel(model), { x: f32(input, [2, 3]) });
    expect(out.y!.dims).toEqual([3, 2]);
    expect(maxAbsDiff(data(out.y), [0, 12, 6, 15, 0, 0])).toBe(0);
    // Decoded again, the created node reads back the same.
    const again = decodeModel(encodeModel(model), 'again.onnx').graph;
    expect(again.nodes.find((n) => n.opType === 'Transpose')!.attr.ints('perm')).toEqual([1, 0]);
    expect(again.value('scale')!.constant!.numbers()).toEqual([3]);
  });

  it('encodes the type a value has now: a kept declaration is reused only while it still says that type', () => {
    const bytes = encodeModelSpec(tinyUnetSpec());
    const model = decodeModel(bytes, 'tiny-unet.onnx');
    expect(Buffer.from(encodeModel(model)).equals(Buffer.from(bytes))).toBe(true);
    const out = model.graph.outputs[0]!;
    const before = out.type!;
    out.type = { dtype: before.dtype, shape: [1, 4, 8, 8] };
    const changed = decodeModel(encodeModel(model), 'changed.onnx');
    expect(changed.graph.outputs[0]!.type).toEqual({ dtype: before.dtype, shape: [1, 4, 8, 8] });
    out.type = before;
    expect(Buffer.from(encodeModel(model)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('remove(nodes) removes a set at once, and a refusal changes nothing', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    const a = b.op('Relu', [x]);
    const c = b.op('Neg', [a]);
    b.op('Exp', [c]);
    b.output(b.op('Abs', [a]), [2]);
    const g = decodeModel(encodeModelSpec(b.model()), 'set.onnx').graph;
    const [relu, neg, exp] = [0, 1, 2].map((i) => g.nodes[i]!);
    // Relu's output is also read by Abs, outside the set: refused, nothing changed.
    expect(() => g.remove([relu!, neg!, exp!])).toThrow(/still used by \/Abs/);
    expect(g.nodes.length).toBe(4);
    expect(relu!.attached && neg!.attached && exp!.attached).toBe(true);
    expect(relu!.outputs[0]!.useCount).toBe(2);
    expect(verifyGraph(g)).toEqual([]);
    // Neg then Exp: Neg's output is read only inside the set.
    g.remove([neg!, exp!]);
    expect(g.nodes.map((n) => n.opType)).toEqual(['Relu', 'Abs']);
    expect(relu!.outputs[0]!.useCount).toBe(1);
    expect(verifyGraph(g)).toEqual([]);
  });

  it('checks a gated model structurally before writing it (also under --no-verify)', () => {
    const model = tinyUnet();
    const out = model.graph.outputs[0]!;
    const plan = {
      base: model,
      name: 'tgate_gated',
      ifs: [
        {
          node: 'tgate/planning',
          flag: 'tgate.run.planning',
          body: model.graph,
          renames: [] as [string, string][],
          thenName: 'tgate_planning',
          elseName: 'tgate_planning_idle',
          outputs: [{ inner: out.name, outer: `tgate.planning.${out.name}`, dtype: DTYPE.float32 }],
        },
      ],
      entries: [{ name: 'planning', flag: 'tgate.run.planning', output: `tgate.planning.${out.name}`, siteOutputs: {} }],
      extraInputs: [{ name: 'tgate.run.planning', type: { dtype: DTYPE.bool, shape: [] } }],
    };
    const gated = decodeModel(encodeGatedModelPlan(plan), 'gated.onnx').graph;
    expect(gated.nodes.map((n) => [n.opType, n.declaredName, n.inputs.map((v) => v?.name)])).toEqual([['If', 'tgate/planning', ['tgate.run.planning']]]);
    // A flag that is not a declared bool scalar input: refused before any byte is written.
    expect(() => encodeGatedModelPlan({ ...plan, extraInputs: [{ name: 'tgate.run.planning', type: { dtype: DTYPE.float32, shape: [] } }] })).toThrow(
      /not switched by a bool scalar graph input/,
    );
    // A then-branch output the variant does not give: refused (tests/gated-check.test.ts breaks real gated models).
    expect(() => encodeGatedModelPlan({ ...plan, ifs: [{ ...plan.ifs[0]!, outputs: [{ ...plan.ifs[0]!.outputs[0]!, inner: 'no.such.tensor' }] }] })).toThrow(
      /is "no\.such\.tensor", the variant's/,
    );
    // The plan's graph is left as it was.
    expect(verifyGraph(model.graph)).toEqual([]);
  });
});
