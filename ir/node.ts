// A Node is one operator application. It keeps the decoded NodeProto so that everything the IR
// does not model (attributes, metadata_props, doc strings, unknown fields) survives re-encoding;
// only the edges live in the IR. setInput is the one method that changes an input edge.
import type { NodeProto } from 'onnx-buf';
import type { Value } from './value.js';

export class Node {
  readonly proto: NodeProto;
  readonly inputs: (Value | null)[] = [];
  readonly outputs: (Value | null)[] = [];
  /** Outer-scope values read by subgraph attributes; treated as uses so nothing they read is removed. */
  readonly implicitInputs: Value[] = [];
  /** Set while the node is part of a graph. */
  attached = true;

  constructor(proto: NodeProto) {
    this.proto = proto;
  }

  get opType(): string {
    return this.proto.opType;
  }

  get domain(): string {
    return this.proto.domain;
  }

  /** The node's name, or a description of it when the export left it unnamed. */
  get name(): string {
    return this.proto.name || `${this.proto.opType}(${this.outputs.map((o) => o?.name ?? '').join(',')})`;
  }

  /** Changes one input edge, keeping both values' use lists right. */
  setInput(index: number, value: Value | null): void {
    const old = this.inputs[index];
    if (old === value) return;
    if (old) old.removeUse(this, index);
    this.inputs[index] = value;
    if (value) value.addUse({ node: this, index });
  }

  /** Internal to the IR: sets an output slot and the value's producer. */
  bindOutput(index: number, value: Value | null): void {
    const old = this.outputs[index];
    if (old && old.producer === this) old.producer = null;
    this.outputs[index] = value;
    if (value) value.producer = this;
  }

  /** Reads an int attribute (bigint in the proto) as a number. */
  intAttr(name: string): number | undefined {
    const a = this.proto.attribute.find((x) => x.name === name);
    return a === undefined ? undefined : Number(a.i);
  }

  intsAttr(name: string): number[] | undefined {
    const a = this.proto.attribute.find((x) => x.name === name);
    return a === undefined ? undefined : a.ints.map(Number);
  }

  floatAttr(name: string): number | undefined {
    const a = this.proto.attribute.find((x) => x.name === name);
    return a === undefined ? undefined : a.f;
  }

  hasAttr(name: string): boolean {
    return this.proto.attribute.some((x) => x.name === name);
  }
}
