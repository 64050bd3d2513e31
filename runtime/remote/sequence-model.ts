// What the sampler calls to run a model, remote (a KServe v2 / Triton server) or in process (the
// implicit-state harness): named tensors in, named tensors out, optionally as one request of a
// sequence whose state the server carries. Tensors are ort tensors as runtime/session.ts makes them
// (float16 as Uint16Array bit patterns, bool as Uint8Array).
import type ort from 'onnxruntime-node';

/** Triton's sequence parameters: `id` is a non-zero uint64 (0 means "no sequence" in the protocol). */
export interface SequenceFlags {
  id: bigint;
  start: boolean;
  end: boolean;
}

/** A model input or output as KServe metadata states it. */
export interface TensorSpec {
  name: string;
  /** KServe datatype: FP32, FP16, BOOL, INT64, INT32, ... */
  datatype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

export interface InferResult {
  outputs: Record<string, ort.Tensor>;
  /** The request body's length in bytes (in process: the raw bytes of the tensors fed). */
  bytesSent: number;
  /** The response body's length in bytes (in process: the raw bytes of the tensors returned). */
  bytesReceived: number;
  /** Wall time of the call. */
  ms: number;
}

export interface InferModel {
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** One request; with `sequence`, part of that sequence (implicit state carried by the server). */
  infer(feeds: Record<string, ort.Tensor>, outputs: readonly string[], sequence?: SequenceFlags): Promise<InferResult>;
  close(): Promise<void>;
}
