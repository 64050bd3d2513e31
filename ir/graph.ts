// The graph: nodes in a serialisation order, values by name, graph inputs/outputs and initializers.
// Every edit goes through a method here or Node.setInput, so producer/use links stay consistent.
// Removals are checked before anything changes: a refused removal leaves the graph as it was.
import type { GraphProto, NodeProto, ValueInfoProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { Node } from './node.js';
import { Value, type TensorType } from './value.js';

export class Graph {
  /** Everything of the GraphProto the IR does not model; node/io/initializer lists are rebuilt on encode. */
  readonly proto: GraphProto;
  private nodeList: Node[] = [];
  private readonly valuesByName = new Map<string, Value>();
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** Initializers in their original order. */
  readonly initializers: Value[] = [];
  /** value_info entries of the source, kept for the values that survive. */
  readonly valueInfo = new Map<string, ValueInfoProto>();
  /** Original ValueInfoProtos of graph inputs/outputs, reused verbatim when a value keeps its role. */
  readonly ioInfo = new Map<string, ValueInfoProto>();

  constructor(proto: GraphProto) {
    this.proto = proto;
  }

  /** Removed nodes are dropped from nodeList lazily, so removing many nodes stays linear. */
  private removedSinceCompaction = 0;

  get nodes(): readonly Node[] {
    if (this.removedSinceCompaction > 0) {
      this.nodeList = this.nodeList.filter((n) => n.attached);
      this.removedSinceCompaction = 0;
    }
    return this.nodeList;
  }

  value(name: string): Value | undefined {
    return this.valuesByName.get(name);
  }

  /** The named value, or an error saying which step needed it. */
  requireValue(name: string, purpose: string): Value {
    const v = this.valuesByName.get(name);
    if (!v) throw new TgateError('E_IR_INVALID', `Cannot ${purpose} "${name}": no such tensor in the graph.`, { subject: { tensor: name } });
    return v;
  }

  values(): IterableIterator<Value> {
    return this.valuesByName.values();
  }

  /** The single authority for new names: `base`, else `base_1`, `base_2`, ... */
  freshName(base: string): string {
    if (!this.valuesByName.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!this.valuesByName.has(n)) return n;
    }
  }

  /** Renames a value; every node, input and output referring to it follows (they hold the Value). */
  renameValue(v: Value, name: string): void {
    if (this.valuesByName.get(v.name) !== v) throw new TgateError('E_IR_INVALID', `"${v.name}" is not a value of this graph.`, { subject: { tensor: v.name } });
    if (this.valuesByName.has(name))
      throw new TgateError('E_IR_INVALID', `Cannot rename "${v.name}": a value named "${name}" already exists.`, { subject: { tensor: name } });
    this.valuesByName.delete(v.name);
    v.name = name;
    this.valuesByName.set(name, v);
  }

  /** Creates a value with a name not yet in the graph. */
  createValue(name: string, type: TensorType | null = null): Value {
    if (this.valuesByName.has(name)) {
      throw new TgateError('E_IR_INVALID', `A value named "${name}" already exists in the graph.`, { subject: { tensor: name } });
    }
    const v = new Value(name, type);
    this.valuesByName.set(name, v);
    return v;
  }

  /** Appends a node; its outputs must be fresh values without a producer. */
  appendNode(proto: NodeProto, inputs: (Value | null)[], outputs: (Value | null)[]): Node {
    const node = new Node(proto);
    outputs.forEach((v, i) => {
      if (v && v.producer) {
        throw new TgateError('E_IR_INVALID', `Value "${v.name}" already has a producer (${v.producer.name}).`, { subject: { tensor: v.name } });
      }
      node.bindOutput(i, v);
    });
    inputs.forEach((v, i) => {
      node.inputs.push(null);
      node.setInput(i, v);
    });
    this.nodeList.push(node);
    return node;
  }

  addImplicitInput(node: Node, value: Value): void {
    node.implicitInputs.push(value);
    value.addUse({ node, index: -1 });
  }

  /** Replaces the node order (used by topological sort); must be a permutation of the nodes. */
  setNodeOrder(order: Node[]): void {
    if (order.length !== this.nodes.length || new Set(order).size !== order.length || order.some((n) => !n.attached)) {
      throw new TgateError('E_IR_INVALID', 'setNodeOrder needs a permutation of the graph nodes.');
    }
    this.nodeList = order;
  }

  isGraphOutput(v: Value): boolean {
    return this.outputs.includes(v);
  }

  isGraphInput(v: Value): boolean {
    return this.inputs.includes(v);
  }

  /** Why a node cannot be removed, or null when it can (no output used or exposed). */
  whyNotRemovable(node: Node): string | null {
    for (const out of node.outputs) {
      if (!out) continue;
      if (out.useCount > 0) return `its output "${out.name}" is still used by ${out.uses()[0]!.node.name}`;
      if (this.isGraphOutput(out)) return `its output "${out.name}" is a graph output`;
    }
    return null;
  }

  /** Removes a node whose outputs are unused; refuses (changing nothing) otherwise. */
  removeNode(node: Node): void {
    if (!node.attached) throw new TgateError('E_IR_INVALID', `Node ${node.name} is not in the graph.`, { subject: { node: node.name } });
    const why = this.whyNotRemovable(node);
    if (why) throw new TgateError('E_IR_INVALID', `Cannot remove node ${node.name}: ${why}.`, { subject: { node: node.name } });
    node.inputs.forEach((_, i) => node.setInput(i, null));
    for (const v of node.implicitInputs) v.removeUse(node, -1);
    node.implicitInputs.length = 0;
    for (const out of node.outputs) if (out) this.valuesByName.delete(out.name);
    node.outputs.forEach((_, i) => node.bindOutput(i, null));
    node.attached = false;
    this.removedSinceCompaction++;
  }

  /** Points every use of `from` (and graph output slots when asked) at `to`. */
  replaceAllUsesWith(from: Value, to: Value, opts: { includeGraphOutputs?: boolean } = {}): number {
    const uses = from.uses();
    if (uses.some((u) => u.index < 0)) {
      throw new TgateError('E_IR_INVALID', `"${from.name}" is read by a subgraph; its uses cannot be rewired.`, { subject: { tensor: from.name } });
    }
    for (const u of uses) u.node.setInput(u.index, to);
    let n = uses.length;
    if (opts.includeGraphOutputs) {
      this.outputs.forEach((o, i) => {
        if (o === from) {
          this.outputs[i] = to;
          n++;
        }
      });
    }
    return n;
  }

  /** Exposes a value as an extra graph output (no-op when it already is one). */
  addOutput(v: Value): boolean {
    if (this.isGraphOutput(v)) return false;
    this.outputs.push(v);
    return true;
  }

  /**
   * Turns a computed value into a graph input with the same name and uses. Its producer gets a
   * fresh, unused placeholder in that output slot, so dead-code elimination can remove it.
   */
  promoteToInput(v: Value, type: TensorType): void {
    const producer = v.producer;
    if (!producer) {
      throw new TgateError('E_IR_INVALID', `"${v.name}" has no producer; it is already an input or initializer.`, { subject: { tensor: v.name } });
    }
    if (this.isGraphOutput(v)) {
      throw new TgateError('E_IR_INVALID', `"${v.name}" is a graph output and cannot become an input.`, { subject: { tensor: v.name } });
    }
    const slot = producer.outputs.indexOf(v);
    const placeholder = this.createValue(this.freshName(`${v.name}__cut`), v.type);
    producer.bindOutput(slot, placeholder);
    v.type = type;
    this.inputs.push(v);
  }

  /** Removes an unused graph input; refuses when something reads it. */
  removeInput(v: Value): void {
    if (v.useCount > 0) {
      throw new TgateError('E_IR_INVALID', `Cannot remove graph input "${v.name}": it is used by ${v.uses()[0]!.node.name}.`, { subject: { tensor: v.name } });
    }
    const i = this.inputs.indexOf(v);
    if (i < 0) throw new TgateError('E_IR_INVALID', `"${v.name}" is not a graph input.`, { subject: { tensor: v.name } });
    this.inputs.splice(i, 1);
    if (!v.initializer && !this.isGraphOutput(v)) this.valuesByName.delete(v.name);
  }

  /** Removes an unused initializer (and its graph-input entry, in IR < 4 models). */
  removeInitializer(v: Value): void {
    if (v.useCount > 0 || this.isGraphOutput(v)) {
      throw new TgateError('E_IR_INVALID', `Cannot remove initializer "${v.name}": it is still used.`, { subject: { tensor: v.name } });
    }
    const i = this.initializers.indexOf(v);
    if (i < 0) throw new TgateError('E_IR_INVALID', `"${v.name}" is not an initializer.`, { subject: { tensor: v.name } });
    this.initializers.splice(i, 1);
    const j = this.inputs.indexOf(v);
    if (j >= 0) this.inputs.splice(j, 1);
    this.valuesByName.delete(v.name);
  }

  /** Registers an initializer value (decode only). */
  addInitializer(v: Value): void {
    this.initializers.push(v);
  }
}
