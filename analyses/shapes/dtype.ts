// Element-type inference for a node's outputs (TensorProto.DataType numbers, 0 when unknown):
// from the op's semantics where it fixes the type (comparisons, Shape, Cast, Constant), else
// the first typed input's, which is what every elementwise and layout op does.
import { DTYPE } from '../../ir/dtype.js';
import type { Node } from '../../ir/node.js';
import type { Facts } from './facts.js';

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

/** The element type of output `i`: from the op's semantics, else the first typed input's. */
export function dtypeOf(n: Node, i: number, ins: (Facts | null)[]): number {
  if (BOOL_OPS.has(n.opType)) return DTYPE.bool;
  if (INT64_OPS.has(n.opType)) return DTYPE.int64;
  if (n.opType === 'Cast') return n.attr.int('to') ?? DTYPE.undefined;
  if (n.opType === 'CastLike') return ins[1]?.dtype ?? DTYPE.undefined;
  if (n.opType === 'Constant') {
    const [name, a] = n.attr.entries()[0] ?? [];
    return a?.kind === 'tensor' ? a.value.dtype : name === 'value_int' || name === 'value_ints' ? DTYPE.int64 : DTYPE.float32;
  }
  if (n.opType === 'ConstantOfShape') return n.attr.tensor('value')?.dtype ?? DTYPE.float32;
  if (n.opType === 'Where') return ins[1]?.dtype ?? ins[2]?.dtype ?? DTYPE.undefined;
  if ((n.opType === 'LayerNormalization' || n.opType === 'SkipLayerNormalization') && i > 0) return DTYPE.float32;
  return ins.find((f) => f?.dtype)?.dtype ?? DTYPE.undefined;
}
