// Removes graph inputs nothing reads any more (e.g. the text input once every cross-attention is
// cached). An input still read anywhere, by a node or a subgraph, stays.
import type { Graph } from '../ir/graph.js';
import { result, type Pass } from './pass.js';

export const pruneUnusedInputs: Pass = {
  name: 'prune-unused-inputs',
  run(g: Graph) {
    let inputsRemoved = 0;
    for (const v of g.inputs.slice()) {
      if (v.constant || v.useCount > 0 || g.isGraphOutput(v)) continue;
      g.removeInput(v);
      inputsRemoved++;
    }
    return result({ inputsRemoved });
  },
};
