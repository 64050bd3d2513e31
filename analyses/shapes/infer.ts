// Symbolic shape inference over the ops UNet and DiT exports use. Every tensor gets a shape whose
// dims are symbolic sizes (Sym) over the graph inputs' named dims, or null where a dim cannot be
// said; a tensor whose rank cannot be said gets a null shape. Small integer tensors (the shape
// arithmetic in front of Reshape/Expand/Slice) also get their values, so "height*width" survives
// Shape -> Gather -> Mul -> Concat -> Reshape. An op with no rule here makes its outputs unknown,
// never an error. Pure analysis: the graph is not touched.
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { constantNumbers } from '../attention/constants.js';
import { parseDim, Sym } from './sym.js';

export type Shape = (Sym | null)[];

export interface Facts {
  /** null: rank unknown. */
  shape: Shape | null;
  /** Element type (TensorProto.DataType), 0 when unknown; set by inferShapes after each rule. */
  dtype?: number;
  /** Element values, for small integer tensors (rank <= 1) whose values are known or symbolic. */
  values?: (Sym | null)[];
}

export interface ShapeInference {
  facts: Map<Value, Facts>;
  /** Ops without a rule, by op type, with how many nodes. */
  unsupported: Record<string, number>;
}

const MAX_TRACKED = 16;
const INT_TYPES = new Set([6, 7, 2, 3, 4, 5, 12, 13]);

type Rule = (n: Node, ins: (Facts | null)[], g: Graph) => (Facts | null)[];

const known = (shape: Shape | null): Facts => ({ shape });
const rank = (f: Facts | null) => f?.shape?.length ?? null;

function axis(a: number, r: number): number {
  return a < 0 ? a + r : a;
}

/** Known integers of an input: a constant, or tracked values that are all constant. */
function ints(v: Value | null | undefined, f: Facts | null | undefined): number[] | null {
  if (!v) return null;
  const c = constantNumbers(v);
  if (c) return c.map((x) => Math.trunc(x));
  if (f?.values && f.values.every((x) => x?.value !== null && x !== null)) return f.values.map((x) => x!.value!);
  return null;
}

function broadcastDim(a: Sym | null, b: Sym | null): Sym | null {
  if (a && a.value === 1) return b;
  if (b && b.value === 1) return a;
  if (a && b) return a.equals(b) ? a : a.isConst && b.isConst ? null : a.isConst ? a : b.isConst ? b : a;
  return a ?? b ?? null;
}

function broadcast(shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const r = Math.max(...shapes.map((s) => s!.length));
  const out: Shape = [];
  for (let i = 0; i < r; i++) {
    let d: Sym | null = Sym.of(1);
    let first = true;
    for (const s of shapes) {
      const j = i - (r - s!.length);
      if (j < 0) continue;
      d = first ? s![j]! : broadcastDim(d, s![j]!);
      first = false;
    }
    out.push(d);
  }
  return out;
}

function product(dims: Shape): Sym | null {
  let p: Sym = Sym.of(1);
  for (const d of dims) {
    if (!d) return null;
    p = p.mul(d);
  }
  return p;
}

/** Elementwise arithmetic on tracked values (shape math), broadcasting a single value. */
function valuesOf(ins: (Facts | null)[], op: (a: Sym, b: Sym) => Sym | null): (Sym | null)[] | undefined {
  const [a, b] = [ins[0]?.values, ins[1]?.values];
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length === 1 ? 0 : i];
    const y = b[b.length === 1 ? 0 : i];
    return x && y ? op(x, y) : null;
  });
}

const same: Rule = (_n, ins) => [ins[0] ? { shape: ins[0].shape, values: ins[0].values } : null];
const sameShape: Rule = (n, ins) => n.outputs.map(() => (ins[0] ? known(ins[0].shape) : null));

function elementwise(op?: (a: Sym, b: Sym) => Sym | null): Rule {
  return (_n, ins) => {
    const shape = broadcast(ins.filter((f, i) => f || i < 2).map((f) => f?.shape ?? null));
    const values = op ? valuesOf(ins, op) : undefined;
    return [values ? { shape, values } : known(shape)];
  };
}

