// What a value is known to hold before running: an initializer's contents or a Constant node's
// value. External-data tensors are never read: they count as constant but their numbers are
// unknown here, which is all the analyses need of weights (shape rules, attention matching, costs).
import type { TensorConstant } from './constant.js';
import type { Value } from './value.js';

/** True when the value is known at compile time: an initializer or a Constant node's output. */
export function isConstant(v: Value | null): boolean {
  if (!v) return false;
  if (v.constant) return true;
  const p = v.producer;
  return !!p && p.opType === 'Constant' && (p.domain === '' || p.domain === 'ai.onnx');
}

function constantTensor(v: Value): TensorConstant | undefined {
  if (v.constant) return v.constant;
  const p = v.producer;
  if (p?.opType !== 'Constant') return undefined;
  return p.attr.tensor('value');
}

/** Numeric contents of a small float/int constant, or undefined when unknown or external. */
export function constantNumbers(v: Value | null): number[] | undefined {
  if (!v) return undefined;
  const p = v.producer;
  if (p?.opType === 'Constant') {
    const f = p.attr.float('value_float');
    if (f !== undefined) return [f];
    const fs = p.attr.floats('value_floats');
    if (fs) return fs;
    const i = p.attr.int('value_int');
    if (i !== undefined) return [i];
    const is = p.attr.ints('value_ints');
    if (is) return is;
  }
  return constantTensor(v)?.numbers();
}

/** The single number of a scalar-like constant (any shape with one element). */
export function constantScalar(v: Value | null): number | undefined {
  const xs = constantNumbers(v);
  return xs && xs.length === 1 ? xs[0] : undefined;
}
