// Matches one attention module around a Softmax anchor, by structure only: a MatMul of two
// activations feeding the softmax (through scale/mask arithmetic), a MatMul reading its
// probabilities, q/k/v projections (MatMul/Gemm with constant weights) behind them, and the
// head-merge, out-projection, bias and optional rescale after. A miss returns its code, reason and
// the nodes it is about.
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { constantNumbers, constantScalar, isConstant } from '../../ir/constant-value.js';
import { miss, type MatchMiss, type MissCode } from './miss.js';

export type AttentionVariant =
  | 'matmul-softmax-matmul'
  | 'fusedmatmul-softmax-matmul'
  | 'ms-multihead-attention'
  | 'ms-multihead-attention-packed-kv'
  | 'ms-multihead-attention-packed-qkv'
  | 'ms-attention'
  | 'onnx-attention';

export interface AttentionMatch {
  /** Which known export form matched; the matcher is open to more. */
  variant: AttentionVariant;
  /** The attention core: score MatMul, Softmax and probs MatMul, or the one fused op. */
  core: Node[];
  qProj: Node;
  kProj: Node;
  vProj: Node;
  outProj: Node;
  qSource: Value;
  kSource: Value;
  vSource: Value;
  /** The module output: after out-projection, bias and any constant rescale; the cut point. */
  output: Value;
  /** Why the cut is not exactly the module output, when a fusion swallowed it. */
  note: string | null;
}

export type MatchResult = { ok: true; match: AttentionMatch } | ({ ok: false } & MatchMiss);

/** A failed match: the miss, as MatchResult carries it. */
export function fail(code: MissCode, reason: string, at: Parameters<typeof miss>[2]): MatchResult {
  return { ok: false, ...miss(code, reason, at) };
}

const LAYOUT = new Set(['Reshape', 'Transpose', 'Cast', 'Squeeze', 'Unsqueeze', 'Identity']);
const SCORE_ARITH = new Set(['Add', 'Mul', 'Div', 'Sub', 'Where', 'Cast']);
const PROBS_PASS = new Set(['Cast', 'Dropout', 'Identity']);

export function isOp(n: Node | null | undefined, ...ops: string[]): boolean {
  return !!n && (n.domain === '' || n.domain === 'ai.onnx') && ops.includes(n.opType);
}

/**
 * A MatMul of two activations: plain MatMul, or onnxruntime's com.microsoft FusedMatMul (what
 * ORT's `extended` optimisation makes of MatMul + Transpose of K + the softmax scale).
 */
function isActivationMatMul(n: Node): boolean {
  const fused = n.domain === 'com.microsoft' && n.opType === 'FusedMatMul';
  return (fused || isOp(n, 'MatMul')) && !isConstant(n.inputs[0] ?? null) && !isConstant(n.inputs[1] ?? null);
}

/** A MatMul/Gemm whose weight operand is a compile-time constant: a linear projection. */
export function isProjection(n: Node | null): boolean {
  return !!n && isOp(n, 'MatMul', 'Gemm') && isConstant(n.inputs[1] ?? null) && !isConstant(n.inputs[0] ?? null);
}

/**
 * The only consumer of v's data. Shape/Size reads do not count: torch exports compute reshape
 * targets from `tensor.shape`, so intermediate tensors often have a Shape consumer besides the
 * one that reads their values.
 */
export function soleConsumer(v: Value): Node | null {
  const uses = v.uses().filter((u) => !(u.index >= 0 && isOp(u.node, 'Shape', 'Size')));
  return uses.length === 1 && uses[0]!.index >= 0 ? uses[0]!.node : null;
}

/** Ops that only relabel a row-major buffer: the values, and their order, stay as they are. */
const RELABEL = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

/**
 * The tensor a projection input relabels: back through reshapes to the first value that is not
 * one. onnxruntime's MatMulAddFusion gives q, k and v each its own Reshape to [batch·tokens,
 * channels] of one stream; those are one stream, so a self-attention stays self.
 */
export function streamOf(v: Value): Value {
  for (let p = v.producer; p && isOp(p, ...RELABEL) && p.inputs[0]; p = v.producer) v = p.inputs[0];
  return v;
}