function reduce(n: Node, ins: (Facts | null)[], axesFromInput: boolean): Facts | null {
  const s = ins[0]?.shape;
  if (!s) return known(null);
  const keep = (n.intAttr('keepdims') ?? 1) === 1;
  const axes = axesFromInput ? ints(n.inputs[1], ins[1]) : (n.intsAttr('axes') ?? null);
  if (axes === null && axesFromInput && n.inputs[1]) return known(null);
  const all = !axes || axes.length === 0;
  const set = new Set((axes ?? []).map((a) => axis(a, s.length)));
  const out: Shape = [];
  s.forEach((d, i) => {
    if (all || set.has(i)) {
      if (keep) out.push(Sym.of(1));
    } else out.push(d);
  });
  return known(out);
}

function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b) return null;
  const a2 = a.length === 1 ? [Sym.of(1), a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, Sym.of(1)] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return null;
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

/** Conv/pool output size: floor((in + pads - dilation*(k-1) - 1) / stride) + 1. */
function windowed(n: Node, x: Shape, kernel: (Sym | null)[], channelsOut: Sym | null): Shape {
  const spatial = x.length - 2;
  const strides = n.intsAttr('strides') ?? Array(spatial).fill(1);
  const dil = n.intsAttr('dilations') ?? Array(spatial).fill(1);
  const pads = n.intsAttr('pads') ?? Array(2 * spatial).fill(0);
  const autoPad = n.proto.attribute.find((a) => a.name === 'auto_pad');
  const mode = autoPad ? new TextDecoder().decode(autoPad.s) : 'NOTSET';
  const out: Shape = [x[0]!, channelsOut];
  for (let i = 0; i < spatial; i++) {
    const d = x[2 + i];
    if (!d) {
      out.push(null);
      continue;
    }
    if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
      out.push(d.ceilDiv(Sym.of(strides[i]!)));
      continue;
    }
    const k = kernel[i];
    if (!k || k.value === null) {
      out.push(null);
      continue;
    }
    const padded = mode === 'VALID' ? d : d.add(Sym.of(pads[i]! + pads[i + spatial]!));
    const num = padded.sub(Sym.of(dil[i]! * (k.value - 1) + 1));
    const q = num.floorDiv(Sym.of(strides[i]!));
    out.push(q ? q.add(Sym.of(1)) : null);
  }
  return out;
}

function sliceRule(n: Node, ins: (Facts | null)[]): (Facts | null)[] {
  const s = ins[0]?.shape;
  const fromInputs = n.inputs.length > 1;
  const starts = fromInputs ? ints(n.inputs[1], ins[1]) : (n.intsAttr('starts') ?? null);
  const ends = fromInputs ? ints(n.inputs[2], ins[2]) : (n.intsAttr('ends') ?? null);
  const axesIn = fromInputs ? (n.inputs[3] ? ints(n.inputs[3], ins[3]) : null) : (n.intsAttr('axes') ?? null);
  const steps = fromInputs && n.inputs[4] ? ints(n.inputs[4], ins[4]) : null;
  if (!s || !starts || !ends || (fromInputs && n.inputs[3] && !axesIn) || (n.inputs[4] && !steps)) return [known(s ? s.map(() => null) : null)];
  const axes = axesIn ?? starts.map((_, i) => i);
  const out = s.slice();
  const vals = ins[0]?.values ? ins[0].values.slice() : undefined;
  let values = vals;
  axes.forEach((a0, i) => {
    const a = axis(a0, s.length);
    const d = s[a];
    const step = steps?.[i] ?? 1;
    const clamp = (x: number, len: Sym | null): Sym | null => {
      const big = x >= 2 ** 31 - 1 || x <= -(2 ** 31);
      if (x < 0 && !big) return len ? len.add(Sym.of(x)) : null;
      if (big) return x > 0 ? len : step < 0 ? Sym.of(-1) : Sym.of(0);
      const lv = len?.value;
      return Sym.of(lv !== null && lv !== undefined ? Math.min(x, lv) : x);
    };
    const st = clamp(starts[i]!, d ?? null);
    const en = clamp(ends[i]!, d ?? null);
    out[a] = st && en ? (step > 0 ? en.sub(st).ceilDiv(Sym.of(step)) : st.sub(en).ceilDiv(Sym.of(-step))) : null;
    if (values && a === 0 && s.length === 1) {
      const sv = st?.value;
      const ev = en?.value;
      if (sv === null || sv === undefined || ev === null || ev === undefined) values = undefined;
      else {
        const picked: (Sym | null)[] = [];
        for (let k = sv; step > 0 ? k < ev : k > ev; k += step) picked.push(values[k] ?? null);
        values = picked;
      }
    }
  });
  return [values ? { shape: out, values } : known(out)];
}

