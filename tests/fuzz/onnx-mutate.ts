// Structural changes of a valid ONNX model for the fuzz test, made on the protobuf with onnx-buf
// (the test reaches past io/ on purpose: it must be able to write what tgate's own
// encoder never would: duplicate names, cycles, hostile external_data entries, wrong types).
import fs from 'node:fs';
import path from 'node:path';
import { clone, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import type { OnnxOp } from './case.js';
import { ensureSpecials, resolveToken } from './hostile.js';

const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[((i % xs.length) + xs.length) % xs.length] : undefined);
const enc = (s: string) => new TextEncoder().encode(s);

/** Applies the ops to the model file in place; returns notes on ops that found nothing to change. */
export function mutateOnnxFile(file: string, ops: OnnxOp[], sandbox: string): string[] {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, fs.readFileSync(file));
  } catch {
    return ['not decodable: structural ops skipped'];
  }
  const notes: string[] = [];
  for (const op of ops) {
    const g = model.graph;
    if (!g) break;
    const note = apply(model, g, op, path.dirname(file), sandbox);
    if (note) notes.push(note);
  }
  fs.writeFileSync(file, toBinary(ModelProtoSchema, model));
  return notes;
}

function valueInfos(g: GraphProto, what: 'graph-input' | 'graph-output'): ValueInfoProto[] {
  return what === 'graph-input' ? g.input : g.output;
}

function allOutputs(g: GraphProto): string[] {
  return [...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)];
}

/** The tensor's bytes as stored in raw_data (what external data would hold). */
function tensorBytes(t: TensorProto): Uint8Array {
  if (t.rawData.length) return t.rawData;
  if (t.floatData.length) return new Uint8Array(Float32Array.from(t.floatData).buffer);
  if (t.int64Data.length) return new Uint8Array(BigInt64Array.from(t.int64Data).buffer);
  if (t.int32Data.length) return new Uint8Array(Int32Array.from(t.int32Data).buffer);
  return new Uint8Array(0);
}

/** Moves a tensor's data into external data with the given entries; writes the data file if asked. */
function externalize(t: TensorProto, op: Extract<OnnxOp, { op: 'external' }>, modelDir: string, sandbox: string): void {
  const bytes = tensorBytes(t);
  const location = resolveToken(op.location, sandbox);
  ensureSpecials(location, modelDir, sandbox);
  const offset = op.offset === null ? null : op.offset;
  const length = op.length === null ? null : op.length === 'auto' ? String(bytes.length) : op.length;
  if (op.dataFile !== null) {
    // Valid data at the named place: the decimal offset if it is a small one, else at 0.
    const at = /^\d{1,7}$/.test(offset ?? '0') ? Number(offset ?? '0') : 0;
    const file = path.join(modelDir, op.dataFile);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const buf = Buffer.alloc(at + bytes.length);
    buf.set(bytes, at);
    fs.writeFileSync(file, buf);
  }
  const e = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
  t.externalData = [e('location', location), ...(offset === null ? [] : [e('offset', offset)]), ...(length === null ? [] : [e('length', length)])];
  if (op.duplicateKey) t.externalData.push(e('location', resolveToken('../secret.bin', sandbox)));
  t.dataLocation = 1;
  t.rawData = new Uint8Array(0);
  t.floatData = [];
  t.int64Data = [];
  t.int32Data = [];
}

function constantNode(output: string, t: TensorProto): NodeProto {
  return create(NodeProtoSchema, {
    opType: 'Constant',
    output: [output],
    name: `fz_const_${output}`,
    attribute: [create(AttributeProtoSchema, { name: 'value', type: 4, t })],
  });
}

