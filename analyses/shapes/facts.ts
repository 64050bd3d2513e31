// What shape inference knows about one tensor (Facts) and the small helpers every rule shares:
// reading known integers from a constant or from tracked values, normalising an axis, and the
// signature a rule has. No rule lives here.
import { DTYPE } from '../../ir/dtype.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { constantNumbers } from '../../ir/constant-value.js';
import { Sym } from './sym.js';

export type Shape = (Sym | null)[];

export interface Facts {
  /** null: rank unknown. */
  shape: Shape | null;
  /** Element type (TensorProto.DataType), 0 when unknown; set by inferShapes after each rule. */
  dtype?: number;
  /** Element values, for small integer tensors (rank <= 1) whose values are known or symbolic. */
  values?: (Sym | null)[];
}

/** One op's shape rule: the facts of its outputs from its inputs' facts; it may throw on a form it does not know. */
export type Rule = (n: Node, ins: (Facts | null)[]) => (Facts | null)[];

/** Values are tracked for tensors this small at most (shape arithmetic, not data). */
export const MAX_TRACKED = 16;
/** The integer element types (TensorProto.DataType) whose values shape arithmetic tracks. */
export const INT_TYPES = new Set<number>([DTYPE.int32, DTYPE.int64, DTYPE.uint8, DTYPE.int8, DTYPE.uint16, DTYPE.int16, DTYPE.uint32, DTYPE.uint64]);

export const known = (shape: Shape | null): Facts => ({ shape });
export const rank = (f: Facts | null) => f?.shape?.length ?? null;

export function axis(a: number, r: number): number {
  return a < 0 ? a + r : a;
}

/** Known integers of an input: a constant, or tracked values that are all constant. */
export function ints(v: Value | null | undefined, f: Facts | null | undefined): number[] | null {
  if (!v) return null;
  const c = constantNumbers(v);
  if (c) return c.map((x) => Math.trunc(x));
  if (f?.values && f.values.every((x) => x?.value !== null && x !== null)) return f.values.map((x) => x!.value!);
  return null;
}
