// Shape rules for ops that reduce over axes: the Reduce* family (axes as attribute or, from
// opset 18, as input), ArgMax, and the layer norms whose extra outputs are per-row statistics.
import type { Node } from '../../../ir/node.js';
import { axis, ints, known, type Facts, type Rule, type Shape } from '../facts.js';
import { Sym } from '../sym.js';

function reduce(n: Node, ins: (Facts | null)[], axesFromInput: boolean): Facts | null {
  const s = ins[0]?.shape;
  if (!s) return known(null);
  const keep = (n.attr.int('keepdims') ?? 1) === 1;
  const axes = axesFromInput ? ints(n.inputs[1], ins[1]) : (n.attr.ints('axes') ?? null);
  if (axes === null && axesFromInput && n.inputs[1]) return known(null);
  const all = !axes || axes.length === 0;
  const set = new Set((axes ?? []).map((a) => axis(a, s.length)));
  const out: Shape = [];
  s.forEach((d, i) => {
    if (all || set.has(i)) {
      if (keep) out.push(Sym.of(1));
    } else out.push(d);
  });
  return known(out);
}

const reduceRule: Rule = (n, ins) => [reduce(n, ins, n.inputs.length > 1)];

const argMax: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  if (!s) return [known(null)];
  const a = axis(n.attr.int('axis') ?? 0, s.length);
  const keep = (n.attr.int('keepdims') ?? 1) === 1;
  return [known(keep ? s.map((d, i) => (i === a ? Sym.of(1) : d)) : s.filter((_, i) => i !== a))];
};

const layerNormalization: Rule = (n, ins) => {
  const s = ins[0]?.shape ?? null;
  const a = s ? axis(n.attr.int('axis') ?? -1, s.length) : 0;
  const stat = s ? s.map((d, i) => (i < a ? d : Sym.of(1))) : null;
  return [known(s), known(stat), known(stat)];
};

const skipLayerNormalization: Rule = (n, ins) =>
  n.outputs.map((_, i) => (i === 1 || i === 2 ? known(ins[0]?.shape ? [...ins[0].shape.slice(0, -1), Sym.of(1)] : null) : known(ins[0]?.shape ?? null)));

export const REDUCE_RULES: Record<string, Rule> = {
  ReduceMean: reduceRule,
  ReduceSum: reduceRule,
  ReduceMax: reduceRule,
  ReduceMin: reduceRule,
  ReduceProd: reduceRule,
  ReduceL2: reduceRule,
  ArgMax: argMax,
  LayerNormalization: layerNormalization,
  SkipLayerNormalization: skipLayerNormalization,
};
