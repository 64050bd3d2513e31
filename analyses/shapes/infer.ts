// Symbolic shape inference over the ops UNet and DiT exports use. Every tensor gets a shape whose
// dims are symbolic sizes (Sym) over the graph inputs' named dims, or null where a dim cannot be
// said; a tensor whose rank cannot be said gets a null shape. Small integer tensors (the shape
// arithmetic in front of Reshape/Expand/Slice) also get their values, so "height*width" survives
// Shape -> Gather -> Mul -> Concat -> Reshape. This file is the driver: the rules live in rules/,
// element types in dtype.ts. An op with no rule, or whose rule throws, makes its outputs unknown,
// never an error; the result says which ops had no rule and which rules failed. Pure analysis.
import { DTYPE } from '../../ir/dtype.js';
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { constantNumbers } from '../../ir/constant-value.js';
import { dtypeOf } from './dtype.js';
import { INT_TYPES, known, MAX_TRACKED, rank, type Facts, type Shape } from './facts.js';
import { RULES } from './rules/index.js';
import { parseDim, Sym } from './sym.js';

export type { Facts, Shape } from './facts.js';

/** A node whose shape rule threw: its outputs are unknown, and this says why. */
export interface ShapeRuleFailure {
  node: string;
  opType: string;
  message: string;
}

export interface ShapeInference {
  facts: Map<Value, Facts>;
  /** Ops without a rule, by op type, with how many nodes. */
  unsupported: Record<string, number>;
  /** Nodes whose rule threw, in graph order (empty on every model tgate supports). */
  failures: ShapeRuleFailure[];
}

/** The facts of a graph input or initializer, from its declared type or tensor dims. */
function sourceFacts(v: Value): Facts {
  if (v.constant) {
    const t = v.constant;
    const shape = t.dims.map((d) => Sym.of(d));
    const out: Facts = { shape };
    if (INT_TYPES.has(t.dtype) && shape.length <= 1) {
      const vals = constantNumbers(v);
      if (vals && vals.length <= MAX_TRACKED) out.values = vals.map((x) => Sym.of(Math.trunc(x)));
    }
    return out;
  }
  const s = v.type?.shape;
  if (!s) return known(null);
  // An unnamed input dim gets a name of its own, so the relations through the graph survive.
  return known(
    s.map((d, i) => (typeof d === 'number' ? Sym.of(d) : ((typeof d === 'string' ? parseDim(d) : null) ?? Sym.named(`${v.name.replace(/\W/g, '_')}_d${i}`)))),
  );
}

/** Runs the node's rule; no rule or a throwing rule gives unknown outputs, recorded in `result`. */
function applyRule(n: Node, ins: (Facts | null)[], result: ShapeInference): (Facts | null)[] {
  const rule = RULES[n.opType];
  if (!rule) {
    result.unsupported[n.opType] = (result.unsupported[n.opType] ?? 0) + 1;
    return n.outputs.map(() => null);
  }
  try {
    return rule(n, ins);
  } catch (e) {
    // A rule meeting a form it does not know says "unknown" and never fails the analysis, but the
    // failure is kept so a caller (or a test) can tell a rule bug from a shape that cannot be said.
    result.failures.push({ node: n.name, opType: n.opType, message: e instanceof Error ? e.message : String(e) });
    return n.outputs.map(() => null);
  }
}

export function inferShapes(g: Graph): ShapeInference {
  const result: ShapeInference = { facts: new Map<Value, Facts>(), unsupported: {}, failures: [] };
  const facts = result.facts;
  for (const v of [...g.inputs, ...g.initializers]) {
    if (facts.has(v)) continue;
    const f = sourceFacts(v);
    f.dtype = v.constant?.dtype ?? v.type?.dtype ?? DTYPE.undefined;
    facts.set(v, f);
  }
  for (const n of g.nodes) {
    const ins = n.inputs.map((v) => (v ? (facts.get(v) ?? null) : null));
    const outs = applyRule(n, ins, result);
    n.outputs.forEach((v, i) => {
      if (!v) return;
      const f = outs[i] ?? known(null);
      if (f.values && (f.values.length > MAX_TRACKED || rank(f) === null || (rank(f) ?? 0) > 1)) delete f.values;
      facts.set(v, { ...f, dtype: dtypeOf(n, i, ins) });
    });
  }
  return result;
}

/** A shape under concrete sizes for the named dims: numbers, or null per dim that cannot be said. */
export function concreteShape(shape: Shape | null, sizes: Record<string, number>): (number | null)[] | null {
  return shape ? shape.map((d) => (d ? d.evaluate(sizes) : null)) : null;
}
