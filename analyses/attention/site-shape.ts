// The symbolic shape of a site's output, [batch, tokens, channels], from structure alone:
// channels from the out-projection weight, batch and tokens from the image input the query
// stream comes from, tokens = (height/f)*(width/f) with f the product of the strides and
// resize factors met on the way back. compile's proof checks the claim at concrete sizes.
// The cut tensor itself may be 2-D: onnxruntime's MatMulAddFusion on a static-shape graph
// makes the out-projection a Gemm on [batch·tokens, channels] (the head merge's reshape and
// its own folded into one), and the cut is that Gemm's output. cutType gives the tensor's real
// shape; rows are sample-major either way (the matcher checks the batch axis stays in front).
import { DTYPE } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Dim, TensorType, Value } from '../../ir/value.js';
import { constantNumbers, isConstant } from '../../ir/constant-value.js';

export interface SpatialOrigin {
  input: Value;
  /** Downsampling factors along height and width from that input to the query stream. */
  fh: number;
  fw: number;
}

/**
 * Follows the data path back to a rank-4 graph input: depth first, first non-constant input
 * first, backing off where a path ends elsewhere (a timestep embedding multiplied into the
 * stream, as AdaLN gates are). Strides and resize factors met on the way give the factors.
 */
export function spatialOrigin(g: Graph, from: Value, maxSteps = 200000): SpatialOrigin | null {
  const visited = new Set<Value>();
  const stack: { v: Value; fh: number; fw: number }[] = [{ v: from, fh: 1, fw: 1 }];
  for (let steps = 0; stack.length && steps < maxSteps; steps++) {
    const { v, fh, fw } = stack.pop()!;
    if (visited.has(v)) continue;
    visited.add(v);
    if (g.isGraphInput(v) && !v.constant) {
      if (v.type?.shape?.length === 4) return { input: v, fh, fw };
      continue;
    }
    const p: Node | null = v.producer;
    if (!p) continue;
    let [h, w] = [fh, fw];
    if (p.opType === 'Conv' || p.opType === 'MaxPool' || p.opType === 'AveragePool') {
      const s = p.attr.ints('strides') ?? [1, 1];
      h *= s[0] ?? 1;
      w *= s[1] ?? 1;
    } else if (p.opType === 'ConvTranspose') {
      const s = p.attr.ints('strides') ?? [1, 1];
      h /= s[0] ?? 1;
      w /= s[1] ?? 1;
    } else if (p.opType === 'Resize' || p.opType === 'Upsample') {
      const scales = constantNumbers(p.inputs[p.opType === 'Resize' ? 2 : 1] ?? null);
      if (!scales || scales.length !== 4) continue;
      h /= scales[2]!;
      w /= scales[3]!;
    }
    // Pushed in reverse so the first data input is explored first.
    const next = p.inputs.filter((i): i is Value => !!i && !isConstant(i) && !visited.has(i));
    for (let i = next.length - 1; i >= 0; i--) stack.push({ v: next[i]!, fh: h, fw: w });
  }
  return null;
}

function scaled(dim: Dim, f: number): Dim {
  if (typeof dim === 'number') return Number.isInteger(dim / f) ? dim / f : null;
  if (typeof dim !== 'string') return null;
  return f === 1 ? dim : `${dim}/${f}`;
}

/** [batch, tokens, channels] as far as structure tells; unknown parts are null. */
export function siteType(g: Graph, qSource: Value, outProj: Node): TensorType {
  const w = outProj.inputs[1]!;
  const wDims = w.type?.shape ?? null;
  const transB = outProj.opType === 'Gemm' && outProj.attr.int('transB') === 1;
  const channels: Dim = wDims && wDims.length === 2 ? (transB ? wDims[0]! : wDims[1]!) : null;
  const dtype = w.type?.dtype ?? DTYPE.undefined;
  const origin = spatialOrigin(g, qSource);
  if (!origin || !Number.isInteger(origin.fh) || !Number.isInteger(origin.fw)) return { dtype, shape: [null, null, channels] };
  const [b, , h, wd] = origin.input.type!.shape!;
  const sh = scaled(h!, origin.fh);
  const sw = scaled(wd!, origin.fw);
  let tokens: Dim = null;
  if (typeof sh === 'number' && typeof sw === 'number') tokens = sh * sw;
  else if (sh !== null && sw !== null) tokens = `${sh}*${sw}`;
  return { dtype, shape: [b ?? null, tokens, channels] };
}

/**
 * The rank of the out-projection's output (the cut, which bias and rescale do not reshape): a
 * Gemm is 2-D; a MatMul keeps its input's rank, read from its type or the layout op making it.
 * 3 when nothing says otherwise ([batch, tokens, channels], what exporters write).
 */
export function cutRank(outProj: Node): number {
  if (outProj.opType === 'Gemm') return 2;
  const x = outProj.inputs[0];
  const known = x?.type?.shape?.length;
  if (known) return known;
  const p = x?.producer;
  if (p?.opType === 'Reshape') {
    const target = constantNumbers(p.inputs[1] ?? null);
    if (target && target.length > 0) return target.length;
  }
  if (p?.opType === 'Flatten') return 2;
  if (p?.opType === 'Transpose') {
    const perm = p.attr.ints('perm');
    if (perm) return perm.length;
  }
  return 3;
}

function product(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === null || b === null) return null;
  // evalDim reads "batch_size*height/2*width/2" factor by factor.
  return `${a}*${b}`;
}

/**
 * The cut tensor's type from the module output's [batch, tokens, channels]: the same at rank 3,
 * [batch·tokens, channels] at rank 2 (row b·tokens + t is token t of sample b). Other ranks
 * are left unknown for the shape inference or the proof to settle.
 */
export function cutType(logical: TensorType, rank: number): TensorType {
  const [b = null, t = null, c = null] = logical.shape ?? [];
  if (rank === 3) return logical;
  if (rank === 2) return { dtype: logical.dtype, shape: [product(b, t), c] };
  return { dtype: logical.dtype, shape: Array.from({ length: rank }, () => null) };
}
