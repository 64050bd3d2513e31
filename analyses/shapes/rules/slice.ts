// The Slice rule (opset 1 attributes or opset 10+ inputs): each sliced dim from clamped starts
// and ends and the step, and the picked tracked values when a rank-1 shape tensor is sliced.
import { axis, ints, known, type Facts, type Rule, type Shape } from '../facts.js';
import { Sym } from '../sym.js';

/** An ONNX start/end clamped to a dim: negatives count from the end, INT_MAX/INT_MIN mean "to the edge". */
function clamp(x: number, len: Sym | null, step: number): Sym | null {
  const big = x >= 2 ** 31 - 1 || x <= -(2 ** 31);
  if (x < 0 && !big) return len ? len.add(Sym.of(x)) : null;
  if (big) return x > 0 ? len : step < 0 ? Sym.of(-1) : Sym.of(0);
  const lv = len?.value;
  return Sym.of(lv !== null && lv !== undefined ? Math.min(x, lv) : x);
}

/** The tracked values from start to end by step, or undefined when either end is not a number. */
function pick(values: (Sym | null)[], st: Sym | null, en: Sym | null, step: number): (Sym | null)[] | undefined {
  const sv = st?.value;
  const ev = en?.value;
  if (sv === null || sv === undefined || ev === null || ev === undefined) return undefined;
  const picked: (Sym | null)[] = [];
  for (let k = sv; step > 0 ? k < ev : k > ev; k += step) picked.push(values[k] ?? null);
  return picked;
}

export const slice: Rule = (n, ins): (Facts | null)[] => {
  const s = ins[0]?.shape;
  const fromInputs = n.inputs.length > 1;
  const starts = fromInputs ? ints(n.inputs[1], ins[1]) : (n.attr.ints('starts') ?? null);
  const ends = fromInputs ? ints(n.inputs[2], ins[2]) : (n.attr.ints('ends') ?? null);
  const axesIn = fromInputs ? (n.inputs[3] ? ints(n.inputs[3], ins[3]) : null) : (n.attr.ints('axes') ?? null);
  const steps = fromInputs && n.inputs[4] ? ints(n.inputs[4], ins[4]) : null;
  if (!s || !starts || !ends || (fromInputs && n.inputs[3] && !axesIn) || (n.inputs[4] && !steps)) return [known(s ? s.map(() => null) : null)];
  const axes = axesIn ?? starts.map((_, i) => i);
  const out: Shape = s.slice();
  let values = ins[0]?.values ? ins[0].values.slice() : undefined;
  axes.forEach((a0, i) => {
    const a = axis(a0, s.length);
    const d = s[a];
    const step = steps?.[i] ?? 1;
    const st = clamp(starts[i]!, d ?? null, step);
    const en = clamp(ends[i]!, d ?? null, step);
    out[a] = st && en ? (step > 0 ? en.sub(st).ceilDiv(Sym.of(step)) : st.sub(en).ceilDiv(Sym.of(-step))) : null;
    if (values && a === 0 && s.length === 1) values = pick(values, st, en, step);
  });
  return [values ? { shape: out, values } : known(out)];
};
