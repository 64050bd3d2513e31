// Shape rules for the ops that start shape arithmetic: Shape and Size (a tensor's dims as
// values), Constant and ConstantOfShape (literal values), Range. Their small integer outputs get
// tracked values so later Gather/Concat/Reshape rules can read them.
import { constantNumbers } from '../../../ir/constant-value.js';
import { axis, INT_TYPES, ints, known, MAX_TRACKED, type Facts, type Rule } from '../facts.js';
import { product } from '../shape-math.js';
import { Sym } from '../sym.js';

const shapeOf: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  if (!s) return [known([null])];
  const start = axis(n.attr.int('start') ?? 0, s.length);
  const end = n.attr.has('end') ? axis(Math.min(n.attr.int('end')!, s.length), s.length) : s.length;
  const values = s.slice(Math.max(0, start), Math.max(0, end));
  return [{ shape: [Sym.of(values.length)], values }];
};

const constant: Rule = (n) => {
  const [name, a] = n.attr.entries()[0] ?? [];
  if (!a) return [known(null)];
  if (name === 'value' && a.kind === 'tensor') {
    const shape = a.value.dims.map((d) => Sym.of(d));
    const out: Facts = { shape };
    const vals = INT_TYPES.has(a.value.dtype) && shape.length <= 1 ? constantNumbers(n.outputs[0]!) : undefined;
    if (vals && vals.length <= MAX_TRACKED) out.values = vals.map((v) => Sym.of(Math.trunc(v)));
    return [out];
  }
  if (name === 'value_int' || name === 'value_float')
    return [{ shape: [], values: name === 'value_int' ? [Sym.of(a.kind === 'int' ? a.value : 0)] : undefined }];
  if (name === 'value_ints') {
    const xs = a.kind === 'ints' ? a.value : [];
    return [{ shape: [Sym.of(xs.length)], values: xs.map((x) => Sym.of(x)) }];
  }
  if (name === 'value_floats') return [known([Sym.of(a.kind === 'floats' ? a.value.length : 0)])];
  return [known(null)];
};

const constantOfShape: Rule = (n, ins) => {
  const shape = ins[0]?.values ?? ints(n.inputs[0], ins[0])?.map((x) => Sym.of(x)) ?? null;
  const t = n.attr.tensor('value');
  const fill = t && INT_TYPES.has(t.dtype) ? ((n.outputs[0] ? t.numbers() : undefined)?.[0] ?? 0) : t ? undefined : 0;
  const len = shape?.length === 1 ? shape[0]?.value : null;
  if (fill !== undefined && typeof len === 'number' && len <= MAX_TRACKED) return [{ shape, values: Array(len).fill(Sym.of(Math.trunc(fill))) }];
  return [known(shape)];
};

const range: Rule = (n, ins) => {
  const [a, b, c] = [0, 1, 2].map(
    (i) => ins[i]?.values?.[0] ?? (constantNumbers(n.inputs[i] ?? null)?.[0] !== undefined ? Sym.of(constantNumbers(n.inputs[i]!)![0]!) : null),
  );
  return [known([a && b && c ? b.sub(a).ceilDiv(c) : null])];
};

export const CONSTANT_RULES: Record<string, Rule> = {
  Shape: shapeOf,
  Size: (_n, ins) => [{ shape: [], values: [ins[0]?.shape ? product(ins[0].shape) : null] }],
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
};