const RULES: Record<string, Rule> = {
  Identity: same,
  Cast: same,
  CastLike: same,
  Dropout: (_n, ins) => [ins[0] ? known(ins[0].shape) : null, ins[0] ? known(ins[0].shape) : null],
  Neg: (_n, ins) => [{ shape: ins[0]?.shape ?? null, values: ins[0]?.values?.map((x) => (x ? x.scale(-1, 1) : null)) }],
  Add: elementwise((a, b) => a.add(b)),
  Sub: elementwise((a, b) => a.sub(b)),
  Mul: elementwise((a, b) => a.mul(b)),
  Div: elementwise((a, b) => a.floorDiv(b)),
  Pow: elementwise(),
  Max: elementwise(),
  Min: elementwise(),
  Mod: elementwise(),
  // Shape checks such as `dim == -1`: a size is never negative, so a symbolic size is not -1.
  Equal: elementwise((a, b) =>
    a.isConst && b.isConst ? Sym.of(a.equals(b) ? 1 : 0) : (a.isConst && (a.value ?? 1) < 0) || (b.isConst && (b.value ?? 1) < 0) ? Sym.of(0) : null,
  ),
  Less: elementwise(),
  LessOrEqual: elementwise(),
  Greater: elementwise(),
  GreaterOrEqual: elementwise(),
  And: elementwise(),
  Or: elementwise(),
  Xor: elementwise(),
  PRelu: elementwise(),
  BitShift: elementwise(),
  Where: (_n, ins) => {
    const shape = broadcast([ins[0]?.shape ?? null, ins[1]?.shape ?? null, ins[2]?.shape ?? null]);
    const [c, x, y] = [ins[0]?.values, ins[1]?.values, ins[2]?.values];
    if (c && x && y && c.every((v) => v?.value !== null && v !== null)) {
      const len = Math.max(c.length, x.length, y.length);
      const at = (a: (Sym | null)[], i: number) => a[a.length === 1 ? 0 : i] ?? null;
      return [{ shape, values: Array.from({ length: len }, (_, i) => (at(c, i)!.value ? at(x, i) : at(y, i))) }];
    }
    return [known(shape)];
  },
  Shape: (n, ins) => {
    const s = ins[0]?.shape;
    if (!s) return [known([null])];
    const start = axis(n.intAttr('start') ?? 0, s.length);
    const end = n.hasAttr('end') ? axis(Math.min(n.intAttr('end')!, s.length), s.length) : s.length;
    const values = s.slice(Math.max(0, start), Math.max(0, end));
    return [{ shape: [Sym.of(values.length)], values }];
  },
  Size: (_n, ins) => [{ shape: [], values: [ins[0]?.shape ? product(ins[0].shape) : null] }],
  Constant: (n) => {
    const a = n.proto.attribute[0];
    if (!a) return [known(null)];
    if (a.name === 'value' && a.t) {
      const shape = a.t.dims.map((d) => Sym.of(Number(d)));
      const out: Facts = { shape };
      const vals = INT_TYPES.has(a.t.dataType) && shape.length <= 1 ? constantNumbers(n.outputs[0]!) : undefined;
      if (vals && vals.length <= MAX_TRACKED) out.values = vals.map((v) => Sym.of(Math.trunc(v)));
      return [out];
    }
    if (a.name === 'value_int' || a.name === 'value_float') return [{ shape: [], values: a.name === 'value_int' ? [Sym.of(Number(a.i))] : undefined }];
    if (a.name === 'value_ints') return [{ shape: [Sym.of(a.ints.length)], values: a.ints.map((x) => Sym.of(Number(x))) }];
    if (a.name === 'value_floats') return [known([Sym.of(a.floats.length)])];
    return [known(null)];
  },
  ConstantOfShape: (n, ins) => {
    const shape = ins[0]?.values ?? ints(n.inputs[0], ins[0])?.map((x) => Sym.of(x)) ?? null;
    const t = n.proto.attribute.find((a) => a.name === 'value')?.t;
    const fill =
      t && INT_TYPES.has(t.dataType)
        ? (constantNumbers(n.outputs[0] ? ({ initializer: t, producer: null } as unknown as Value) : null)?.[0] ?? 0)
        : t
          ? undefined
          : 0;
    const len = shape?.length === 1 ? shape[0]?.value : null;
    if (fill !== undefined && typeof len === 'number' && len <= MAX_TRACKED) return [{ shape, values: Array(len).fill(Sym.of(Math.trunc(fill))) }];
    return [known(shape)];
  },
  Gather: (n, ins) => {
    const data = ins[0]?.shape;
    const idx = ins[1]?.shape;
    if (!data || !idx) return [known(null)];
    const a = axis(n.intAttr('axis') ?? 0, data.length);
    const shape = [...data.slice(0, a), ...idx, ...data.slice(a + 1)];
    const pick = ints(n.inputs[1], ins[1]);
    if (ins[0]?.values && data.length === 1 && pick) {
      return [{ shape, values: pick.map((i) => ins[0]!.values![i < 0 ? i + ins[0]!.values!.length : i] ?? null) }];
    }
    return [known(shape)];
  },
  GatherElements: (_n, ins) => [known(ins[1]?.shape ?? null)],
  GatherND: () => [known(null)],
  Unsqueeze: (n, ins) => {
    const s = ins[0]?.shape;
    const axes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.intsAttr('axes') ?? null);
    if (!s || !axes) return [known(null)];
    const r = s.length + axes.length;
    const set = new Set(axes.map((a) => axis(a, r)));
    const out: Shape = [];
    let j = 0;
    for (let i = 0; i < r; i++) out.push(set.has(i) ? Sym.of(1) : (s[j++] ?? null));
    return [{ shape: out, values: ins[0]?.values }];
  },
  Squeeze: (n, ins) => {
    const s = ins[0]?.shape;
    const axes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.intsAttr('axes') ?? null);
    if (!s) return [known(null)];
    const set = axes ? new Set(axes.map((a) => axis(a, s.length))) : null;
    const out = s.filter((d, i) => (set ? !set.has(i) : d?.value !== 1));
    return [{ shape: out, values: ins[0]?.values }];
  },
  Flatten: (n, ins) => {
    const s = ins[0]?.shape;
    if (!s) return [known([null, null])];
    const a = axis(n.intAttr('axis') ?? 1, s.length);
    return [known([product(s.slice(0, a)), product(s.slice(a))])];
  },
  Reshape: (n, ins) => {
    const s = ins[0]?.shape;
    const target = ins[1]?.values ?? ints(n.inputs[1], ins[1])?.map((x) => Sym.of(x)) ?? null;
    if (!target) {
      const len = ins[1]?.shape?.[0]?.value;
      return [known(typeof len === 'number' ? Array(len).fill(null) : null)];
    }
    const allowZero = n.intAttr('allowzero') === 1;
    const out: Shape = target.map((t, i) => (t && t.value === 0 && !allowZero ? (s?.[i] ?? null) : t));
    const minus = out.findIndex((d) => d?.value === -1);
    if (minus >= 0) {
      const total = s ? product(s) : null;
      const rest = product(out.filter((_, i) => i !== minus));
      out[minus] = total && rest ? total.floorDiv(rest) : null;
    }
    return [{ shape: out, values: ins[0]?.values }];
  },
  Transpose: (n, ins) => {
    const s = ins[0]?.shape;
    if (!s) return [known(null)];
    const perm = n.intsAttr('perm') ?? s.map((_, i) => s.length - 1 - i);
    return [known(perm.map((p) => s[p] ?? null))];
  },
  Concat: (n, ins) => {
    const shapes = ins.map((f) => f?.shape ?? null);
    const first = shapes.find((s) => s);
    if (!first) return [known(null)];
    const a = axis(n.intAttr('axis') ?? 0, first.length);
    const out: Shape = first.map((d, i) => {
      if (i === a) {
        let sum: Sym | null = Sym.of(0);
        for (const s of shapes) sum = s && s[i] && sum ? sum.add(s[i]!) : null;
        return sum;
      }
      return shapes.map((s) => s?.[i] ?? null).find((x) => x) ?? d;
    });
    const values = ins.every((f) => f?.values) && first.length === 1 ? ins.flatMap((f) => f!.values!) : undefined;
    return [values ? { shape: out, values } : known(out)];
  },
  Slice: sliceRule,
  Split: (n, ins) => {
    const s = ins[0]?.shape;
    const count = n.outputs.length;
    if (!s) return n.outputs.map(() => known(null));
    const a = axis(n.intAttr('axis') ?? 0, s.length);
    const sizes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.intsAttr('split') ?? null);
    return n.outputs.map((_, k) => {
      const out = s.slice();
      out[a] = sizes ? Sym.of(sizes[k]!) : (s[a]?.floorDiv(Sym.of(count)) ?? null);
      return known(out);
    });
  },
  Expand: (n, ins) => {
    const target = ins[1]?.values ?? ints(n.inputs[1], ins[1])?.map((x) => Sym.of(x)) ?? null;
    if (!target) return [known(null)];
    return [known(broadcast([ins[0]?.shape ?? null, target]))];
  },
  Tile: (n, ins) => {
    const s = ins[0]?.shape;
    const reps = ints(n.inputs[1], ins[1]);
    return [known(s && reps ? s.map((d, i) => (d ? d.mul(Sym.of(reps[i]!)) : null)) : s ? s.map(() => null) : null)];
  },
  Range: (n, ins) => {
    const [a, b, c] = [0, 1, 2].map(
      (i) => ins[i]?.values?.[0] ?? (constantNumbers(n.inputs[i] ?? null)?.[0] !== undefined ? Sym.of(constantNumbers(n.inputs[i]!)![0]!) : null),
    );
    return [known([a && b && c ? b.sub(a).ceilDiv(c) : null])];
  },
  Resize: (n, ins) => {
    const s = ins[0]?.shape;
    if (!s) return [known(null)];
    const sizes = n.inputs[3] ? ints(n.inputs[3], ins[3]) : null;
    if (sizes && sizes.length) return [known(sizes.map((x) => Sym.of(x)))];
    const scales = constantNumbers(n.inputs[2] ?? n.inputs[1] ?? null);
    if (!scales || !scales.length) return [known(s.map(() => null))];
    return [known(s.map((d, i) => (d ? scaleDim(d, scales[i]!) : null)))];
  },
  Upsample: (n, ins) => {
    const s = ins[0]?.shape;
    const scales = constantNumbers(n.inputs[1] ?? null) ?? n.proto.attribute.find((a) => a.name === 'scales')?.floats;
    return [known(s && scales ? s.map((d, i) => (d ? scaleDim(d, scales[i]!) : null)) : null)];
  },
  MatMul: (_n, ins) => [known(matmulShape(ins[0]?.shape ?? null, ins[1]?.shape ?? null))],
  FusedMatMul: (n, ins) => {
    const t = (s: Shape | null, flag: string) => (s && n.intAttr(flag) === 1 ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
    return [known(matmulShape(t(ins[0]?.shape ?? null, 'transA'), t(ins[1]?.shape ?? null, 'transB')))];
  },
  Gemm: (n, ins) => {
    const a = ins[0]?.shape;
    const b = ins[1]?.shape;
    const m = a?.length === 2 ? (n.intAttr('transA') === 1 ? a[1]! : a[0]!) : null;
    const k = b?.length === 2 ? (n.intAttr('transB') === 1 ? b[0]! : b[1]!) : null;
    return [known([m, k])];
  },
  Conv: (n, ins) => {
    const x = ins[0]?.shape;
    const w = ins[1]?.shape;
    if (!x || !w) return [known(null)];
    return [known(windowed(n, x, w.slice(2), w[0] ?? null))];
  },
  ConvTranspose: (n, ins) => {
    const x = ins[0]?.shape;
    const w = ins[1]?.shape;
    if (!x || !w) return [known(null)];
    const group = n.intAttr('group') ?? 1;
    const spatial = x.length - 2;
    const explicit = n.intsAttr('output_shape');
    if (explicit) return [known([x[0]!, w[1] ? w[1].mul(Sym.of(group)) : null, ...explicit.map((v) => Sym.of(v))])];
    const strides = n.intsAttr('strides') ?? Array(spatial).fill(1);
    const dil = n.intsAttr('dilations') ?? Array(spatial).fill(1);
    const pads = n.intsAttr('pads') ?? Array(2 * spatial).fill(0);
    const outPad = n.intsAttr('output_padding') ?? Array(spatial).fill(0);
    const out: Shape = [x[0]!, w[1] ? w[1].mul(Sym.of(group)) : null];
    for (let i = 0; i < spatial; i++) {
      const d = x[2 + i];
      const k = w[2 + i]?.value;
      out.push(
        d && typeof k === 'number'
          ? d
              .sub(Sym.of(1))
              .mul(Sym.of(strides[i]!))
              .add(Sym.of(outPad[i]! + dil[i]! * (k - 1) + 1 - pads[i]! - pads[i + spatial]!))
          : null,
      );
    }
    return [known(out)];
  },
  MaxPool: (n, ins) => {
    const x = ins[0]?.shape;
    return [
      known(
        x
          ? windowed(
              n,
              x,
              (n.intsAttr('kernel_shape') ?? []).map((k) => Sym.of(k)),
              x[1] ?? null,
            )
          : null,
      ),
    ];
  },
  AveragePool: (n, ins) => RULES.MaxPool!(n, ins, null as never),
  GlobalAveragePool: (_n, ins) => [known(ins[0]?.shape ? ins[0].shape.map((d, i) => (i < 2 ? d : Sym.of(1))) : null)],
  Pad: (n, ins) => {
    const s = ins[0]?.shape;
    const pads = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.intsAttr('pads') ?? null);
    if (!s || !pads) return [known(s ? s.map(() => null) : null)];
    return [known(s.map((d, i) => (d ? d.add(Sym.of(pads[i]! + pads[i + s.length]!)) : null)))];
  },
  ReduceMean: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ReduceSum: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ReduceMax: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ReduceMin: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ReduceProd: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ReduceL2: (n, ins) => [reduce(n, ins, n.inputs.length > 1)],
  ArgMax: (n, ins) => {
    const s = ins[0]?.shape;
    if (!s) return [known(null)];
    const a = axis(n.intAttr('axis') ?? 0, s.length);
    const keep = (n.intAttr('keepdims') ?? 1) === 1;
    return [known(keep ? s.map((d, i) => (i === a ? Sym.of(1) : d)) : s.filter((_, i) => i !== a))];
  },
  LayerNormalization: (n, ins) => {
    const s = ins[0]?.shape ?? null;
    const a = s ? axis(n.intAttr('axis') ?? -1, s.length) : 0;
    const stat = s ? s.map((d, i) => (i < a ? d : Sym.of(1))) : null;
    return [known(s), known(stat), known(stat)];
  },
  SkipLayerNormalization: (n, ins) =>
    n.outputs.map((_, i) => (i === 1 || i === 2 ? known(ins[0]?.shape ? [...ins[0].shape.slice(0, -1), Sym.of(1)] : null) : known(ins[0]?.shape ?? null))),
  Einsum: (n, ins) => {
    const eq = n.proto.attribute.find((a) => a.name === 'equation');
    const text = eq ? new TextDecoder().decode(eq.s).replace(/\s/g, '') : '';
    const [lhs, rhs] = text.split('->');
    if (!lhs || rhs === undefined || rhs.includes('.')) return [known(null)];
    const sizes = new Map<string, Sym | null>();
    lhs.split(',').forEach((term, k) => {
      const s = ins[k]?.shape;
      [...term].forEach((ch, i) => {
        const d = s?.[i] ?? null;
        if (!sizes.has(ch) || (sizes.get(ch)?.value === 1 && d)) sizes.set(ch, d);
      });
    });
    return [known([...rhs].map((ch) => sizes.get(ch) ?? null))];
  },
  MultiHeadAttention: (_n, ins) => {
    // Output [batch, q_len, v_hidden]; v_hidden from the value (or packed inputs: the query's).
    const q = ins[0]?.shape;
    if (!q) return [known(null)];
    if (q.length === 5) return [known([q[0]!, q[1]!, q[3] && q[4] ? q[3].mul(q[4]) : null])];
    const v = ins[2]?.shape;
    const hidden = v && v.length === 3 ? v[2]! : v && v.length === 4 ? (v[1] && v[3] ? v[1].mul(v[3]) : null) : q[2]!;
    return [known([q[0]!, q[1]!, hidden])];
  },
  Attention: (n, ins) => {
    const q = ins[0]?.shape;
    if (!q) return [known(null)];
    if (n.domain === 'com.microsoft') {
      const w = ins[1]?.shape;
      const sizes = n.intsAttr('qkv_hidden_sizes');
      const hidden = sizes ? Sym.of(sizes[2]!) : (w?.[1]?.floorDiv(Sym.of(3)) ?? null);
      return [known([q[0]!, q[1]!, hidden])];
    }
    // ONNX Attention (opset 23): the output keeps Q's layout with V's head size.
    const v = ins[2]?.shape;
    if (q.length === 4) return [known([q[0]!, q[1]!, q[2]!, v?.[3] ?? null])];
    const heads = n.intAttr('q_num_heads');
    const vHeads = n.intAttr('kv_num_heads');
    const vHidden = v?.[2] && heads && vHeads ? (v[2].floorDiv(Sym.of(vHeads))?.mul(Sym.of(heads)) ?? null) : (v?.[2] ?? null);
    return [known([q[0]!, q[1]!, vHidden])];
  },
};

