// Every TensorProto of a model, wherever it lives. One walk for every per-tensor check, so that
// no place is forgotten: checking only the main graph's initializers let a Constant, a sparse
// tensor or a Loop body nested in an If reference ../secret.bin (issue 12, item 4).
import type { AttributeProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, TensorProto } from 'onnx-buf';

/** Where a tensor lives in a model, for messages (built only when one is needed). */
export type TensorWhere = () => string;

/**
 * Visits every TensorProto of a model, wherever it lives: graph initializers and sparse
 * initializers, tensor attributes of any node (Constant's `value`, TENSORS, SPARSE_TENSOR(S)),
 * the same inside every subgraph (If/Loop/Scan bodies, nested to any depth), function bodies and
 * their attribute defaults, and training-info graphs. Iterative: subgraph nesting never grows
 * the stack. THE walk for every per-tensor check (external data), so no tensor is forgotten:
 * checking only graph initializers once let a Constant or a Loop body read ../secret.bin.
 */
export function forEachTensor(model: ModelProto, visit: (t: TensorProto, where: TensorWhere) => void): void {
  type Item = { graph: GraphProto; scope: string } | { nodes: NodeProto[]; attrs: AttributeProto[]; scope: string };
  const stack: Item[] = [];
  for (const [i, ti] of model.trainingInfo.entries()) {
    if (ti.algorithm) stack.push({ graph: ti.algorithm, scope: ` in training_info[${i}].algorithm` });
    if (ti.initialization) stack.push({ graph: ti.initialization, scope: ` in training_info[${i}].initialization` });
  }
  for (const f of model.functions) stack.push({ nodes: f.node, attrs: f.attributeProto, scope: ` in function ${f.domain ? `${f.domain}.` : ''}${f.name}` });
  if (model.graph) stack.push({ graph: model.graph, scope: '' });
  const sparse = (st: SparseTensorProto, where: TensorWhere) => {
    if (st.values) visit(st.values, () => `${where()} (sparse values)`);
    if (st.indices) visit(st.indices, () => `${where()} (sparse indices)`);
  };
  const attributes = (attrs: AttributeProto[], owner: string, scope: string) => {
    for (const a of attrs) {
      const where = () => `attribute ${a.name} of ${owner}${scope}`;
      if (a.t) visit(a.t, where);
      a.tensors.forEach((t, i) => visit(t, () => `${where()}[${i}]`));
      if (a.sparseTensor) sparse(a.sparseTensor, where);
      a.sparseTensors.forEach((t, i) => sparse(t, () => `${where()}[${i}]`));
      // Pushed, not recursed into: visited after this level, in no particular depth order.
      if (a.g) stack.push({ graph: a.g, scope: ` in subgraph ${a.name} of ${owner}${scope}` });
      a.graphs.forEach((g, i) => stack.push({ graph: g, scope: ` in subgraph ${a.name}[${i}] of ${owner}${scope}` }));
    }
  };
  while (stack.length) {
    const item = stack.pop()!;
    if ('graph' in item) {
      const { graph, scope } = item;
      for (const t of graph.initializer) visit(t, () => `initializer${scope}`);
      for (const st of graph.sparseInitializer) sparse(st, () => `sparse initializer${scope}`);
      for (const n of graph.node) if (n.attribute.length) attributes(n.attribute, `${n.opType} node ${n.name || '(unnamed)'}`, scope);
    } else {
      for (const n of item.nodes) if (n.attribute.length) attributes(n.attribute, `${n.opType} node ${n.name || '(unnamed)'}`, item.scope);
      attributes(item.attrs, 'the function', item.scope);
    }
  }
}
