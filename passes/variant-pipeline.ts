// The passes that turn a source graph into a variant, in the order they run: expose the cached
// values a variant computes, cut those it is fed, remove what only fed the cuts, then drop the
// inputs nothing reads any more. Declared here, run by the pass manager, recorded per variant.
import type { TensorType } from '../ir/value.js';
import { cutAtValues } from './cut-at-values.js';
import { deadCodeElimination } from './dead-code-elimination.js';
import { exposeOutputs } from './expose-outputs.js';
import type { Pass } from './pass.js';
import { pruneUnusedInputs } from './prune-unused-inputs.js';

/** The pipeline's pass names, in order (what --print-ir-after accepts). */
export const VARIANT_PIPELINE = ['expose-outputs', 'cut-at-values', 'dead-code-elimination', 'prune-unused-inputs'] as const;
export type VariantPassName = (typeof VARIANT_PIPELINE)[number];

export interface VariantTargets {
  /** Values the variant computes and also outputs (the caches it fills). */
  exposed: { tensor: string; type: TensorType }[];
  /** Values the variant is fed as inputs instead of computing them (the caches it reads). */
  cut: { tensor: string; type: TensorType }[];
}

/**
 * `[exposeOutputs, cutAtValues, deadCodeElimination, pruneUnusedInputs]`. A variant that cuts
 * nothing (planning) runs the first pass only: it stays the source plus outputs, with no
 * clean-up that could change what it computes or which inputs it takes.
 */
export function variantPipeline(t: VariantTargets): Pass[] {
  const passes: Pass[] = [exposeOutputs(t.exposed), cutAtValues(t.cut), deadCodeElimination, pruneUnusedInputs];
  return t.cut.length ? passes : passes.slice(0, 1);
}
