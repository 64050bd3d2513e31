// onnxruntime-node sessions with the options tgate relies on. Proof sessions run on one thread
// so their numbers (written into the manifest) do not depend on the machine's core count.
import ort from 'onnxruntime-node';

export type OrtTensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

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
    // Errors only: onnxruntime's warnings (unused initializers and the like) are not the user's to act on.
    logSeverityLevel: 3,
    ...(opts.arena === false ? { enableCpuMemArena: false } : {}),
    ...(opts.memPattern === false ? { enableMemPattern: false } : {}),
    ...(opts.prepacking === false ? { extra: { session: { disable_prepacking: '1' } } } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
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
