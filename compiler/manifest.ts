// tgate.json: what a compile produced and how it was proven. Deterministic: no timestamps or
// absolute paths, keys in a fixed order, so the same source gives the same bytes.
import type { ProofReport } from './proof.js';
import type { Dim } from './ir/value.js';

export const MANIFEST_FORMAT = 'tgate/1';

export interface ManifestSite {
  id: string;
  kind: 'cross' | 'self';
  scope: string | null;
  tensor: string;
  /** Whether the compile cached this site, and why (default, or the --include/--exclude glob). */
  cached: boolean;
  reason: string;
  /** Set when a fusion swallowed the module output and the cut is the nearest equivalent tensor. */
  note: string | null;
  planningOutput: string | null;
  fidelityInput: string | null;
  /** Its names in the gated model (both variants as branches of one If node). */
  gatedInput: string | null;
  gatedOutput: string | null;
  dtype: string;
  shape: (string | number)[];
}

export interface ManifestIo {
  name: string;
  dtype: string;
  shape: (string | number)[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  source: { file: string; sha256: string; opset: number; irVersion: number; producer: string };
  graphs: { planning: string; fidelity: string; gated: string };
  /** The gated model's branch switch: a bool scalar input, true = fidelity (use the caches). */
  gated: { useCacheInput: string };
  /** The weights file the graphs reference (the first, when the source has several). */
  weights: string;
  /** Every external data file the graphs reference: one, or one per tensor for some sources. */
  weightsFiles: string[];
  io: { planning: { inputs: ManifestIo[]; outputs: ManifestIo[] }; fidelity: { inputs: ManifestIo[]; outputs: ManifestIo[] } };
  removedInputs: string[];
  nodeCounts: { source: number; planning: number; fidelity: number };
  sites: ManifestSite[];
  verification: (ProofReport & { skipped: false }) | { skipped: true };
}

/** Manifest shapes say "?" for a dimension nothing could name. */
export function manifestShape(shape: Dim[] | null): (string | number)[] {
  return (shape ?? []).map((d) => (d === null ? '?' : d));
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}
