// onnxruntime-node sessions with the options tgate relies on. Proof sessions run on one thread
// so their numbers (written into the manifest) do not depend on the machine's core count.
import ort from './ort.js';
import { TgateError } from '../base/errors.js';
import { regularFile } from '../io/contained-file.js';

export type OrtTensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

/** What the pipeline components use of a session: an onnxruntime one, or a model on a server (remote/remote-session.ts). */
export type ModelSession = Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata' | 'release' | 'run'>;

export interface SessionOptions {
  /** Intra-op threads; 0 lets onnxruntime choose (one per core). */
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Weight pre-packing copies MatMul/Conv weights into packed buffers per session; with it off,
   * sessions over one memory-mapped weights file share its pages.
   */
  prepacking?: boolean;
  /**
   * onnxruntime's CPU arena keeps the peak activation memory of each session for its lifetime;
   * without it, activations are freed after every run, so two sessions do not hold two peaks.
   */
  arena?: boolean;
  /** Memory patterns pre-plan one block per input shape for all activations of a run. */
  memPattern?: boolean;
}

/** Opens a model file (external data resolved beside it) or in-memory bytes. */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'basic',
    executionMode: 'sequential',
    // Fatal only: onnxruntime's own logger writes straight to stderr, in colour even into pipes, and
    // repeats model strings unescaped (cli/terminal-text.ts cannot reach a native write). Its errors
    // reach tgate as exceptions anyway, which carry the same text and are reported with a code.
    logSeverityLevel: 4,
    ...(opts.arena === false ? { enableCpuMemArena: false } : {}),
    ...(opts.memPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.prepacking === false ? { extra: { session: { disable_prepacking: '1' } } } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/**
 * Opens a pipeline component (text encoder, VAE) the user supplied: a file onnxruntime cannot
 * load is bad input (E_NOT_ONNX, exit 3), named, not a crash.
 */
export async function openComponent(file: string, what: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  // onnxruntime would block on a FIFO and map a device: only a regular file within protobuf's limit is handed on.
  regularFile(file, { kind: 'graph', what });
  try {
    return await openSession(file, opts);
  } catch (cause) {
    throw new TgateError('E_NOT_ONNX', `onnxruntime cannot load the ${what} ${file}: ${(cause as Error).message}`, {
      subject: { file },
      hint: `Re-export the pipeline's ${what}; tgate loads the ONNX files optimum-cli export onnx writes.`,
      cause,
    });
  }
}

/**
 * session.run with onnxruntime's refusals (shapes a static export does not take, inputs of the
 * wrong width from a mismatched component) as a coded error naming the model and the feeds.
 */
export async function runModel(session: ModelSession, feeds: Feeds, fetches: string[] | undefined, what: string): Promise<Record<string, ort.Tensor>> {
  try {
    return fetches ? await session.run(feeds, fetches) : await session.run(feeds);
  } catch (cause) {
    const shapes = Object.entries(feeds)
      .filter(([k]) => !k.startsWith('tgate.'))
      .map(([k, t]) => `${k} [${t.dims.join(', ')}]`)
      .join(', ');
    throw new TgateError('E_UNSUPPORTED_MODEL', `onnxruntime could not run the ${what} on ${shapes}: ${(cause as Error).message.split('\n')[0]}`, {
      hint: "Check the image size (an export with fixed shapes runs only at its exported size) and that the pipeline's components belong together.",
      cause,
    });
  }
}

/** Runs a model once and releases its session. */
export async function runOnce(model: string | Uint8Array, feeds: Feeds, opts: SessionOptions = {}): Promise<Record<string, ort.Tensor>> {
  const s = await openSession(model, opts);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

export function float32Tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function makeTensor(dtype: string, data: ort.Tensor.DataType, dims: number[]): ort.Tensor {
  return new ort.Tensor(dtype as ort.Tensor.Type, data as never, dims);
}

/** Writes the graph onnxruntime runs after its optimisations (what ORT-optimized exports look like). */
export async function writeOptimizedModel(source: string, target: string, level: 'basic' | 'extended'): Promise<void> {
  const s = await ort.InferenceSession.create(source, { graphOptimizationLevel: level, optimizedModelFilePath: target });
  await s.release();
}
