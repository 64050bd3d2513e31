// Structural checks of the IR: names unique, edges consistent both ways, every value defined
// before use in node order (so no cycle), graph outputs produced. Returns problems; never mutates.
// Linear in nodes + edges: it runs after every pass, and a value read by 10^5 nodes (a shared
// constant) made the old per-use search quadratic (a 100k-node compile ran for over 10 minutes).
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import { describeCycle, topologicalOrder } from './order.js';
import type { Value } from './value.js';

export function verifyGraph(g: Graph): string[] {
  const problems: string[] = [];
  // The uses values record, indexed once as numbers (node number x slot), so checking an edge
  // against them is O(1). Slot -1 (a subgraph's implicit read) becomes 0.
  const nodes = g.nodes;
  const id = new Map<Node, number>();
  let width = 1;
  for (const n of nodes) {
    id.set(n, id.size);
    width = Math.max(width, n.inputs.length + 1);
  }
  const recorded = new Set<number>();
  for (const v of g.values()) {
    for (const u of v.uses()) {
      const i = id.get(u.node);
      if (i !== undefined && u.index + 1 < width) recorded.add(i * width + u.index + 1);
    }
  }
  const implicit = new Map<Node, Set<Value>>();
  const implicitOf = (n: Node): Set<Value> => {
    let s = implicit.get(n);
    if (!s) implicit.set(n, (s = new Set(n.implicitInputs)));
    return s;
  };
  const defined = new Set<Value>();
  for (const v of g.inputs) defined.add(v);
  for (const v of g.initializers) defined.add(v);
  const seenNodes = new Set<Node>();
  let readsBeforeDefined = false;
  for (const n of nodes) {
    if (seenNodes.has(n)) problems.push(`node ${n.name} appears twice`);
    seenNodes.add(n);
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (g.value(v.name) !== v) problems.push(`node ${n.name} input ${i} "${v.name}" is not registered in the graph`);
      if (!defined.has(v)) {
        problems.push(`node ${n.name} reads "${v.name}" before it is defined`);
        readsBeforeDefined = true;
      }
      if (!recorded.has(id.get(n)! * width + i + 1)) problems.push(`"${v.name}" does not record its use by ${n.name}[${i}]`);
    });
    for (const v of n.implicitInputs) {
      if (!defined.has(v)) {
        problems.push(`subgraph of ${n.name} reads "${v.name}" before it is defined`);
        readsBeforeDefined = true;
      }
    }
    for (const v of n.outputs) {
      if (!v) continue;
      if (v.producer !== n) problems.push(`"${v.name}" does not name ${n.name} as its producer`);
      if (defined.has(v)) problems.push(`"${v.name}" is defined twice`);
      if (g.value(v.name) !== v) problems.push(`output "${v.name}" of ${n.name} is not registered in the graph`);
      defined.add(v);
    }
  }
  if (readsBeforeDefined) {
    const sorted = topologicalOrder(g.nodes);
    if ('cycle' in sorted) problems.push(`the graph has a cycle: ${describeCycle(sorted.cycle)}`);
  }
  for (const v of g.values()) {
    for (const u of v.uses()) {
      const ok = u.index < 0 ? implicitOf(u.node).has(v) : u.node.inputs[u.index] === v;
      if (!ok || !u.node.attached) problems.push(`"${v.name}" records a stale use by ${u.node.name}[${u.index}]`);
    }
  }
  const outputs = new Set(g.outputs);
  for (const v of outputs) if (!defined.has(v)) problems.push(`graph output "${v.name}" is never produced`);
  if (new Set(g.outputs.map((v) => v.name)).size !== g.outputs.length) problems.push('graph outputs have duplicate names');
  if (new Set(g.inputs.map((v) => v.name)).size !== g.inputs.length) problems.push('graph inputs have duplicate names');
  return problems;
}
