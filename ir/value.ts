// A Value is one tensor edge of the graph: at most one producer (a node output, or none for graph
// inputs and initializers) and a set of uses. Only Node.setInput and the Graph edit methods change
// uses, so producer/uses stay consistent by construction.
import type { Node } from './node.js';
import type { TensorProto } from 'onnx-buf';

/** Element type as the ONNX TensorProto.DataType number; 0 = unknown. */
export type DataType = number;

/** A dimension: a fixed size, a symbol, or unknown (null). */
export type Dim = number | string | null;

export interface TensorType {
  dtype: DataType;
  /** null when the rank is unknown. */
  shape: Dim[] | null;
}

export interface Use {
  node: Node;
  /** Input slot, or -1 for an implicit use by a subgraph of the node (If/Loop/Scan bodies). */
  index: number;
}

export class Value {
  name: string;
  producer: Node | null = null;
  /** Type when known (graph inputs/outputs, value_info, initializers, or set by an analysis). */
  type: TensorType | null;
  /** Set when this value is an initializer; the proto is shared and never mutated. */
  initializer: TensorProto | null = null;
  private readonly useList: Use[] = [];

  constructor(name: string, type: TensorType | null = null) {
    this.name = name;
    this.type = type;
  }

  /** A snapshot: safe to iterate while rewiring. */
  uses(): Use[] {
    return this.useList.slice();
  }

  get useCount(): number {
    return this.useList.length;
  }

  /** Internal to the IR: called by Node when an edge changes. */
  addUse(use: Use): void {
    this.useList.push(use);
  }

  /**
   * Internal to the IR: removes exactly one matching use. Searched from the end: dead-code
   * elimination removes consumers last-first, so a value read by 10^5 nodes loses each use in
   * O(1) instead of a quadratic scan.
   */
  removeUse(node: Node, index: number): void {
    let i = this.useList.length - 1;
    while (i >= 0 && !(this.useList[i]!.node === node && this.useList[i]!.index === index)) i--;
    if (i < 0) throw new Error(`IR inconsistency: ${this.name} has no use by ${node.name}[${index}]`);
    this.useList.splice(i, 1);
  }
}