function scaleDim(d: Sym, s: number): Sym | null {
  if (Number.isInteger(s)) return d.mul(Sym.of(s));
  const inv = 1 / s;
  return Number.isInteger(inv) ? d.floorDiv(Sym.of(inv)) : d.value !== null ? Sym.of(Math.floor(d.value * s)) : null;
}

const SAME_SHAPE = [
  'Relu',
  'Sigmoid',
  'Tanh',
  'Erf',
  'Exp',
  'Log',
  'Sqrt',
  'Abs',
  'Cos',
  'Sin',
  'Softmax',
  'LogSoftmax',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'Clip',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Not',
  'IsNaN',
  'IsInf',
  'Sign',
  'HardSigmoid',
  'LeakyRelu',
  'Elu',
  'Softplus',
  'Mish',
  'HardSwish',
  'InstanceNormalization',
  'GroupNormalization',
  'GroupNorm',
  'BatchNormalization',
  'Trilu',
  'SimplifiedLayerNormalization',
  'BiasAdd',
  'BiasSplitGelu',
  'ScatterND',
  'ScatterElements',
  'CumSum',
  'Celu',
  'Selu',
  'Shrink',
  'ThresholdedRelu',
  'Softsign',
  'Tan',
  'Atan',
  'Acos',
  'Asin',
  'Sinh',
  'Cosh',
  'LpNormalization',
  'MeanVarianceNormalization',
];
for (const op of SAME_SHAPE) RULES[op] ??= sameShape;

