// The graph: nodes in a serialisation order, values by name, graph inputs/outputs and initializers.
// Every edit goes through a method here or Node.setInput, so producer/use links stay consistent.
// Removals are checked before anything changes: a refused removal leaves the graph as it was.
import { TgateError } from '../base/errors.js';
import { Attributes, type AttrValue } from './attributes.js';
import type { TensorConstant } from './constant.js';
import { addImplicit, appendInput, bindOutput, detach, setName } from './internal.js';
import { Node } from './node.js';
import type { Retained } from './retained.js';
import { Value, type TensorType } from './value.js';

export interface CreateNode {
  opType: string;
  /** '' (the default) for the ONNX domain. */
  domain?: string;
  name?: string;
  /** Read values (null for an omitted optional input). */
  inputs: (Value | null)[];
  /** Fresh values without a producer (null for an omitted optional output). */
  outputs: (Value | null)[];
  attributes?: Attributes | Record<string, AttrValue>;
  metadata?: ReadonlyMap<string, string>;
  /** io/ only: the source's encoding of the node. */
  retained?: Retained | null;
}

export class Graph {
  /** The graph's name in the model ('' when none). */
  readonly name: string;
  /** What io/ kept of the source graph (doc string, value_info, sparse initializers, unknown fields). */
  readonly retained: Retained | null;
  private nodeList: Node[] = [];
  private readonly valuesByName = new Map<string, Value>();
  private readonly inputList: Value[] = [];
  private readonly outputList: Value[] = [];
  private readonly initializerList: Value[] = [];

  constructor(init: { name?: string; retained?: Retained | null } = {}) {
    this.name = init.name ?? '';
    this.retained = init.retained ?? null;
  }

  get inputs(): readonly Value[] {
    return this.inputList;
  }

  get outputs(): readonly Value[] {
    return this.outputList;
  }

