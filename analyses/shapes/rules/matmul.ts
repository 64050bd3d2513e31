// Shape rules for contractions: MatMul (numpy batch broadcasting), the ORT-fused FusedMatMul
// with its transposes, Gemm, and Einsum (explicit "->" equations without ellipsis).
import { known, type Rule, type Shape } from '../facts.js';
import { matmulShape } from '../shape-math.js';
import type { Sym } from '../sym.js';

const fusedMatMul: Rule = (n, ins) => {
  const t = (s: Shape | null, flag: string) => (s && n.attr.int(flag) === 1 ? [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!] : s);
  return [known(matmulShape(t(ins[0]?.shape ?? null, 'transA'), t(ins[1]?.shape ?? null, 'transB')))];
};

const gemm: Rule = (n, ins) => {
  const a = ins[0]?.shape;
  const b = ins[1]?.shape;
  const m = a?.length === 2 ? (n.attr.int('transA') === 1 ? a[1]! : a[0]!) : null;
  const k = b?.length === 2 ? (n.attr.int('transB') === 1 ? b[0]! : b[1]!) : null;
  return [known([m, k])];
};

const einsum: Rule = (n, ins) => {
  const eq = n.attr.string('equation');
  const text = eq !== undefined ? eq.replace(/\s/g, '') : '';
  const [lhs, rhs] = text.split('->');
  if (!lhs || rhs === undefined || rhs.includes('.')) return [known(null)];
  const sizes = new Map<string, Sym | null>();
  lhs.split(',').forEach((term, k) => {
    const s = ins[k]?.shape;
    [...term].forEach((ch, i) => {
      const d = s?.[i] ?? null;
      if (!sizes.has(ch) || (sizes.get(ch)?.value === 1 && d)) sizes.set(ch, d);
    });
  });
  return [known([...rhs].map((ch) => sizes.get(ch) ?? null))];
};

export const MATMUL_RULES: Record<string, Rule> = {
  MatMul: (_n, ins) => [known(matmulShape(ins[0]?.shape ?? null, ins[1]?.shape ?? null))],
  FusedMatMul: fusedMatMul,
  Gemm: gemm,
  Einsum: einsum,
};
