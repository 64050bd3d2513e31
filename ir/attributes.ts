// A node's attributes, typed: what an analysis reads (`node.attr.int('axis')`) without knowing
// how the model encodes them. Immutable once the node exists. Kinds the IR does not model
// (subgraphs, sparse tensors, type protos) are listed as `opaque`: present, never interpreted
// here; io/ keeps their encoding.
import type { TensorConstant } from './constant.js';

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'strings'; value: readonly string[] }
  | { kind: 'tensor'; value: TensorConstant }
  | { kind: 'tensors'; value: readonly TensorConstant[] }
  /** An attribute the IR carries but does not model: 'graph', 'graphs', 'sparse_tensor', ... */
  | { kind: 'opaque'; type: string };

type Kind = AttrValue['kind'];
type ValueOf<K extends Kind> = Extract<AttrValue, { kind: K }> extends { value: infer V } ? V : never;

export class Attributes {
  private readonly byName: ReadonlyMap<string, AttrValue>;

  constructor(entries: Iterable<readonly [string, AttrValue]> = []) {
    this.byName = new Map(entries);
  }

  /** Names in the node's order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  entries(): [string, AttrValue][] {
    return [...this.byName.entries()];
  }

  get size(): number {
    return this.byName.size;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): AttrValue | undefined {
    return this.byName.get(name);
  }

  /** Each typed getter gives undefined when the attribute is absent or of another kind. */
  int(name: string): number | undefined {
    return this.typed(name, 'int');
  }

  float(name: string): number | undefined {
    return this.typed(name, 'float');
  }

  string(name: string): string | undefined {
    return this.typed(name, 'string');
  }

  ints(name: string): number[] | undefined {
    return this.typed(name, 'ints')?.slice();
  }

  floats(name: string): number[] | undefined {
    return this.typed(name, 'floats')?.slice();
  }

  strings(name: string): string[] | undefined {
    return this.typed(name, 'strings')?.slice();
  }

  tensor(name: string): TensorConstant | undefined {
    return this.typed(name, 'tensor');
  }

  private typed<K extends Kind>(name: string, kind: K): ValueOf<K> | undefined {
    const a = this.byName.get(name);
    return a && a.kind === kind ? ((a as { value: unknown }).value as ValueOf<K>) : undefined;
  }
}