  /** Initializers in their original order. */
  get initializers(): readonly Value[] {
    return this.initializerList;
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
    v[setName](name);
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

  /** Creates a node at the end of the order; its outputs must be values of this graph without a producer. */
  createNode(spec: CreateNode): Node {
    for (const v of [...spec.inputs, ...spec.outputs]) {
      if (v && this.valuesByName.get(v.name) !== v)
        throw new TgateError('E_IR_INVALID', `"${v.name}" is not a value of this graph.`, { subject: { tensor: v.name } });
    }
    for (const v of spec.outputs) {
      if (v && v.producer) {
        throw new TgateError('E_IR_INVALID', `Value "${v.name}" already has a producer (${v.producer.name}).`, { subject: { tensor: v.name } });
      }
      if (v && (v.constant || this.isGraphInput(v))) {
        throw new TgateError('E_IR_INVALID', `Value "${v.name}" is a graph input or initializer; a node cannot produce it.`, { subject: { tensor: v.name } });
      }
    }
    const attributes = spec.attributes instanceof Attributes ? spec.attributes : new Attributes(Object.entries(spec.attributes ?? {}));
    const node = new Node({
      opType: spec.opType,
      domain: spec.domain ?? '',
      name: spec.name ?? '',
      attributes,
      ...(spec.metadata ? { metadata: spec.metadata } : {}),
      retained: spec.retained ?? null,
    });
    spec.outputs.forEach((v, i) => node[bindOutput](i, v));
    for (const v of spec.inputs) node[appendInput](v);
    this.nodeList.push(node);
    return node;
  }

  /** Records a value a subgraph attribute of `node` reads from this graph (io/ finds them). */
  addImplicitInput(node: Node, value: Value): void {
    node[addImplicit](value);
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

  /** Removes a node whose outputs are unused; refuses (changing nothing) otherwise. */
  removeNode(node: Node): void {
    this.remove([node]);
  }

  /**
   * Removes a set of nodes at once: their outputs may only be read by nodes of the set, and
   * none may be a graph output. Everything is checked first; a refusal changes nothing.
   */
  remove(nodes: Iterable<Node>): void {
    const set = new Set(nodes);
    for (const node of set) {
      if (!node.attached) throw new TgateError('E_IR_INVALID', `Node ${node.name} is not in the graph.`, { subject: { node: node.name } });
      for (const out of node.outputs) {
        if (!out) continue;
        const outside = out.uses().find((u) => !set.has(u.node));
        const why = outside
          ? `its output "${out.name}" is still used by ${outside.node.name}`
          : this.isGraphOutput(out)
            ? `its output "${out.name}" is a graph output`
            : null;
        if (why) throw new TgateError('E_IR_INVALID', `Cannot remove node ${node.name}: ${why}.`, { subject: { node: node.name } });
      }
    }
    for (const node of set) {
      for (const out of node.outputs) if (out) this.valuesByName.delete(out.name);
      node[detach]();
      this.removedSinceCompaction++;
    }
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
      this.outputList.forEach((o, i) => {
        if (o === from) {
          this.outputList[i] = to;
          n++;
        }
      });
    }
    return n;
  }

  /** Exposes a value as an extra graph output (no-op when it already is one). */
  addOutput(v: Value): boolean {
    if (this.isGraphOutput(v)) return false;
    this.outputList.push(v);
    return true;
  }

  /** Replaces the graph outputs (values of this graph, each once); what no longer is one stays in the graph. */
  setOutputs(values: Value[]): void {
    for (const v of values) {
      if (this.valuesByName.get(v.name) !== v)
        throw new TgateError('E_IR_INVALID', `"${v.name}" is not a value of this graph.`, { subject: { tensor: v.name } });
    }
    if (new Set(values).size !== values.length) throw new TgateError('E_IR_INVALID', 'setOutputs needs each value once.');
    this.outputList.splice(0, this.outputList.length, ...values);
  }

  /** Declares a value as a graph input (decode; a computed value becomes one through promoteToInput). */
  addInput(v: Value): void {
    if (this.valuesByName.get(v.name) !== v) throw new TgateError('E_IR_INVALID', `"${v.name}" is not a value of this graph.`, { subject: { tensor: v.name } });
    if (v.producer) throw new TgateError('E_IR_INVALID', `"${v.name}" is computed by ${v.producer.name}; use promoteToInput.`, { subject: { tensor: v.name } });
    if (this.isGraphInput(v)) throw new TgateError('E_IR_INVALID', `"${v.name}" is already a graph input.`, { subject: { tensor: v.name } });
    this.inputList.push(v);
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
    producer[bindOutput](slot, placeholder);
    v.type = type;
    this.inputList.push(v);
  }

  /** Removes an unused graph input; refuses when something reads it. */
  removeInput(v: Value): void {
    if (v.useCount > 0) {
      throw new TgateError('E_IR_INVALID', `Cannot remove graph input "${v.name}": it is used by ${v.uses()[0]!.node.name}.`, { subject: { tensor: v.name } });
    }
    const i = this.inputList.indexOf(v);
    if (i < 0) throw new TgateError('E_IR_INVALID', `"${v.name}" is not a graph input.`, { subject: { tensor: v.name } });
    this.inputList.splice(i, 1);
    if (!v.constant && !this.isGraphOutput(v)) this.valuesByName.delete(v.name);
  }

  /** Removes an unused initializer (and its graph-input entry, in IR < 4 models). */
  removeInitializer(v: Value): void {
    if (v.useCount > 0 || this.isGraphOutput(v)) {
      throw new TgateError('E_IR_INVALID', `Cannot remove initializer "${v.name}": it is still used.`, { subject: { tensor: v.name } });
    }
    const i = this.initializerList.indexOf(v);
    if (i < 0) throw new TgateError('E_IR_INVALID', `"${v.name}" is not an initializer.`, { subject: { tensor: v.name } });
    this.initializerList.splice(i, 1);
    const j = this.inputList.indexOf(v);
    if (j >= 0) this.inputList.splice(j, 1);
    this.valuesByName.delete(v.name);
  }

  /** Adds an initializer: a new value named as the constant, holding it, typed by its dtype and dims. */
  addInitializer(constant: TensorConstant): Value {
    if (this.valuesByName.has(constant.name)) {
      throw new TgateError('E_IR_INVALID', `A value named "${constant.name}" already exists in the graph.`, { subject: { tensor: constant.name } });
    }
    const v = new Value(constant.name, { dtype: constant.dtype, shape: constant.dims.slice() }, constant);
    this.valuesByName.set(v.name, v);
    this.initializerList.push(v);
    return v;
  }
}
