// What changed between two graphs of one model (a source and a variant tgate wrote, or any two
// exports): inputs and outputs added or removed, nodes removed and added grouped by module scope
// (a module whose nodes all went is one line), an op-count table, parameters and MACs before and
// after (per block too), and the weights the second graph no longer references. Pure data.
import type { Family } from '../analyses/family.js';
import { dtypeBytes } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { ManifestIo } from './manifest.js';
import { graphIo } from './manifest.js';
import { macsByScope } from '../analyses/cost/macs.js';
import { bindSizes, CostedGraph } from './schedule-cost.js';
import { modulePath } from '../analyses/attention/scope.js';

export interface ScopeChange {
  /** Module path ("/down_blocks.1/attentions.0/transformer_blocks.0/attn2"), or "(no module scope)". */
  scope: string;
  nodes: number;
  /** true: every node of this module went (or came); false: only some of its `of` nodes. */
  whole: boolean;
  of: number;
}

export interface GraphDiff {
  a: { label: string; nodes: number };
  b: { label: string; nodes: number };
  inputs: { added: ManifestIo[]; removed: ManifestIo[] };
  outputs: { added: ManifestIo[]; removed: ManifestIo[] };
  nodes: { removed: number; added: number; removedByScope: ScopeChange[]; addedByScope: ScopeChange[] };
  ops: { op: string; before: number; after: number }[];
  params: { before: number; after: number };
  /** At the bound sizes (batch 1 and the family's defaults unless --shape). */
  macs: { sizes: Record<string, number>; before: { linear: number; attention: number }; after: { linear: number; attention: number } };
  blocks: { scope: string; before: number; after: number }[];
  weightsUnreferenced: { name: string; bytes: number }[];
}

function nodeKey(n: Node): string {
  return `${n.opType}|${n.declaredName || n.outputs.map((v) => v?.name ?? '').join(',')}`;
}

function scopeOf(n: Node): string[] {
  return modulePath(n) ?? [];
}

/** Groups changed nodes by the outermost module that changed entirely, else their own module. */
function byScope(changed: readonly Node[], all: readonly Node[]): ScopeChange[] {
  const total = new Map<string, number>();
  const gone = new Map<string, number>();
  const prefixes = (p: string[]) => p.map((_, i) => `/${p.slice(0, i + 1).join('/')}`);
  for (const n of all) for (const k of prefixes(scopeOf(n))) total.set(k, (total.get(k) ?? 0) + 1);
  for (const n of changed) for (const k of prefixes(scopeOf(n))) gone.set(k, (gone.get(k) ?? 0) + 1);
  const groups = new Map<string, ScopeChange>();
  for (const n of changed) {
    const ks = prefixes(scopeOf(n));
    const whole = ks.find((k) => gone.get(k) === total.get(k));
    const scope = whole ?? ks[ks.length - 1] ?? '(no module scope)';
    const g = groups.get(scope) ?? {
      scope,
      nodes: 0,
      whole: !!whole,
      of: whole ? total.get(scope)! : (total.get(scope) ?? all.filter((x) => scopeOf(x).length === 0).length),
    };
    g.nodes++;
    groups.set(scope, g);
  }
  return [...groups.values()];
}

export function diffGraphs(a: Graph, b: Graph, labels: [string, string], family: Family, shapes: Record<string, number[]> = {}): GraphDiff {
  const keysB = new Set(b.nodes.map(nodeKey));
  const keysA = new Set(a.nodes.map(nodeKey));
  const removed = a.nodes.filter((n) => !keysB.has(nodeKey(n)));
  const added = b.nodes.filter((n) => !keysA.has(nodeKey(n)));
  const names = (xs: ManifestIo[]) => new Set(xs.map((x) => x.name));
  const [ia, ib, oa, ob] = [graphIo(a, 'inputs'), graphIo(b, 'inputs'), graphIo(a, 'outputs'), graphIo(b, 'outputs')];
  const counts = (g: Graph) => {
    const m = new Map<string, number>();
    for (const n of g.nodes) {
      const k = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  const [ca, cb] = [counts(a), counts(b)];
  const ops = [...new Set([...ca.keys(), ...cb.keys()])].sort().map((op) => ({ op, before: ca.get(op) ?? 0, after: cb.get(op) ?? 0 }));
  const binding = bindSizes(ia, family, shapes);
  const B = binding.batch ? binding.sizes[binding.batch]! : 1;
  const [costA, costB] = [new CostedGraph(a, binding).at(B), new CostedGraph(b, binding).at(B)];
  const blocksA = macsByScope(costA, 1);
  const blocksB = macsByScope(costB, 1);
  const blockNames = [...new Set([...blocksA.map((x) => x.scope), ...blocksB.map((x) => x.scope)])];
  const total = (xs: typeof blocksA, s: string) => {
    const x = xs.find((y) => y.scope === s);
    return x ? x.linearMacs + x.attentionMacs : 0;
  };
  const usedInB = new Set(b.initializers.filter((v) => v.useCount > 0).map((v) => v.name));
  const weightsUnreferenced = a.initializers
    .filter((v) => v.useCount > 0 && !usedInB.has(v.name))
    .map((v) => ({ name: v.name, bytes: v.constant!.dims.reduce((x, d) => x * d, 1) * dtypeBytes(v.constant!.dtype) }));
  return {
    a: { label: labels[0], nodes: a.nodes.length },
    b: { label: labels[1], nodes: b.nodes.length },
    inputs: { added: ib.filter((x) => !names(ia).has(x.name)), removed: ia.filter((x) => !names(ib).has(x.name)) },
    outputs: { added: ob.filter((x) => !names(oa).has(x.name)), removed: oa.filter((x) => !names(ob).has(x.name)) },
    nodes: { removed: removed.length, added: added.length, removedByScope: byScope(removed, a.nodes), addedByScope: byScope(added, b.nodes) },
    ops,
    params: { before: costA.params, after: costB.params },
    macs: {
      sizes: binding.sizes,
      before: { linear: costA.linearMacs, attention: costA.attentionMacs },
      after: { linear: costB.linearMacs, attention: costB.attentionMacs },
    },
    blocks: blockNames.map((s) => ({ scope: s, before: total(blocksA, s), after: total(blocksB, s) })).filter((b) => b.before || b.after),
    weightsUnreferenced,
  };
}
