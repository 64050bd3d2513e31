// Structural checks of the IR: names unique, edges consistent both ways, every value defined
// before use in node order, graph outputs produced. Returns problems; never mutates.
import type { Graph } from './graph.js';
import type { Value } from './value.js';

export function verifyGraph(g: Graph): string[] {
  const problems: string[] = [];
  const defined = new Set<Value>();
  for (const v of g.inputs) defined.add(v);
  for (const v of g.initializers) defined.add(v);
  const seenNodes = new Set();
  for (const n of g.nodes) {
    if (seenNodes.has(n)) problems.push(`node ${n.name} appears twice`);
    seenNodes.add(n);
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (g.value(v.name) !== v) problems.push(`node ${n.name} input ${i} "${v.name}" is not registered in the graph`);
      if (!defined.has(v)) problems.push(`node ${n.name} reads "${v.name}" before it is defined`);
      if (!v.uses().some((u) => u.node === n && u.index === i)) problems.push(`"${v.name}" does not record its use by ${n.name}[${i}]`);
    });
    for (const v of n.implicitInputs) if (!defined.has(v)) problems.push(`subgraph of ${n.name} reads "${v.name}" before it is defined`);
    for (const v of n.outputs) {
      if (!v) continue;
      if (v.producer !== n) problems.push(`"${v.name}" does not name ${n.name} as its producer`);
      if (defined.has(v)) problems.push(`"${v.name}" is defined twice`);
      if (g.value(v.name) !== v) problems.push(`output "${v.name}" of ${n.name} is not registered in the graph`);
      defined.add(v);
    }
  }
  for (const v of g.values()) {
    for (const u of v.uses()) {
      const ok = u.index < 0 ? u.node.implicitInputs.includes(v) : u.node.inputs[u.index] === v;
      if (!ok || !u.node.attached) problems.push(`"${v.name}" records a stale use by ${u.node.name}[${u.index}]`);
    }
  }
  for (const v of g.outputs) if (!defined.has(v)) problems.push(`graph output "${v.name}" is never produced`);
  if (new Set(g.outputs.map((v) => v.name)).size !== g.outputs.length) problems.push('graph outputs have duplicate names');
  if (new Set(g.inputs.map((v) => v.name)).size !== g.inputs.length) problems.push('graph inputs have duplicate names');
  return problems;
}
