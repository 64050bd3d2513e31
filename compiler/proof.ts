// The contract between compile and whatever proves its artifacts numerically (runtime/prove.ts
// on onnxruntime). compile depends on this interface only, so the compiler never loads a runtime.
import type { Dim } from './ir/value.js';

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: Dim[];
}

export interface ProofRequest {
  sourcePath: string;
  planningPath: string;
  fidelityPath: string;
  gatedPath: string;
  useCacheInput: string;
  /** The source graph's inputs and outputs, to build feeds and compare results. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Inputs the fidelity graph no longer takes. */
  fidelityDropsInputs: string[];
  /** Cross sites: planning output name, fidelity input name, the claimed symbolic shape. */
  cached: { id: string; planningOutput: string; fidelityInput: string; gatedInput: string; gatedOutput: string; shape: Dim[] }[];
}

export interface ProofReport {
  /** What the feeds were: sizes bound to each symbolic dim, and the seed. */
  probe: { seed: number; dims: Record<string, number> };
  /** The planning graph's original outputs equal the source's bit for bit. */
  planningBitExact: boolean;
  /** Largest |fidelity - source| over all outputs, fed the planning graph's site outputs. */
  fidelityMaxAbsError: number;
  /** The tolerance the fidelity error was held to. */
  tolerance: number;
  /** Every cached tensor's concrete shape matched its symbolic shape in the manifest. */
  shapesConfirmed: boolean;
  /** The gated model's two branches equal the planning and fidelity graphs bit for bit. */
  gatedBitExact: boolean;
}

export type Prover = (req: ProofRequest) => Promise<ProofReport>;
