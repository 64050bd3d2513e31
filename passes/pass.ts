// A pass rewrites a graph in place and reports what it changed, with counts per kind of change.
import type { Graph } from '../ir/graph.js';

export interface PassResult {
  changed: boolean;
  /** e.g. { nodesRemoved: 12, initializersRemoved: 3 } */
  counts: Record<string, number>;
}

export interface Pass {
  readonly name: string;
  run(graph: Graph): PassResult;
}

export function result(counts: Record<string, number>): PassResult {
  return { changed: Object.values(counts).some((c) => c > 0), counts };
}
