// A Value is one tensor edge of the graph: at most one producer (a node output, or none for graph
// inputs and initializers) and a set of uses. Only Node.setInput and the Graph edit methods change
// uses, so producer/uses stay consistent by construction. `type` is the one source of truth for
// the value's type when the model is encoded.
import { TgateError } from '../base/errors.js';
import type { TensorConstant } from './constant.js';
import type { DataType } from './dtype.js';
import { addUse, removeUse, setName, setProducer } from './internal.js';
import type { Node } from './node.js';

export type { DataType } from './dtype.js';

/** A dimension: a fixed size, a symbol, or unknown (null). */
export type Dim = number | string | null;

export interface TensorType {
  dtype: DataType;
  /** null when the rank is unknown. */
  shape: Dim[] | null;
}

/** Two types are the same: same element type, same rank and the same dims. */
export function sameType(a: TensorType | null, b: TensorType | null): boolean {
  if (!a || !b) return a === b;
  if (a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return a.shape === b.shape;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape![i]);
}

export interface Use {
  node: Node;
  /** Input slot, or -1 for an implicit use by a subgraph of the node (If/Loop/Scan bodies). */
  index: number;
}

export class Value {
  private currentName: string;
  private producerNode: Node | null = null;
  /** Type when known (graph inputs/outputs, value_info, initializers, or set by a pass). */
  type: TensorType | null;
  /** Set when this value is an initializer: its contents, as a view (weights are never copied). */
  readonly constant: TensorConstant | null;
  private readonly useList: Use[] = [];

  constructor(name: string, type: TensorType | null = null, constant: TensorConstant | null = null) {
    this.currentName = name;
    this.type = type;
    this.constant = constant;
  }

  get name(): string {
    return this.currentName;
  }

  get producer(): Node | null {
    return this.producerNode;
  }

  /** A snapshot: safe to iterate while rewiring. */
  uses(): Use[] {
    return this.useList.slice();
  }

  get useCount(): number {
    return this.useList.length;
  }

  /** IR-internal (Graph.renameValue). */
  [setName](name: string): void {
    this.currentName = name;
  }

  /** IR-internal (Node output binding). */
  [setProducer](node: Node | null): void {
    this.producerNode = node;
  }

  /** IR-internal: called by Node when an edge changes. */
  [addUse](use: Use): void {
    this.useList.push(use);
  }

  /**
   * IR-internal: removes exactly one matching use. Searched from the end: dead-code elimination
   * removes consumers last-first, so a value read by 10^5 nodes loses each use in O(1) instead
   * of a quadratic scan.
   */
  [removeUse](node: Node, index: number): void {
    let i = this.useList.length - 1;
    while (i >= 0 && !(this.useList[i]!.node === node && this.useList[i]!.index === index)) i--;
    if (i < 0)
      throw new TgateError('E_INTERNAL', `IR inconsistency: ${this.name} has no use by ${node.name}[${index}].`, {
        subject: { tensor: this.name, node: node.name },
      });
    this.useList.splice(i, 1);
  }
}
