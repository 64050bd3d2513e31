// A Node is one operator application: op type, domain, name, typed attributes, and its edges.
// setInput is the one method that changes an input edge; the Graph creates and removes nodes.
// What the IR does not model of a decoded node (subgraph bodies, doc strings, the exact encoding,
// unknown fields) rides along in `retained`, for io/ to re-encode the node unchanged.
import type { Attributes } from './attributes.js';
import { addImplicit, addUse, appendInput, bindOutput, detach, removeUse, setProducer } from './internal.js';
import type { Retained } from './retained.js';
import type { Value } from './value.js';

export interface NodeInit {
  opType: string;
  /** '' for the default ONNX domain. */
  domain?: string;
  /** '' when the model leaves the node unnamed. */
  name?: string;
  attributes: Attributes;
  /** metadata_props: key -> value (the first entry of a key wins). */
  metadata?: ReadonlyMap<string, string>;
  retained?: Retained | null;
}

export class Node {
  readonly opType: string;
  readonly domain: string;
  /** The node's name as the model gives it ('' when unnamed); `name` describes it either way. */
  readonly declaredName: string;
  readonly attr: Attributes;
  /** The node's metadata_props (dynamo exports keep module scopes here). */
  readonly metadata: ReadonlyMap<string, string>;
  /** The source's encoding of the node, when decoded (io/ only). */
  readonly retained: Retained | null;
  private readonly inputList: (Value | null)[] = [];
  private readonly outputList: (Value | null)[] = [];
  private readonly implicitList: Value[] = [];
  private isAttached = true;

  constructor(init: NodeInit) {
    this.opType = init.opType;
    this.domain = init.domain ?? '';
    this.declaredName = init.name ?? '';
    this.attr = init.attributes;
    this.metadata = init.metadata ?? new Map();
    this.retained = init.retained ?? null;
  }

  /** The node's name, or a description of it when the export left it unnamed. */
  get name(): string {
    return this.declaredName || `${this.opType}(${this.outputList.map((o) => o?.name ?? '').join(',')})`;
  }

  get inputs(): readonly (Value | null)[] {
    return this.inputList;
  }

  get outputs(): readonly (Value | null)[] {
    return this.outputList;
  }

  /** Outer-scope values read by subgraph attributes; treated as uses so nothing they read is removed. */
  get implicitInputs(): readonly Value[] {
    return this.implicitList;
  }

  /** True while the node is part of a graph. */
  get attached(): boolean {
    return this.isAttached;
  }

  /** Changes one input edge, keeping both values' use lists right. */
  setInput(index: number, value: Value | null): void {
    const old = this.inputList[index];
    if (old === value) return;
    if (old) old[removeUse](this, index);
    this.inputList[index] = value;
    if (value) value[addUse]({ node: this, index });
  }

  /** IR-internal: adds an input slot. */
  [appendInput](value: Value | null): void {
    this.inputList.push(null);
    this.setInput(this.inputList.length - 1, value);
  }

  /** IR-internal: sets an output slot and the value's producer. */
  [bindOutput](index: number, value: Value | null): void {
    const old = this.outputList[index];
    if (old && old.producer === this) old[setProducer](null);
    this.outputList[index] = value;
    if (value) value[setProducer](this);
  }

  /** IR-internal: records a value a subgraph of this node reads from the enclosing scope. */
  [addImplicit](value: Value): void {
    this.implicitList.push(value);
    value[addUse]({ node: this, index: -1 });
  }

  /** IR-internal: drops every edge and marks the node removed. */
  [detach](): void {
    this.inputList.forEach((_, i) => this.setInput(i, null));
    for (const v of this.implicitList) v[removeUse](this, -1);
    this.implicitList.length = 0;
    this.outputList.forEach((_, i) => this[bindOutput](i, null));
    this.isAttached = false;
  }
}