/** Walks back through layout ops and constant scale/bias arithmetic to a projection. */
export function projectionBehind(v: Value | null): Node | null {
  for (let steps = 0; v && steps < 12; steps++) {
    const p: Node | null = v.producer;
    if (!p) return null;
    if (isProjection(p)) return p;
    if (isOp(p, ...LAYOUT)) {
      v = p.inputs[0] ?? null;
    } else if (isOp(p, 'Mul', 'Div', 'Add', 'Sub')) {
      const [a, b] = [p.inputs[0] ?? null, p.inputs[1] ?? null];
      // Only arithmetic with a constant (softmax scale, projection bias) is part of the path.
      if (isConstant(b) && !isConstant(a)) v = a;
      else if (isConstant(a) && !isConstant(b) && p.opType !== 'Div' && p.opType !== 'Sub') v = b;
      else return null;
    } else {
      return null;
    }
  }
  return null;
}

/** Breadth-first back from the softmax input through score arithmetic to an activation MatMul. */
function scoresMatMul(softmax: Node): Node | null {
  let frontier: Value[] = softmax.inputs[0] ? [softmax.inputs[0]] : [];
  for (let depth = 0; depth < 5 && frontier.length; depth++) {
    const next: Value[] = [];
    for (const v of frontier) {
      const p = v.producer;
      if (!p) continue;
      if (isActivationMatMul(p)) return p;
      if (isOp(p, ...SCORE_ARITH)) for (const i of p.inputs) if (i && !isConstant(i)) next.push(i);
    }
    frontier = next;
  }
  return null;
}

export function matchAttention(softmax: Node): MatchResult {
  const scores = scoresMatMul(softmax);
  if (!scores)
    return fail('NO_SCORES_MATMUL', 'no MatMul of two activations (query x key) feeds the softmax within 5 arithmetic ops', [{ node: softmax.name }]);

  let probs: Value | null = softmax.outputs[0] ?? null;
  let probsMatMul: Node | null = null;
  for (let steps = 0; probs && steps < 4; steps++) {
    const c = soleConsumer(probs);
    if (c && isOp(c, 'MatMul') && c.inputs[0] === probs) {
      probsMatMul = c;
      break;
    }
    if (!isOp(c, ...PROBS_PASS)) break;
    probs = c!.outputs[0] ?? null;
  }
  if (!probsMatMul)
    return fail('NO_PROBS_MATMUL', 'the softmax output does not feed a MatMul with values (probabilities x value)', [
      { node: softmax.name },
      { tensor: probs?.name },
    ]);

  const qProj = projectionBehind(scores.inputs[0] ?? null);
  if (!qProj)
    return fail('NO_QUERY_PROJECTION', `no query projection (MatMul/Gemm with constant weights) behind ${scores.name}`, [
      { node: scores.name },
      { tensor: scores.inputs[0]?.name },
    ]);
  const kProj = projectionBehind(scores.inputs[1] ?? null);
  if (!kProj)
    return fail('NO_KEY_PROJECTION', `no key projection (MatMul/Gemm with constant weights) behind ${scores.name}`, [
      { node: scores.name },
      { tensor: scores.inputs[1]?.name },
    ]);
  const vProj = projectionBehind(probsMatMul.inputs[1] ?? null);
  if (!vProj)
    return fail('NO_VALUE_PROJECTION', `no value projection (MatMul/Gemm with constant weights) behind ${probsMatMul.name}`, [
      { node: probsMatMul.name },
      { tensor: probsMatMul.inputs[1]?.name },
    ]);

  const tail = moduleOutputAfter(probsMatMul.outputs[0] ?? null);
  if ('reason' in tail) return fail(tail.code, `the attention result of ${probsMatMul.name} ${tail.reason}`, [{ node: probsMatMul.name }, ...tail.at]);
  const variant = scores.opType === 'FusedMatMul' ? 'fusedmatmul-softmax-matmul' : 'matmul-softmax-matmul';
  return matched(variant, [scores, softmax, probsMatMul], qProj, kProj, vProj, tail);
}

