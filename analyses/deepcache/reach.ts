// Reachability over the data-flow graph, by producers and uses (subgraph reads included). Both
// walks use explicit stacks (UNet graphs are chains deep enough to overflow recursion) and never
// mutate the graph.
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';

/** Every node whose result flows into one of `values` (their producers included). */
export function ancestorNodes(values: Iterable<Value>): Set<Node> {
  const seen = new Set<Node>();
  const stack: Node[] = [];
  for (const v of values) if (v.producer) stack.push(v.producer);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const v of [...n.inputs, ...n.implicitInputs]) if (v?.producer && !seen.has(v.producer)) stack.push(v.producer);
  }
  return seen;
}

/** Every node that reads, directly or through others, one of `values`. */
export function descendantNodes(values: Iterable<Value>): Set<Node> {
  const seen = new Set<Node>();
  const stack: Node[] = [];
  for (const v of values) for (const u of v.uses()) stack.push(u.node);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const out of n.outputs) if (out) for (const u of out.uses()) if (!seen.has(u.node)) stack.push(u.node);
  }
  return seen;
}
