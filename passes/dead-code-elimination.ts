// Removes nodes none of whose outputs is used or exposed, then initializers nothing reads.
// Graph inputs are the interface and stay (prune-unused-inputs removes them on request).
import type { Graph } from '../ir/graph.js';
import { result, type Pass } from './pass.js';

export const deadCodeElimination: Pass = {
  name: 'dead-code-elimination',
  run(g: Graph) {
    let nodesRemoved = 0;
    // Reverse order visits consumers before producers, so one sweep removes whole dead chains in
    // a sorted graph; the loop repeats for graphs that are not sorted.
    for (let again = true; again;) {
      again = false;
      const nodes = g.nodes.slice().reverse();
      for (const n of nodes) {
        if (g.whyNotRemovable(n) === null && !hasSideEffects(n.opType, n.domain)) {
          g.removeNode(n);
          nodesRemoved++;
          again = true;
        }
      }
    }
    let initializersRemoved = 0;
    for (const v of g.initializers.slice()) {
      if (v.useCount === 0 && !g.isGraphOutput(v)) {
        g.removeInitializer(v);
        initializersRemoved++;
      }
    }
    return result({ nodesRemoved, initializersRemoved });
  },
};

/** Ops whose removal would change behaviour even when their outputs are unused. */
function hasSideEffects(op: string, domain: string): boolean {
  return (domain === '' || domain === 'ai.onnx') && (op === 'Print' || op === 'Assert');
}