/** The match record once every part is found; sources are the projections' activation inputs. */
export function matched(
  variant: AttentionVariant,
  core: Node[],
  qProj: Node,
  kProj: Node,
  vProj: Node,
  tail: { outProj: Node; output: Value; note: string | null },
): MatchResult {
  return {
    ok: true,
    match: {
      variant,
      core,
      qProj,
      kProj,
      vProj,
      outProj: tail.outProj,
      qSource: qProj.inputs[0]!,
      kSource: kProj.inputs[0]!,
      vSource: vProj.inputs[0]!,
      output: tail.output,
      note: tail.note,
    },
  };
}

/** Why the walk from an attention result found no module output: the reason continues "the result of X ...". */
export type TailMiss = MatchMiss & { code: Extract<MissCode, 'NO_OUT_PROJECTION' | 'BATCH_AXIS_MOVED'> };

/**
 * From the attention result (heads still split or already merged) forward through head-merge
 * layout ops to the out-projection, its bias and an optional constant rescale: the module's
 * output, the cut point.
 */
export function moduleOutputAfter(start: Value | null): { outProj: Node; output: Value; note: string | null } | TailMiss {
  let v = start;
  let outProj: Node | null = null;
  // Where the batch axis is: the sampler's CFG mean and its batch arithmetic take the cut's
  // buffer as samples one after another ([batch, tokens, channels], or the [batch·tokens,
  // channels] rows a 2-D out-projection reads), so a head merge that moves batch off the front
  // (a [tokens, batch, channels] layout) cannot be cached. null: no longer known.
  let batchAxis: number | null = 0;
  for (let steps = 0; v && steps < 8; steps++) {
    const c = soleConsumer(v);
    if (c && isProjection(c) && c.inputs[0] === v) {
      outProj = c;
      v = c.outputs[0] ?? null;
      break;
    }
    if (!c || !isOp(c, ...LAYOUT)) break;
    batchAxis = batchAxisAfter(c, batchAxis);
    v = c.outputs[0] ?? null;
  }
  if (!outProj || !v)
    return { code: 'NO_OUT_PROJECTION', reason: 'does not reach an out-projection through head-merge ops', at: v ? [{ tensor: v.name }] : [] };
  if (batchAxis !== 0)
    return {
      code: 'BATCH_AXIS_MOVED',
      at: [{ node: outProj.name }],
      reason:
        'reaches its out-projection with the batch axis moved off the front (a [tokens, batch, channels] layout): the CFG mean pairs samples, so its rows must be sample-major',
    };
  const bias = soleConsumer(v);
  if (bias && isOp(bias, 'Add') && bias.inputs.some((i) => i !== v && isConstant(i))) v = bias.outputs[0]!;
  const rescale = soleConsumer(v);
  if (rescale && isOp(rescale, 'Div', 'Mul') && rescale.inputs[0] === v && constantScalar(rescale.inputs[1] ?? null) !== undefined) v = rescale.outputs[0]!;
  // onnxruntime's SkipLayerNormalization may have swallowed the bias and the residual add: the
  // module output then exists nowhere. The out-projection's output is the nearest tensor; it
  // differs by a constant bias, so caching it (and the CFG mean) commutes with the fused add.
  const fused = soleConsumer(v);
  let note: string | null = null;
  if (fused && fused.domain === 'com.microsoft' && fused.opType === 'SkipLayerNormalization' && v === outProj.outputs[0]) {
    note = isConstant(fused.inputs[4] ?? null)
      ? `out-projection bias and residual add fused into ${fused.name}: cut before the bias, which the fused op still adds`
      : `residual add fused into ${fused.name}: cut at its input`;
  }
  return { outProj, output: v, note };
}

/** The batch axis after one layout op, from where it was; null when the op makes it unknown. */
function batchAxisAfter(op: Node, axis: number | null): number | null {
  if (axis === null) return null;
  switch (op.opType) {
    case 'Transpose': {
      const perm = op.attr.ints('perm');
      return perm ? perm.indexOf(axis) : null;
    }
    // Row-major: reshaping keeps the outermost axis outermost, whatever it merges or splits.
    case 'Reshape':
    case 'Flatten':
      return axis === 0 ? 0 : null;
    case 'Squeeze':
    case 'Unsqueeze': {
      const axes = op.attr.ints('axes') ?? constantNumbers(op.inputs[1] ?? null);
      return axis === 0 && axes !== undefined && !axes.includes(0) ? 0 : null;
    }
    default:
      return axis;
  }
}