function apply(model: ModelProto, g: GraphProto, op: OnnxOp, modelDir: string, sandbox: string): string | null {
  switch (op.op) {
    case 'rename': {
      const name = typeof op.name === 'string' ? op.name : (pick(allOutputs(g), op.name.sameAs) ?? 'x');
      if (op.what === 'node-input' || op.what === 'node-output' || op.what === 'node-name') {
        const n = pick(g.node, op.index);
        if (!n) return 'rename: no node';
        if (op.what === 'node-name') n.name = name;
        else {
          const slots = op.what === 'node-input' ? n.input : n.output;
          if (!slots.length) return 'rename: node has no such slot';
          slots[op.slot % slots.length] = name;
        }
        return null;
      }
      const items: { name: string }[] = op.what === 'initializer' ? g.initializer : valueInfos(g, op.what);
      const it = pick(items, op.index);
      if (!it) return `rename: no ${op.what}`;
      it.name = name;
      return null;
    }
    case 'dims': {
      if (op.what === 'initializer') {
        const t = pick(g.initializer, op.index);
        if (!t) return 'dims: no initializer';
        if (op.value === 'drop') t.dims.pop();
        else if (op.value === 'add') t.dims.push(3n);
        else if (typeof op.value === 'number' && t.dims.length) t.dims[op.dim % t.dims.length] = BigInt(op.value);
        else return 'dims: nothing to set';
        return null;
      }
      const v = pick(valueInfos(g, op.what), op.index);
      if (!v || v.type?.value.case !== 'tensorType') return `dims: no ${op.what}`;
      const tt = v.type.value.value;
      const dims = tt.shape?.dim;
      if (!dims) return 'dims: no shape';
      if (op.value === 'drop') dims.pop();
      else if (op.value === 'add') dims.push(create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: 3n } }));
      else if (dims.length) {
        const d = dims[op.dim % dims.length]!;
        d.value = typeof op.value === 'number' ? { case: 'dimValue', value: BigInt(op.value) } : { case: 'dimParam', value: op.value };
      } else return 'dims: scalar';
      return null;
    }
    case 'dtype': {
      if (op.what === 'initializer') {
        const t = pick(g.initializer, op.index);
        if (!t) return 'dtype: no initializer';
        t.dataType = op.dtype;
        return null;
      }
      const v = pick(valueInfos(g, op.what), op.index);
      if (!v || v.type?.value.case !== 'tensorType') return `dtype: no ${op.what}`;
      v.type.value.value.elemType = op.dtype;
      return null;
    }
    case 'external': {
      // The largest tensors first: weights are what external data holds in real exports.
      const inits = [...g.initializer].sort((a, b) => tensorBytes(b).length - tensorBytes(a).length);
      const src = pick(inits.slice(0, Math.max(1, Math.ceil(inits.length / 2))), op.index);
      if (!src) return 'external: no initializer';
      if (op.where === 'initializer') {
        externalize(src, op, modelDir, sandbox);
        return null;
      }
      const t = clone(TensorProtoSchema, src);
      externalize(t, op, modelDir, sandbox);
      if (op.where === 'constant') {
        // The initializer becomes a Constant node with the same output name: a valid model.
        g.initializer.splice(g.initializer.indexOf(src), 1);
        g.node.unshift(constantNode(src.name, t));
        return null;
      }
      // An If whose branches hold the external tensor; its output unused (checked all the same).
      const flag = create(TensorProtoSchema, { name: 'fz_if_cond', dataType: 9, dims: [], rawData: Uint8Array.of(1) });
      g.initializer.push(flag);
      const out = (name: string) =>
        create(ValueInfoProtoSchema, {
          name,
          type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: t.dataType }) } }),
        });
      const branch = (tag: string) => create(GraphProtoSchema, { name: `fz_${tag}`, node: [constantNode(`fz_${tag}_out`, t)], output: [out(`fz_${tag}_out`)] });
      g.node.push(
        create(NodeProtoSchema, {
          opType: 'If',
          name: 'fz_if',
          input: ['fz_if_cond'],
          output: ['fz_if_out'],
          attribute: [
            create(AttributeProtoSchema, { name: 'then_branch', type: 5, g: branch('then') }),
            create(AttributeProtoSchema, { name: 'else_branch', type: 5, g: branch('else') }),
          ],
        }),
      );
      return null;
    }
    case 'attribute': {
      const pairs = g.node.flatMap((n) => n.attribute.map((a) => ({ n, a })));
      const p = pick(pairs, op.index + op.attr);
      if (!p) return 'attribute: no attributes';
      const a = p.a;
      const c = op.change;
      if ('i' in c) Object.assign(a, { type: 2, i: BigInt(c.i) });
      else if ('f' in c) Object.assign(a, { type: 1, f: c.f === 'NaN' ? Number.NaN : c.f === 'Inf' ? Number.POSITIVE_INFINITY : c.f });
      else if ('ints' in c) Object.assign(a, { type: 7, ints: c.ints.map((x) => BigInt(x)) });
      else if ('s' in c) Object.assign(a, { type: 3, s: enc(c.s) });
      else a.type = c.type;
      return null;
    }
    case 'duplicate': {
      if (op.what === 'node') {
        const n = pick(g.node, op.index);
        if (!n) return 'duplicate: no node';
        g.node.splice(g.node.indexOf(n) + 1, 0, clone(NodeProtoSchema, n));
      } else if (op.what === 'graph-output') {
        const v = pick(g.output, op.index);
        if (!v) return 'duplicate: no output';
        g.output.push(clone(ValueInfoProtoSchema, v));
      } else {
        const t = pick(g.initializer, op.index);
        if (!t) return 'duplicate: no initializer';
        g.initializer.push(clone(TensorProtoSchema, t));
      }
      return null;
    }
    case 'cycle': {
      const n = g.node.length;
      if (!n) return 'cycle: no nodes';
      const a = ((op.from % n) + n) % n;
      const b = a + (((op.to % (n - a)) + (n - a)) % (n - a));
      const from = g.node[a]!;
      const to = g.node[b]!;
      if (!from.input.length || !to.output.length) return 'cycle: no slot';
      from.input[0] = to.output[0]!;
      return null;
    }
    case 'op-type': {
      const n = pick(g.node, op.index);
      if (!n) return 'op-type: no node';
      n.opType = op.opType;
      if (op.domain !== null) n.domain = op.domain;
      return null;
    }
    case 'remove': {
      const list: unknown[] = op.what === 'node' ? g.node : op.what === 'graph-input' ? g.input : op.what === 'graph-output' ? g.output : g.initializer;
      if (!list.length) return `remove: no ${op.what}`;
      list.splice(((op.index % list.length) + list.length) % list.length, 1);
      return null;
    }
    case 'opset': {
      const o = model.opsetImport[0];
      if (o) o.version = BigInt(op.version);
      if (op.irVersion !== null) model.irVersion = BigInt(op.irVersion);
      return null;
    }
    case 'text': {
      if (op.what === 'producer') model.producerName = op.value;
      else if (op.what === 'graph-name') g.name = op.value;
      else if (op.what === 'doc-string') g.docString = op.value;
      else model.metadataProps.push(create(StringStringEntryProtoSchema, { key: op.value, value: op.value }));
      return null;
    }
  }
}
