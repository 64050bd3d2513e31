// Lossless model I/O: decode then encode gives the same bytes, including fields newer than
// ONNX 1.10 (node metadata_props, float8/int4 tensors) and fields no schema knows.
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { DTYPE } from '../ir/dtype.js';
import { FIXTURES, sharedAvailable } from './helpers/paths.js';

function modernSpec(): ModelSpec {
  return {
    opset: 21,
    irVersion: 10,
    inputs: [{ name: 'x', dtype: 1, shape: ['n', 4] }],
    outputs: [{ name: 'y', dtype: 1, shape: ['n', 4] }],
    initializers: [
      { name: 'w', dtype: 1, dims: [4], values: [1, 2, 3, 4] },
      // float8e4m3fn (17) and int4 (22): data types ONNX 1.10 does not know.
      { name: 'f8', dtype: 17, dims: [4], raw: Uint8Array.of(1, 2, 3, 4) },
      { name: 'i4', dtype: 22, dims: [4], raw: Uint8Array.of(0x21, 0x43) },
    ],
    nodes: [
      {
        op: 'Add',
        inputs: ['x', 'w'],
        outputs: ['y'],
        name: '/block/Add',
        metadata: { 'pkg.torch.onnx.name_scopes': "['', 'block']", namespace: 'block: Block' },
        unknownVarint: { field: 77, value: 300 },
      },
    ],
    // field 99 (varint 7) and field 100 (length-delimited "hi"): unknown to every ONNX schema.
    unknownTrailer: Uint8Array.of(0x98, 0x06, 7, 0xa2, 0x06, 2, 0x68, 0x69),
  };
}

describe('model I/O round trip', () => {
  it('re-encodes a model with newer fields and unknown fields byte for byte', () => {
    const bytes = encodeModelSpec(modernSpec());
    const model = decodeModel(bytes, 'modern.onnx');
    expect([...model.graph.nodes[0]!.metadata.keys()]).toEqual(['pkg.torch.onnx.name_scopes', 'namespace']);
    expect(model.graph.value('f8')!.constant!.dtype).toBe(DTYPE.float8e4m3fn);
    const again = encodeModel(model);
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps metadata_props and unknown fields on nodes it rewires', () => {
    const bytes = encodeModelSpec(modernSpec());
    const model = decodeModel(bytes, 'modern.onnx');
    const g = model.graph;
    const node = g.nodes[0]!;
    const x2 = g.createValue('x2', { dtype: 1, shape: ['n', 4] });
    g.addInput(x2);
    node.setInput(0, x2);
    const round = decodeModel(encodeModel(model), 'again.onnx');
    const n2 = round.graph.nodes[0]!;
    expect(n2.inputs[0]!.name).toBe('x2');
    expect(n2.metadata.get('namespace')).toBe('block: Block');
    // The model-level unknown fields survive: the trailer bytes are still at the end.
    const out = encodeModel(round);
    expect(Buffer.from(out.slice(-8)).equals(Buffer.from(modernSpec().unknownTrailer!))).toBe(true);
    // ...and so does the node's own unknown field (77 = 300 as a varint: tag 0xe8 0x04, value 0xac 0x02).
    const nodeBytes = Buffer.from(out);
    expect(nodeBytes.includes(Buffer.from([0xe8, 0x04, 0xac, 0x02]))).toBe(true);
    expect(Buffer.from(bytes).includes(Buffer.from([0xe8, 0x04, 0xac, 0x02]))).toBe(true);
  });

  it('refuses bytes that are not a model, naming the file', () => {
    expect(() => decodeModel(new TextEncoder().encode('{"not": "onnx"}'), 'x.json')).toThrow(/x\.json is not/);
    const good = encodeModelSpec(modernSpec());
    expect(() => decodeModel(good.slice(0, good.length - 30), 'cut.onnx')).toThrow(/cut\.onnx/);
  });

  const have = sharedAvailable('round trip of the shared exports');
  (have ? it : it.skip).each(['sd15-tiny/model.onnx', 'sd15-tiny/model_opset14.onnx', 'sdxl-tiny/model.onnx'])(
    'round-trips the real export %s byte for byte',
    (rel) => {
      const bytes = fs.readFileSync(path.join(FIXTURES, rel));
      expect(Buffer.from(encodeModel(decodeModel(bytes, rel))).equals(bytes)).toBe(true);
    },
  );
});
