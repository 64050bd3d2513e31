// The shallow network of a DeepCache cut: what still computes once the cut tensor is fed instead.
// A value is in the shallow part when some path from it to a graph output avoids the cut; the
// attention sites there (SD-1.5's branch 0 holds one transformer block) follow the TGATE phase in
// the shallow variants, the others vanish with the deep part. Read-only.
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';

/** The nodes that still feed a graph output when `cut` is an input (the walk never enters the cut's producer). */
export function shallowNodes(graph: Graph, cut: string): Set<Node> {
  const seen = new Set<Node>();
  const stack: Node[] = [];
  for (const o of graph.outputs) if (o.producer && o.name !== cut) stack.push(o.producer);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const v of [...n.inputs, ...n.implicitInputs]) if (v?.producer && v.name !== cut && !seen.has(v.producer)) stack.push(v.producer);
  }
  return seen;
}

/** Of `tensors`, those the shallow network of `cut` still computes. */
export function inShallowPart(graph: Graph, cut: string, tensors: readonly string[]): Set<string> {
  const nodes = shallowNodes(graph, cut);
  return new Set(
    tensors.filter((t) => {
      const p = graph.value(t)?.producer;
      return p !== undefined && p !== null && nodes.has(p);
    }),
  );
}
