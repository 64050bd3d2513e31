// A graph fragment whose shape rule throws: a Where whose condition (2 tracked values) and branches
// (3 each) do not broadcast. An invalid graph (onnxruntime refuses it), so the only way to see how
// tgate reports a failed shape rule on a real decoded graph.
import { GraphBuilder, INT64 } from '../../fixtures/graph-builder.js';
import type { ModelSpec } from '../../fixtures/model-spec.js';

/** Adds the Where (and the Equal feeding it) to `b`; returns the Where's output and node name. */
export function addInconsistentWhere(b: GraphBuilder): { output: string; node: string } {
  const cond = b.op('Equal', [b.constant([1, 2], [2], INT64), b.constant([1, 3], [2], INT64)]);
  const output = b.op('Where', [cond, b.constant([2, 3, 1], [3], INT64), b.constant([6, 1, 1], [3], INT64)]);
  return { output, node: b.nodes.at(-1)!.name! };
}

/** The fragment reshaping an input x [batch, 6] by the Where's output: a whole model. */
export function inconsistentWhereSpec(): { spec: ModelSpec; where: string } {
  const b = new GraphBuilder();
  const x = b.input('x', ['batch', 6]);
  const { output, node } = addInconsistentWhere(b);
  b.op('Reshape', [x, output]);
  b.output(b.nodes.at(-1)!.outputs[0]!, ['batch', 2, 3]);
  return { spec: b.model(), where: node };
}

/**
 * `spec` with the fragment beside it, the Where's output one more graph output: a model that
 * compiles (without the proof) and whose shape inference fails on one node.
 */
export function withInconsistentWhere(spec: ModelSpec): { spec: ModelSpec; where: string } {
  const b = new GraphBuilder();
  const { output, node } = b.scope('shape_probe', () => addInconsistentWhere(b));
  return {
    spec: { ...spec, nodes: [...spec.nodes, ...b.nodes], outputs: [...spec.outputs, { name: output, dtype: INT64, shape: [3] }] },
    where: node,
  };
}
