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

import { exportTriton as exportTritonWith, type TritonExportOptions, type TritonExportResult } from './build/triton/export.js';
import { proveStateful } from './runtime/stateful-proof.js';

export type { TritonExportResult } from './build/triton/export.js';

export interface LibraryTritonExportOptions extends Omit<TritonExportOptions, 'prover' | 'instances' | 'idleSeconds'> {
  instances?: TritonExportOptions['instances'];
  idleSeconds?: number;
  /** Prove the stateful model under implicit state before writing (default true). */
  verify?: boolean;
}

/** `tgate export triton`: a compiled folder (or pipeline) -> a Triton model repository, proven unless verify is false. */
export function exportTriton(compiled: string, opts: LibraryTritonExportOptions): Promise<TritonExportResult> {
  const { verify, instances, idleSeconds, ...rest } = opts;
  return exportTritonWith(compiled, {
    ...rest,
    instances: instances ?? { kind: 'KIND_AUTO', count: 1 },
    idleSeconds: idleSeconds ?? 60,
    prover: verify === false ? null : proveStateful,
  });
}
export { connectGatedUNet } from './runtime/remote/connect-unet.js';
export { connectPipeline, type RemotePipeline } from './runtime/remote/connect-pipeline.js';
export { KServeClient, connectModel, type KServeOptions, type RemoteModel } from './runtime/remote/kserve-client.js';
export { ImplicitStateModel } from './runtime/remote/implicit-state.js';
export type { InferModel, InferResult, SequenceFlags } from './runtime/remote/sequence-model.js';
