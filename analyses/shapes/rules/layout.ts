// Shape rules for ops that move, select or repeat elements without computing on them: Reshape,
// Transpose, (Un)Squeeze, Flatten, Concat, Split, Slice, Gather, Expand, Tile, Pad. Tracked
// values pass through where the op keeps them (Reshape, Concat, Gather of a shape tensor).
import { axis, ints, known, type Rule, type Shape } from '../facts.js';
import { broadcast, product } from '../shape-math.js';
import { Sym } from '../sym.js';
import { slice } from './slice.js';

const gather: Rule = (n, ins) => {
  const data = ins[0]?.shape;
  const idx = ins[1]?.shape;
  if (!data || !idx) return [known(null)];
  const a = axis(n.attr.int('axis') ?? 0, data.length);
  const shape = [...data.slice(0, a), ...idx, ...data.slice(a + 1)];
  const pick = ints(n.inputs[1], ins[1]);
  if (ins[0]?.values && data.length === 1 && pick) {
    return [{ shape, values: pick.map((i) => ins[0]!.values![i < 0 ? i + ins[0]!.values!.length : i] ?? null) }];
  }
  return [known(shape)];
};

const unsqueeze: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const axes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.attr.ints('axes') ?? null);
  if (!s || !axes) return [known(null)];
  const r = s.length + axes.length;
  const set = new Set(axes.map((a) => axis(a, r)));
  const out: Shape = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(set.has(i) ? Sym.of(1) : (s[j++] ?? null));
  return [{ shape: out, values: ins[0]?.values }];
};

const squeeze: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const axes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.attr.ints('axes') ?? null);
  if (!s) return [known(null)];
  const set = axes ? new Set(axes.map((a) => axis(a, s.length))) : null;
  const out = s.filter((d, i) => (set ? !set.has(i) : d?.value !== 1));
  return [{ shape: out, values: ins[0]?.values }];
};

const flatten: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  if (!s) return [known([null, null])];
  const a = axis(n.attr.int('axis') ?? 1, s.length);
  return [known([product(s.slice(0, a)), product(s.slice(a))])];
};

const reshape: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const target = ins[1]?.values ?? ints(n.inputs[1], ins[1])?.map((x) => Sym.of(x)) ?? null;
  if (!target) {
    const len = ins[1]?.shape?.[0]?.value;
    return [known(typeof len === 'number' ? Array(len).fill(null) : null)];
  }
  const allowZero = n.attr.int('allowzero') === 1;
  const out: Shape = target.map((t, i) => (t && t.value === 0 && !allowZero ? (s?.[i] ?? null) : t));
  const minus = out.findIndex((d) => d?.value === -1);
  if (minus >= 0) {
    const total = s ? product(s) : null;
    const rest = product(out.filter((_, i) => i !== minus));
    out[minus] = total && rest ? total.floorDiv(rest) : null;
  }
  return [{ shape: out, values: ins[0]?.values }];
};

const transpose: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  if (!s) return [known(null)];
  const perm = n.attr.ints('perm') ?? s.map((_, i) => s.length - 1 - i);
  return [known(perm.map((p) => s[p] ?? null))];
};

const concat: Rule = (n, ins) => {
  const shapes = ins.map((f) => f?.shape ?? null);
  const first = shapes.find((s) => s);
  if (!first) return [known(null)];
  const a = axis(n.attr.int('axis') ?? 0, first.length);
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
};

const split: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const count = n.outputs.length;
  if (!s) return n.outputs.map(() => known(null));
  const a = axis(n.attr.int('axis') ?? 0, s.length);
  const sizes = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.attr.ints('split') ?? null);
  return n.outputs.map((_, k) => {
    const out = s.slice();
    out[a] = sizes ? Sym.of(sizes[k]!) : (s[a]?.floorDiv(Sym.of(count)) ?? null);
    return known(out);
  });
};

const expand: Rule = (n, ins) => {
  const target = ins[1]?.values ?? ints(n.inputs[1], ins[1])?.map((x) => Sym.of(x)) ?? null;
  if (!target) return [known(null)];
  return [known(broadcast([ins[0]?.shape ?? null, target]))];
};

const tile: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const reps = ints(n.inputs[1], ins[1]);
  return [known(s && reps ? s.map((d, i) => (d ? d.mul(Sym.of(reps[i]!)) : null)) : s ? s.map(() => null) : null)];
};

const pad: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const pads = n.inputs[1] ? ints(n.inputs[1], ins[1]) : (n.attr.ints('pads') ?? null);
  if (!s || !pads) return [known(s ? s.map(() => null) : null)];
  return [known(s.map((d, i) => (d ? d.add(Sym.of(pads[i]! + pads[i + s.length]!)) : null)))];
};

export const LAYOUT_RULES: Record<string, Rule> = {
  Gather: gather,
  GatherElements: (_n, ins) => [known(ins[1]?.shape ?? null)],
  GatherND: () => [known(null)],
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Flatten: flatten,
  Reshape: reshape,
  Transpose: transpose,
  Concat: concat,
  Slice: slice,
  Split: split,
  Expand: expand,
  Tile: tile,
  Pad: pad,
};
