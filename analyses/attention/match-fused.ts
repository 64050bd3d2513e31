// Attention computed by one fused op: com.microsoft MultiHeadAttention (separate q/k/v, packed
// KV, packed QKV: what onnxruntime's transformers optimizer and Olive emit for SD UNets),
// com.microsoft Attention (projection inside the op, self only) and the standard ONNX Attention
// (opset 23). The projections behind the op and the out-projection after it are found as for
// the unfused form; packed inputs make q/k/v share one projection, so cross vs self still
// follows from data flow.
import type { Node } from '../../ir/node.js';
import { isConstant } from '../../ir/constant-value.js';
import { fail, matched, moduleOutputAfter, projectionBehind, type AttentionVariant, type MatchResult } from './match-site.js';

export function isFusedAttention(n: Node): boolean {
  if (n.domain === 'com.microsoft') return n.opType === 'MultiHeadAttention' || n.opType === 'Attention';
  return (n.domain === '' || n.domain === 'ai.onnx') && n.opType === 'Attention';
}

export function matchFusedAttention(n: Node): MatchResult {
  const [q, k, v] = [n.inputs[0] ?? null, n.inputs[1] ?? null, n.inputs[2] ?? null];
  let variant: AttentionVariant;
  let qProj: Node | null;
  let kProj: Node | null;
  let vProj: Node | null;
  if (n.domain === 'com.microsoft' && n.opType === 'Attention') {
    // The op projects its own input with a constant packed weight: a self-attention module.
    if (!q || !isConstant(n.inputs[1] ?? null))
      return fail('WEIGHTS_NOT_CONSTANT', `${n.name}: com.microsoft Attention without constant packed weights`, [
        { node: n.name },
        { tensor: n.inputs[1]?.name },
      ]);
    variant = 'ms-attention';
    qProj = kProj = vProj = n;
  } else if (n.domain === 'com.microsoft') {
    qProj = projectionBehind(q);
    if (!qProj)
      return fail('NO_QUERY_PROJECTION', `no query projection (MatMul/Gemm with constant weights) behind ${n.name}`, [{ node: n.name }, { tensor: q?.name }]);
    if (!k && !v) {
      variant = 'ms-multihead-attention-packed-qkv';
      kProj = vProj = qProj;
    } else if (k && !v) {
      variant = 'ms-multihead-attention-packed-kv';
      kProj = vProj = projectionBehind(k);
      if (!kProj) return fail('NO_KV_PROJECTION', `no packed key/value projection behind ${n.name}`, [{ node: n.name }, { tensor: k.name }]);
    } else {
      variant = 'ms-multihead-attention';
      kProj = projectionBehind(k);
      vProj = projectionBehind(v);
      if (!kProj || !vProj)
        return fail(
          kProj ? 'NO_VALUE_PROJECTION' : 'NO_KEY_PROJECTION',
          `no ${kProj ? 'value' : 'key'} projection (MatMul/Gemm with constant weights) behind ${n.name}`,
          [{ node: n.name }, { tensor: kProj ? v?.name : k?.name }],
        );
    }
  } else {
    variant = 'onnx-attention';
    qProj = projectionBehind(q);
    kProj = projectionBehind(k);
    vProj = projectionBehind(v);
    if (!qProj || !kProj || !vProj) {
      const [code, which, input] = !qProj
        ? (['NO_QUERY_PROJECTION', 'query', q] as const)
        : !kProj
          ? (['NO_KEY_PROJECTION', 'key', k] as const)
          : (['NO_VALUE_PROJECTION', 'value', v] as const);
      return fail(code, `no ${which} projection (MatMul/Gemm with constant weights) behind ${n.name}`, [{ node: n.name }, { tensor: input?.name }]);
    }
  }
  if (!kProj || !vProj) return fail(kProj ? 'NO_VALUE_PROJECTION' : 'NO_KEY_PROJECTION', `no key/value projection behind ${n.name}`, [{ node: n.name }]);
  const tail = moduleOutputAfter(n.outputs[0] ?? null);
  if ('reason' in tail) return fail(tail.code, `the output of ${n.name} ${tail.reason}`, [{ node: n.name }, ...tail.at]);
  return matched(variant, [n], qProj, kProj, vProj, tail);
}
