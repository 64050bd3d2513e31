// Shape rules for ops whose output has their (broadcast) input's shape: unary ops, binary
// arithmetic and comparisons, Where. Arithmetic on tracked values (Add, Sub, Mul, Div, Neg,
// Equal, Where) keeps shape math such as "height*width" alive through the graph.
import { known, type Facts, type Rule } from '../facts.js';
import { broadcast } from '../shape-math.js';
import { Sym } from '../sym.js';

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

const where: Rule = (_n, ins) => {
  const shape = broadcast([ins[0]?.shape ?? null, ins[1]?.shape ?? null, ins[2]?.shape ?? null]);
  const [c, x, y] = [ins[0]?.values, ins[1]?.values, ins[2]?.values];
  if (c && x && y && c.every((v) => v?.value !== null && v !== null)) {
    const len = Math.max(c.length, x.length, y.length);
    const at = (a: (Sym | null)[], i: number) => a[a.length === 1 ? 0 : i] ?? null;
    return [{ shape, values: Array.from({ length: len }, (_, i) => (at(c, i)!.value ? at(x, i) : at(y, i))) }];
  }
  return [known(shape)];
};

export const ELEMENTWISE_RULES: Record<string, Rule> = {
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
  Where: where,
};

/** Ops whose every output has the first input's shape (activations, normalizations, scatters). */
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

export const SAME_SHAPE_RULES: Record<string, Rule> = Object.fromEntries(SAME_SHAPE.map((op) => [op, sameShape]));
