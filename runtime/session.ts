// onnxruntime-node sessions with the options tgate relies on. Proof sessions run on one thread
// so their numbers (written into the manifest) do not depend on the machine's core count.
import ort from 'onnxruntime-node';

export type OrtTensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

export interface SessionOptions {
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export async function openSession(modelPath: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'basic',
    executionMode: 'sequential',
  });
}

export function float32Tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function makeTensor(dtype: string, data: ort.Tensor.DataType, dims: number[]): ort.Tensor {
  return new ort.Tensor(dtype as ort.Tensor.Type, data as never, dims);
}