/** The facts of a graph input or initializer, from its declared type or tensor dims. */
function sourceFacts(v: Value): Facts {
  if (v.initializer) {
    const t = v.initializer;
    const shape = t.dims.map((d) => Sym.of(Number(d)));
    const out: Facts = { shape };
    if (INT_TYPES.has(t.dataType) && shape.length <= 1) {
      const vals = constantNumbers(v);
      if (vals && vals.length <= MAX_TRACKED) out.values = vals.map((x) => Sym.of(Math.trunc(x)));
    }
    return out;
  }
  const s = v.type?.shape;
  if (!s) return known(null);
  // An unnamed input dim gets a name of its own, so the relations through the graph survive.
  return known(
    s.map((d, i) => (typeof d === 'number' ? Sym.of(d) : ((typeof d === 'string' ? parseDim(d) : null) ?? Sym.named(`${v.name.replace(/\W/g, '_')}_d${i}`)))),
  );
}

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

/** The element type of output `i`: from the op's semantics, else the first typed input's. */
function dtypeOf(n: Node, i: number, ins: (Facts | null)[]): number {
  if (BOOL_OPS.has(n.opType)) return 9;
  if (INT64_OPS.has(n.opType)) return 7;
  if (n.opType === 'Cast') return n.intAttr('to') ?? 0;
  if (n.opType === 'CastLike') return ins[1]?.dtype ?? 0;
  if (n.opType === 'Constant') {
    const a = n.proto.attribute[0];
    return a?.t ? a.t.dataType : a?.name === 'value_int' || a?.name === 'value_ints' ? 7 : 1;
  }
  if (n.opType === 'ConstantOfShape') return n.proto.attribute.find((a) => a.name === 'value')?.t?.dataType ?? 1;
  if (n.opType === 'Where') return ins[1]?.dtype ?? ins[2]?.dtype ?? 0;
  if ((n.opType === 'LayerNormalization' || n.opType === 'SkipLayerNormalization') && i > 0) return 1;
  return ins.find((f) => f?.dtype)?.dtype ?? 0;
}

