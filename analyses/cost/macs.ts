// Multiply-accumulates and parameters of a graph at concrete input sizes, from the symbolic shape
// inference. Two conventions, as the literature uses both: "conv+linear" counts convolutions and
// products with a weight (MatMul/Gemm with a constant operand), which is what the published SD
// figures count; "all" adds the products of two activations (attention scores and the
// probabilities x values), including fused attention ops. Elementwise ops, norms and softmax
// count in neither. Pure analysis: the graph is not touched.
import { DTYPE } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { isConstant } from '../../ir/constant-value.js';
import { modulePath } from '../attention/scope.js';
import { concreteShape, type ShapeInference } from '../shapes/infer.js';

export type MacKind = 'linear' | 'attention';

export interface NodeMacs {
  node: Node;
  kind: MacKind;
  macs: number;
}

export interface GraphCost {
  /** Convolutions and weight products (the published convention). */
  linearMacs: number;
  /** Products of two activations: attention scores and weighted values. */
  attentionMacs: number;
  /** Elements of every float initializer (weights and biases). */
  params: number;
  perNode: NodeMacs[];
  /** Parameters by the node that first reads them (graph order), for per-scope counts. */
  paramsByNode: { node: Node; params: number }[];
  /** Nodes that do multiply-accumulates but whose shapes could not be made concrete. */
  uncounted: string[];
}

const WEIGHT_TYPES = new Set<number>([DTYPE.float32, DTYPE.float16, DTYPE.float64, DTYPE.bfloat16]);

