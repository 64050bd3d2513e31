// Adds values as extra graph outputs (the planning graph's cached tensors). Values already
// exposed are left alone and not counted.
import type { Graph } from '../ir/graph.js';
import type { TensorType } from '../ir/value.js';
import { result, type Pass } from './pass.js';

export function exposeOutputs(targets: { tensor: string; type: TensorType }[]): Pass {
  return {
    name: 'expose-outputs',
    run(g: Graph) {
      let outputsAdded = 0;
      for (const t of targets) {
        const v = g.requireValue(t.tensor, 'expose');
        if (!v.type || !v.type.shape) v.type = t.type;
        if (g.addOutput(v)) outputsAdded++;
      }
      return result({ outputsAdded });
    },
  };
}
