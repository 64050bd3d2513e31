// Which graph inputs each value depends on, by data flow. Memoised over the DAG; never mutates.
// Used to tell cross-attention (keys read the text input, not the latent) from self-attention.
import type { Graph } from '../../ir/graph.js';
import type { Value } from '../../ir/value.js';

export class InputAncestry {
  private readonly memo = new Map<Value, ReadonlySet<string>>();
  constructor(private readonly graph: Graph) {}

  of(v: Value): ReadonlySet<string> {
    const hit = this.memo.get(v);
    if (hit) return hit;
    // Iterative post-order: UNet graphs are deep enough to overflow a recursive walk.
    const stack: Value[] = [v];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      if (this.memo.has(top)) {
        stack.pop();
        continue;
      }
      if (this.graph.isGraphInput(top) && !top.constant) {
        this.memo.set(top, new Set([top.name]));
        stack.pop();
        continue;
      }
      const deps = top.producer ? [...top.producer.inputs, ...top.producer.implicitInputs].filter((x): x is Value => !!x) : [];
      const missing = deps.filter((d) => !this.memo.has(d));
      if (missing.length) {
        stack.push(...missing);
        continue;
      }
      const acc = new Set<string>();
      for (const d of deps) for (const n of this.memo.get(d)!) acc.add(n);
      this.memo.set(top, acc);
      stack.pop();
    }
    return this.memo.get(v)!;
  }
}