export function inferShapes(g: Graph): ShapeInference {
  const facts = new Map<Value, Facts>();
  const unsupported: Record<string, number> = {};
  for (const v of [...g.inputs, ...g.initializers]) {
    if (facts.has(v)) continue;
    const f = sourceFacts(v);
    f.dtype = v.initializer?.dataType ?? v.type?.dtype ?? 0;
    facts.set(v, f);
  }
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => (v ? (facts.get(v) ?? null) : null));
    const rule = RULES[n.opType];
    let outs: (Facts | null)[];
    if (!rule) {
      unsupported[n.opType] = (unsupported[n.opType] ?? 0) + 1;
      outs = n.outputs.map(() => null);
    } else {
      try {
        outs = rule(n, ins, g);
      } catch {
        // A rule meeting a form it does not know says "unknown", never fails the analysis.
        outs = n.outputs.map(() => null);
      }
    }
    n.outputs.forEach((v, i) => {
      if (!v) return;
      const f = outs[i] ?? known(null);
      if (f.values && (f.values.length > MAX_TRACKED || rank(f) === null || (rank(f) ?? 0) > 1)) delete f.values;
      facts.set(v, { ...f, dtype: dtypeOf(n, i, ins) });
    });
  }
  return { facts, unsupported };
}

/** A shape under concrete sizes for the named dims: numbers, or null per dim that cannot be said. */
export function concreteShape(shape: Shape | null, sizes: Record<string, number>): (number | null)[] | null {
  return shape ? shape.map((d) => (d ? d.evaluate(sizes) : null)) : null;
}
