// onnxruntime-node sessions with the options tgate relies on. Proof sessions run on one thread
// so their numbers (written into the manifest) do not depend on the machine's core count.
import ort from 'onnxruntime-node';

export type OrtTensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

export interface SessionOptions {
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** Opens a model file (external data resolved beside it) or in-memory bytes. */
export async function openSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'basic',
    executionMode: 'sequential',
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
