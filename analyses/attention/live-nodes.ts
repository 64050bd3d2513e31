// The nodes whose results reach a graph output. A softmax in dead code is no site: compile's cut
// would expose a tensor that dead-code elimination has already removed (the fuzz test found this
// with a graph output renamed to an intermediate tensor, and with the outputs removed).
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';

export function liveNodes(g: Graph): Set<Node> {
  const live = new Set<Node>();
  // An explicit stack: graphs of 10^5-10^6 nodes are chains deep enough to overflow recursion.
  const stack: Node[] = [];
  for (const v of g.outputs) if (v.producer) stack.push(v.producer);
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const v of [...n.inputs, ...n.implicitInputs]) if (v?.producer && !live.has(v.producer)) stack.push(v.producer);
  }
  return live;
}
