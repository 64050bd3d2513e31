// Removes graph inputs nothing reads any more (e.g. the text input once every cross-attention is
// cached). An input still read anywhere, by a node or a subgraph, stays.
import type { Graph } from '../ir/graph.js';
import { result, type Pass } from './pass.js';

export function pruneUnusedInputs(opts: { keep?: string[] } = {}): Pass & { removed: string[] } {
  const removed: string[] = [];
  return {
    name: 'prune-unused-inputs',
    removed,
    run(g: Graph) {
      for (const v of g.inputs.slice()) {
        if (v.constant || v.useCount > 0 || g.isGraphOutput(v) || opts.keep?.includes(v.name)) continue;
        g.removeInput(v);
        removed.push(v.name);
      }
      return result({ inputsRemoved: removed.length });
    },
  };
}
