// What tgate diff compares: two model files (or source pipeline folders' denoisers), or a compiled
// folder's planning graph against each other variant. Reads graphs only, never weights.
import { diffGraphs, type GraphDiff } from './diff.js';
import { familyOfGraph } from '../analyses/family.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { loadSource } from '../io/load.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import type { Graph } from '../ir/graph.js';
import { manifestGraph, readManifest, type ManifestVariant } from './manifest.js';

/** A model file, or a source pipeline folder's denoiser. */
function graphOf(file: string): Graph {
  // diff reads graphs, never weights: data files may be absent (their references are checked).
  return loadSource(denoiserModelOf(file) ?? file, { externalData: { requireFiles: false } }).decode().graph;
}

/** The source (as the planning graph: the source plus outputs) against each other variant. */
export function diffFolder(dir: string, shapes: Record<string, number[]>): GraphDiff[] {
  const m = readManifest(dir);
  const read = (v: ManifestVariant) => manifestGraph(dir, m, v).model().graph;
  const planning = m.variants.find((v) => v.name === 'planning')!;
  const base = read(planning);
  return m.variants
    .filter((v) => v.name !== 'planning')
    .map((v) => diffGraphs(base, read(v), [`${m.source.file} (${planning.file}: the source plus site outputs)`, v.file], m.family.name, shapes));
}

/** Two models (files or source pipeline folders), with the family found on the first. */
export function diffModels(a: string, b: string, shapes: Record<string, number[]>): GraphDiff {
  const ga = graphOf(a);
  const gb = graphOf(b);
  const { family } = familyOfGraph(
    ga,
    findAttentionSites(ga).sites.map((s) => s.type.shape?.[1] ?? null),
  );
  return diffGraphs(ga, gb, [a, b], family, shapes);
}
