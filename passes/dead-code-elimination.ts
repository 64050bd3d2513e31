// Removes nodes none of whose outputs is used or exposed, then initializers nothing reads.
// Graph inputs are the interface and stay (prune-unused-inputs removes them on request).
// One liveness walk finds every dead node, and Graph.remove drops them as one checked set.
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { result, type Pass } from './pass.js';

export const deadCodeElimination: Pass = {
  name: 'dead-code-elimination',
  run(g: Graph) {
    const dead = deadNodes(g);
    g.remove(dead);
    let initializersRemoved = 0;
    for (const v of g.initializers.slice()) {
      if (v.useCount === 0 && !g.isGraphOutput(v)) {
        g.removeInitializer(v);
        initializersRemoved++;
      }
    }
    return result({ nodesRemoved: dead.length, initializersRemoved });
  },
};

/**
 * The nodes nothing live reads, last first. Live: a node with a side effect or producing a graph
 * output, and every producer a live node reads, subgraph captures included. Last first, because
 * a value drops its uses from the end (ir/value.ts): consumers go before their producers.
 */
function deadNodes(g: Graph): Node[] {
  const live = new Set<Node>();
  const work: Node[] = [];
  const mark = (n: Node | null) => {
    if (n && !live.has(n)) {
      live.add(n);
      work.push(n);
    }
  };
  for (const v of g.outputs) mark(v.producer);
  for (const n of g.nodes) if (hasSideEffects(n.opType, n.domain)) mark(n);
  for (let n = work.pop(); n; n = work.pop()) {
    for (const v of n.inputs) mark(v?.producer ?? null);
    for (const v of n.implicitInputs) mark(v.producer);
  }
  return g.nodes.filter((n) => !live.has(n)).reverse();
}

/** Ops whose removal would change behaviour even when their outputs are unused. */
function hasSideEffects(op: string, domain: string): boolean {
  return (domain === '' || domain === 'ai.onnx') && (op === 'Print' || op === 'Assert');
}