function prod(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

function nodeMacs(n: Node, shape: (v: Value | null) => number[] | null): { kind: MacKind; macs: number } | null | undefined {
  const out = shape(n.outputs[0] ?? null);
  switch (n.opType) {
    case 'Conv': {
      const w = shape(n.inputs[1] ?? null);
      return out && w ? { kind: 'linear', macs: prod(out) * prod(w.slice(1)) } : null;
    }
    case 'ConvTranspose': {
      const x = shape(n.inputs[0] ?? null);
      const w = shape(n.inputs[1] ?? null);
      return x && w ? { kind: 'linear', macs: prod(x) * prod(w.slice(1)) } : null;
    }
    case 'MatMul':
    case 'FusedMatMul': {
      const a = shape(n.inputs[0] ?? null);
      if (!out || !a) return null;
      const k = n.opType === 'FusedMatMul' && n.attr.int('transA') === 1 ? a[a.length - 2]! : a[a.length - 1]!;
      const weight = isConstant(n.inputs[0] ?? null) || isConstant(n.inputs[1] ?? null);
      return { kind: weight ? 'linear' : 'attention', macs: prod(out) * k };
    }
    case 'Gemm': {
      const a = shape(n.inputs[0] ?? null);
      if (!out || !a) return null;
      return { kind: 'linear', macs: prod(out) * (n.attr.int('transA') === 1 ? a[0]! : a[1]!) };
    }
    case 'Einsum': {
      // A contraction's MACs: the product of every index's size.
      const eq = n.attr.string('equation');
      const lhs = eq !== undefined ? eq.replace(/\s/g, '').split('->')[0]! : '';
      const sizes = new Map<string, number>();
      const terms = lhs.split(',');
      for (let i = 0; i < terms.length; i++) {
        const s = shape(n.inputs[i] ?? null);
        if (!s) return null;
        [...terms[i]!].forEach((ch, j) => sizes.set(ch, Math.max(sizes.get(ch) ?? 1, s[j] ?? 1)));
      }
      const weight = n.inputs.some((v) => isConstant(v));
      return { kind: weight ? 'linear' : 'attention', macs: prod([...sizes.values()]) };
    }
    case 'MultiHeadAttention':
    case 'Attention': {
      // Scores (S x L x head) and weighted values (S x L x v_head), summed over heads: S * L * (D + Dv).
      const q = shape(n.inputs[0] ?? null);
      if (!out || !q) return null;
      const fusedProjection = n.domain === 'com.microsoft' && n.opType === 'Attention';
      const k = fusedProjection ? q : shape(n.inputs[1] ?? null);
      if (!k) return null;
      const [b, s] = [q[0]!, q[1]!];
      const l = fusedProjection ? s : q.length === 5 ? s : k.length === 5 ? k[1]! : k.length === 4 && n.domain === 'com.microsoft' ? k[2]! : k[1]!;
      const dv = out[out.length - 1]! * (out.length === 4 ? out[1]! : 1);
      const d = q.length === 5 ? q[3]! * q[4]! : fusedProjection ? dv : q.length === 4 ? q[1]! * q[3]! : q[2]!;
      const attention = b * s * l * (d + dv);
      if (!fusedProjection) return { kind: 'attention', macs: attention };
      const w = shape(n.inputs[1] ?? null);
      return w ? { kind: 'attention', macs: attention + b * s * prod(w) } : null;
    }
    default:
      return undefined;
  }
}

export function countMacs(g: Graph, inferred: ShapeInference, sizes: Record<string, number>): GraphCost {
  return countMacsWith(g, (v) => {
    if (!v) return null;
    const s = concreteShape(inferred.facts.get(v)?.shape ?? null, sizes);
    return s && s.every((d) => d !== null) ? (s as number[]) : null;
  });
}

/** The same count from any source of concrete shapes (tests feed onnxruntime's). */
export function countMacsWith(g: Graph, shape: (v: Value | null) => number[] | null): GraphCost {
  const perNode: NodeMacs[] = [];
  const uncounted: string[] = [];
  let linearMacs = 0;
  let attentionMacs = 0;
  for (const n of g.nodes) {
    const r = nodeMacs(n, shape);
    if (r === undefined) continue;
    if (r === null) {
      uncounted.push(n.name);
      continue;
    }
    perNode.push({ node: n, ...r });
    if (r.kind === 'linear') linearMacs += r.macs;
    else attentionMacs += r.macs;
  }
  let params = 0;
  for (const v of g.initializers) if (WEIGHT_TYPES.has(v.constant!.dtype) && v.useCount > 0) params += prod(v.constant!.dims);
  const owned = new Set<Value>();
  const paramsByNode: { node: Node; params: number }[] = [];
  for (const n of g.nodes) {
    let p = 0;
    for (const v of n.inputs) {
      if (!v?.constant || owned.has(v) || !WEIGHT_TYPES.has(v.constant.dtype)) continue;
      owned.add(v);
      p += prod(v.constant.dims);
    }
    if (p) paramsByNode.push({ node: n, params: p });
  }
  return { linearMacs, attentionMacs, params, perNode, paramsByNode, uncounted };
}

export interface ScopeCost {
  scope: string;
  linearMacs: number;
  attentionMacs: number;
  params: number;
}

/** MACs and parameters grouped by module path prefix (depth segments: "/down_blocks.1"), in graph order. */
export function macsByScope(cost: GraphCost, depth: number): ScopeCost[] {
  const groups = new Map<string, ScopeCost>();
  const group = (n: Node) => {
    const p = modulePath(n);
    const scope = p && p.length ? `/${p.slice(0, depth).join('/')}` : '(no module scope)';
    const gr = groups.get(scope) ?? { scope, linearMacs: 0, attentionMacs: 0, params: 0 };
    groups.set(scope, gr);
    return gr;
  };
  for (const x of cost.perNode) {
    const gr = group(x.node);
    if (x.kind === 'linear') gr.linearMacs += x.macs;
    else gr.attentionMacs += x.macs;
  }
  for (const x of cost.paramsByNode) group(x.node).params += x.params;
  return [...groups.values()];
}

/** Starts each segment of the scope index's keys (the root is ''): never part of a module path. */
const SEP = '\u0000';
const scopeTotals = new WeakMap<GraphCost, Map<string, Omit<ScopeCost, 'scope'>>>();

/**
 * Totals of every module scope of a cost, built once: each node counts towards every prefix of
 * its module path. Sums run in graph order per scope, so they equal a filter over the nodes.
 * Once per cost and not per site: per site it was O(sites x nodes), 22 s of a 30k-node compile.
 */
function totalsByScope(cost: GraphCost): Map<string, Omit<ScopeCost, 'scope'>> {
  let totals = scopeTotals.get(cost);
  if (totals) return totals;
  const index = new Map<string, Omit<ScopeCost, 'scope'>>();
  totals = index;
  const paths = new Map<Node, string[] | null>();
  const pathOf = (n: Node) => {
    if (!paths.has(n)) paths.set(n, modulePath(n));
    return paths.get(n)!;
  };
  const each = (n: Node, add: (t: Omit<ScopeCost, 'scope'>) => void) => {
    const p = pathOf(n);
    if (!p) return;
    let key = '';
    for (let i = 0; ; i++) {
      let t = index.get(key);
      if (!t) index.set(key, (t = { linearMacs: 0, attentionMacs: 0, params: 0 }));
      add(t);
      if (i === p.length) break;
      key = `${key}${SEP}${p[i]}`;
    }
  };
  for (const x of cost.perNode) each(x.node, (t) => (x.kind === 'linear' ? (t.linearMacs += x.macs) : (t.attentionMacs += x.macs)));
  for (const x of cost.paramsByNode) each(x.node, (t) => (t.params += x.params));
  scopeTotals.set(cost, totals);
  return totals;
}

/** MACs and parameters of the nodes inside a module scope (e.g. a site's "/down_blocks.0/.../attn1"). */
export function macsWithin(cost: GraphCost, scope: string): Omit<ScopeCost, 'scope'> {
  const t = totalsByScope(cost).get(
    scope
      .split('/')
      .filter(Boolean)
      .map((x) => SEP + x)
      .join(''),
  );
  return t ? { ...t } : { linearMacs: 0, attentionMacs: 0, params: 0 };
}
