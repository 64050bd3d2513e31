// The contract between compile and whatever proves its artifacts numerically (runtime/prove.ts
// on onnxruntime). compile depends on this interface only, so the compiler never loads a runtime.
import type { Dim } from '../ir/value.js';
import type { SiteKind, SiteRole } from './variants.js';

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: Dim[];
}

export interface ProofRequest {
  sourcePath: string;
  /** The folder the variant and gated files were written to. */
  dir: string;
  /** Every variant; 'planning' is the source plus outputs, the others take some sites as inputs. */
  variants: { name: string; file: string; cuts: Record<string, SiteRole>; removedInputs: string[] }[];
  /** Gated models: per variant, its run flag and where its model and site outputs come out. */
  gated: { file: string; variants: { name: string; flag: string; output: string; siteOutputs: Record<string, string> }[] }[];
  /** The source graph's inputs and outputs, to build feeds and compare results. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Cached sites: the cut tensor (output and input name in the variants), gated names, claimed shape. */
  cached: { id: string; kind: SiteKind; tensor: string; gatedInput: string; shape: Dim[] }[];
}

export interface ProofReport {
  /** What the feeds were: sizes bound to each symbolic dim, and the seed. */
  probe: { seed: number; dims: Record<string, number> };
  /** The planning graph's original outputs equal the source's bit for bit. */
  planningBitExact: boolean;
  /** Largest |fidelity - source| over all outputs, fed the planning graph's site outputs. */
  fidelityMaxAbsError: number;
  /** The same for every variant that takes caches (fidelity included), by name. */
  variantMaxAbsErrors: Record<string, number>;
  /** The tolerance the errors were held to. */
  tolerance: number;
  /** Every cached tensor's concrete shape matched its symbolic shape in the manifest. */
  shapesConfirmed: boolean;
  /** Every gated model's branches equal their variant graphs bit for bit. */
  gatedBitExact: boolean;
}

export type Prover = (req: ProofRequest) => Promise<ProofReport>;
