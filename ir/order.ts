// Node order and cycles. The IR's invariant is that nodes are in a topological order (every value
// is defined before a node reads it); decode establishes it and the verifier checks it. A cycle
// makes every downstream walk (ancestry, shape inference, costs) run without end, so it is found
// here, in linear time and without recursion, and named node by node.
import type { Node } from './node.js';

/** The nodes a node waits for: the producers of its inputs and of what its subgraphs read. */
function producersOf(n: Node): Node[] {
  const out: Node[] = [];
  for (const v of n.inputs) if (v?.producer) out.push(v.producer);
  for (const v of n.implicitInputs) if (v.producer) out.push(v.producer);
  return out;
}

/** Whether `nodes` is already in a topological order (the common case: one linear pass). */
export function isTopologicallyOrdered(nodes: readonly Node[]): boolean {
  const done = new Set<Node>();
  for (const n of nodes) {
    for (const p of producersOf(n)) if (!done.has(p)) return false;
    done.add(n);
  }
  return true;
}

/**
 * A stable topological order of `nodes` (among ready nodes, the earliest in the given order goes
 * first, so a sorted graph keeps its order), or the nodes of one cycle when there is none.
 * O(n log n) for a heap keyed by position; O(n) when the graph is already sorted.
 */
export function topologicalOrder(nodes: readonly Node[]): { order: Node[] } | { cycle: Node[] } {
  if (isTopologicallyOrdered(nodes)) return { order: nodes.slice() };
  const position = new Map<Node, number>();
  nodes.forEach((n, i) => position.set(n, i));
  const pending = new Map<Node, number>();
  const consumers = new Map<Node, Node[]>();
  for (const n of nodes) {
    // A node outside `nodes` (never the case for a graph's own list) counts as done.
    const deps = new Set(producersOf(n).filter((p) => position.has(p)));
    pending.set(n, deps.size);
    for (const d of deps) {
      let list = consumers.get(d);
      if (!list) consumers.set(d, (list = []));
      list.push(n);
    }
  }
  const heap = new MinHeap((a: Node, b: Node) => position.get(a)! - position.get(b)!);
  for (const n of nodes) if (pending.get(n) === 0) heap.push(n);
  const order: Node[] = [];
  while (heap.size) {
    const n = heap.pop()!;
    order.push(n);
    for (const c of consumers.get(n) ?? []) {
      const left = pending.get(c)! - 1;
      pending.set(c, left);
      if (left === 0) heap.push(c);
    }
  }
  if (order.length === nodes.length) return { order };
  // Every node left waits for at least one other node left: walking from one to a waited-for
  // producer that is also left must revisit a node, and the walk from that node on is a cycle.
  const left = (n: Node) => pending.get(n)! > 0;
  const seenAt = new Map<Node, number>();
  const walk: Node[] = [];
  let cur = nodes.find(left)!;
  while (!seenAt.has(cur)) {
    seenAt.set(cur, walk.length);
    walk.push(cur);
    cur = producersOf(cur).find((p) => position.has(p) && left(p))!;
  }
  // The walk goes from consumer to producer; the cycle reads in data-flow order reversed back.
  return { cycle: walk.slice(seenAt.get(cur)!).reverse() };
}

/** "a -> b -> c -> a", shortened in the middle for long cycles. */
export function describeCycle(cycle: Node[], max = 12): string {
  const names = cycle.map((n) => n.name);
  const shown = names.length <= max ? names : [...names.slice(0, max / 2), `... (${names.length - max} more) ...`, ...names.slice(-max / 2)];
  return [...shown, names[0]!].join(' -> ');
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (this.less(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
