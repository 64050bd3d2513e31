// Orders nodes so every value is defined before it is read. Stable: among ready nodes the one
// earliest in the current order goes first, so an already sorted graph keeps its order exactly.
// The ordering itself is the IR's (ir/order.ts), the one the decoder and verifier use.
import { TgateError } from '../base/errors.js';
import type { Graph } from '../ir/graph.js';
import { describeCycle, topologicalOrder } from '../ir/order.js';
import { result, type Pass } from './pass.js';

export const topologicalSort: Pass = {
  name: 'topological-sort',
  run(g: Graph) {
    const nodes = g.nodes;
    const r = topologicalOrder(nodes);
    if ('cycle' in r) {
      // Decode refuses cyclic models, so a cycle here was made by a rewrite: a bug in tgate.
      const first = r.cycle[0]!;
      throw new TgateError('E_IR_INVALID', `The graph has a cycle: ${describeCycle(r.cycle)}.`, { subject: { node: first.name } });
    }
    const moved = r.order.filter((n, i) => nodes[i] !== n).length;
    if (moved) g.setNodeOrder(r.order);
    return result({ nodesMoved: moved });
  },
};
