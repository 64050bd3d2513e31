// Attention computed by one fused op: com.microsoft MultiHeadAttention (separate q/k/v, packed
// KV, packed QKV: what onnxruntime's transformers optimizer and Olive emit for SD UNets),
// com.microsoft Attention (projection inside the op, self only) and the standard ONNX Attention
// (opset 23). The projections behind the op and the out-projection after it are found as for
// the unfused form; packed inputs make q/k/v share one projection, so cross vs self still
// follows from data flow.
import type { Node } from '../../ir/node.js';
import { isConstant } from './constants.js';
import { matched, moduleOutputAfter, projectionBehind, type AttentionVariant, type MatchResult } from './match-site.js';

export function isFusedAttention(n: Node): boolean {
  if (n.domain === 'com.microsoft') return n.opType === 'MultiHeadAttention' || n.opType === 'Attention';
  return (n.domain === '' || n.domain === 'ai.onnx') && n.opType === 'Attention';
}

export function matchFusedAttention(n: Node): MatchResult {
  const fail = (reason: string): MatchResult => ({ ok: false, reason });
  const [q, k, v] = [n.inputs[0] ?? null, n.inputs[1] ?? null, n.inputs[2] ?? null];
  let variant: AttentionVariant;
  let qProj: Node | null;
  let kProj: Node | null;
  let vProj: Node | null;
  if (n.domain === 'com.microsoft' && n.opType === 'Attention') {
    // The op projects its own input with a constant packed weight: a self-attention module.
    if (!q || !isConstant(n.inputs[1] ?? null)) return fail(`${n.name}: com.microsoft Attention without constant packed weights`);
    variant = 'ms-attention';
    qProj = kProj = vProj = n;
  } else if (n.domain === 'com.microsoft') {
    qProj = projectionBehind(q);
    if (!qProj) return fail(`no query projection (MatMul/Gemm with constant weights) behind ${n.name}`);
    if (!k && !v) {
      variant = 'ms-multihead-attention-packed-qkv';
      kProj = vProj = qProj;
    } else if (k && !v) {
      variant = 'ms-multihead-attention-packed-kv';
      kProj = vProj = projectionBehind(k);
      if (!kProj) return fail(`no packed key/value projection behind ${n.name}`);
    } else {
      variant = 'ms-multihead-attention';
      kProj = projectionBehind(k);
      vProj = projectionBehind(v);
      if (!kProj || !vProj) return fail(`no ${kProj ? 'value' : 'key'} projection (MatMul/Gemm with constant weights) behind ${n.name}`);
    }
  } else {
    variant = 'onnx-attention';
    qProj = projectionBehind(q);
    kProj = projectionBehind(k);
    vProj = projectionBehind(v);
    if (!qProj || !kProj || !vProj)
      return fail(`no ${!qProj ? 'query' : !kProj ? 'key' : 'value'} projection (MatMul/Gemm with constant weights) behind ${n.name}`);
  }
  if (!kProj || !vProj) return fail(`no key/value projection behind ${n.name}`);
  const tail = moduleOutputAfter(n.outputs[0] ?? null);
  if ('reason' in tail) return fail(`the output of ${n.name} ${tail.reason}`);
  return matched(variant, [n], qProj, kProj, vProj, tail);
}
