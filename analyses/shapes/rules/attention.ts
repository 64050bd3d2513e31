// Shape rules for fused attention ops: com.microsoft MultiHeadAttention and Attention (packed
// QKV weights), and the opset-23 ONNX Attention in its 3-D and 4-D layouts.
import { known, type Rule } from '../facts.js';
import { Sym } from '../sym.js';

const multiHeadAttention: Rule = (_n, ins) => {
  // Output [batch, q_len, v_hidden]; v_hidden from the value (or packed inputs: the query's).
  const q = ins[0]?.shape;
  if (!q) return [known(null)];
  if (q.length === 5) return [known([q[0]!, q[1]!, q[3] && q[4] ? q[3].mul(q[4]) : null])];
  const v = ins[2]?.shape;
  const hidden = v && v.length === 3 ? v[2]! : v && v.length === 4 ? (v[1] && v[3] ? v[1].mul(v[3]) : null) : q[2]!;
  return [known([q[0]!, q[1]!, hidden])];
};

const attention: Rule = (n, ins) => {
  const q = ins[0]?.shape;
  if (!q) return [known(null)];
  if (n.domain === 'com.microsoft') {
    const w = ins[1]?.shape;
    const sizes = n.attr.ints('qkv_hidden_sizes');
    const hidden = sizes ? Sym.of(sizes[2]!) : (w?.[1]?.floorDiv(Sym.of(3)) ?? null);
    return [known([q[0]!, q[1]!, hidden])];
  }
  // ONNX Attention (opset 23): the output keeps Q's layout with V's head size.
  const v = ins[2]?.shape;
  if (q.length === 4) return [known([q[0]!, q[1]!, q[2]!, v?.[3] ?? null])];
  const heads = n.attr.int('q_num_heads');
  const vHeads = n.attr.int('kv_num_heads');
  const vHidden = v?.[2] && heads && vHeads ? (v[2].floorDiv(Sym.of(vHeads))?.mul(Sym.of(heads)) ?? null) : (v?.[2] ?? null);
  return [known([q[0]!, q[1]!, vHidden])];
};

export const ATTENTION_RULES: Record<string, Rule> = {
  MultiHeadAttention: multiHeadAttention,
  Attention: attention,
};
