// Replaces the computation of each target value by a graph input of the same name, dtype and
// shape. Uses of the value are untouched, so the rest of the graph reads the new input exactly
// where it read the computed tensor. What only fed the targets is left for dead-code-elimination,
// the next pass of the variant pipeline (passes/variant-pipeline.ts).
import type { Graph } from '../ir/graph.js';
import type { TensorType } from '../ir/value.js';
import { result, type Pass } from './pass.js';

export function cutAtValues(targets: { tensor: string; type: TensorType }[]): Pass {
  return {
    name: 'cut-at-values',
    run(g: Graph) {
      let inputsAdded = 0;
      for (const t of targets) {
        const v = g.requireValue(t.tensor, 'cut at');
        if (g.isGraphInput(v)) continue;
        g.promoteToInput(v, t.type);
        inputsAdded++;
      }
      return result({ inputsAdded });
    },
  };
}
