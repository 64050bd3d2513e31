// tgate-onnx as a library: `import { compile, GatedPipeline, GatedUNet } from 'tgate-onnx'`.
// The same code the `tgate` command runs; errors are TgateError with a stable code.
import { compile as compileWith, type CompileOptions, type CompileResult } from './build/compile.js';
import { proveArtifacts } from './runtime/prove.js';

export type { CompileResult } from './build/compile.js';

export interface LibraryCompileOptions extends Omit<CompileOptions, 'prover'> {
  /** Prove the artifacts in onnxruntime before writing them (default true; false is --no-verify). */
  verify?: boolean;
}

/**
 * `tgate compile`: a UNet/DiT .onnx or a diffusers/optimum pipeline folder -> a compiled folder
 * (graph variants, gated models, tgate.json), proven in onnxruntime unless verify is false.
 */
export function compile(source: string, opts: LibraryCompileOptions): Promise<CompileResult> {
  const { verify, ...rest } = opts;
  return compileWith(source, { ...rest, prover: verify === false ? null : proveArtifacts });
}
export { TgateError, isTgateError, type ErrorCode } from './base/errors.js';
export { readManifest, type Manifest } from './build/manifest.js';
export {
  GatedUNet,
  variantsFor,
  type GenerateOptions,
  type GenerateResult,
  type LoadOptions,
  type StepRecord,
  type TensorInput,
  type TgateOptions,
} from './runtime/gated-unet.js';
export {
  GatedPipeline,
  readImage,
  type PipelineGenerateOptions,
  type PipelineLoadOptions,
  type PipelineResult,
  type PipelineTimings,
} from './runtime/pipeline/gated-pipeline.js';
export { encodePng, decodePng, type RgbImage } from './runtime/pipeline/image.js';
export { loadTokenizer, type Tokenizer } from './runtime/tokenizer/index.js';
export { TorchGenerator } from './runtime/torch-random.js';
export { createScheduler, schedulerFromConfig, SCHEDULERS, type Scheduler } from './runtime/schedulers/index.js';
