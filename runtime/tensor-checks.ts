// Checks of the tensors a generation takes and makes. A tensor from a user (a .npy file, a
// library call) can have any shape, dtype and values; fed to onnxruntime as they are, a wrong
// one ends in "Tensor's size does not match data length", a BigInt mixed with numbers, or an
// opaque kernel failure: crashes that read as tgate bugs. And NaN or infinity, in or out of
// any step, silently turns every later value into NaN and the picture into noise with exit 0.
// So tensors are checked where they enter, against the model's declared input, with messages
// that say what was expected.
import { TgateError, type ErrorCode } from '../base/errors.js';
import type { ManifestIo } from '../build/manifest.js';
import type { Flat } from './batch-ops.js';

/**
 * The most values one tensor may hold: 2^28 (1 GiB of float32). SD-XL's 1024 px latents hold
 * 65,536 per sample and its text conditioning 157,696; only a mistyped size gets near this, and
 * beyond it allocations fail (a crash, or the machine's memory gone) before anything runs.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

export interface TensorLike {
  data: Flat;
  dims: number[];
}

const dimsText = (d: readonly (number | string)[]) => `[${d.join(', ')}]`;

/** The number of values of a shape, refused (code) when it exceeds MAX_TENSOR_ELEMENTS. */
export function checkTensorSize(dims: number[], what: string, code: ErrorCode = 'E_BAD_TENSOR', hint?: string): number {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_TENSOR_ELEMENTS) {
    throw new TgateError(
      code,
      `${what} of shape ${dimsText(dims)} would hold ${count} values; tgate handles at most ${MAX_TENSOR_ELEMENTS} (1 GiB of float32) per tensor.`,
      {
        hint: hint ?? 'Check the sizes: image pixels for --height/--width, a batch of a few samples.',
      },
    );
  }
  return count;
}

/** The dtype the runtime feeds for an input declared `declared` (float16 is fed from float32 values). */
function wantedArray(declared: string): { name: string; ok: (d: unknown) => boolean } {
  if (declared === 'int64') return { name: 'int64', ok: (d) => d instanceof BigInt64Array };
  if (declared === 'int32') return { name: 'int32', ok: (d) => d instanceof Int32Array };
  return { name: 'float32', ok: (d) => d instanceof Float32Array };
}

const arrayName = (d: unknown) =>
  d instanceof Float32Array
    ? 'float32'
    : d instanceof BigInt64Array
      ? 'int64'
      : d instanceof Int32Array
        ? 'int32'
        : d === null || typeof d !== 'object'
          ? String(d)
          : (d.constructor?.name ?? 'an object');

/**
 * Checks one tensor against the model input it feeds: a Flat array whose length its dims
 * describe, the dtype the runtime feeds, the input's rank and fixed dims, `batch` rows (the
 * latents' batch; 'any' for the latents themselves), a size within bounds. `what` names it as the caller knows it ("latents", "cond
 * encoder_hidden_states"). Shape and dtype problems are E_BAD_TENSOR.
 */
export function checkTensor(t: unknown, what: string, io: ManifestIo, batch: number | 'any'): asserts t is TensorLike {
  // The batch is the latents' (or, for the latents, any): a fixed-batch export runs smaller
  // batches by repeating rows (gated-unet.ts), so its declared batch is not required here.
  const given = (t as { dims?: unknown } | null)?.dims;
  const rows = batch === 'any' ? (Array.isArray(given) && given[0] > 0 ? given[0] : undefined) : batch;
  const want = io.shape.map((d, i) => (i === 0 ? (rows ?? d) : d));
  const wantText = dimsText(want.map((d) => (typeof d === 'number' ? d : `<${d}>`)));
  const bad = (why: string) =>
    new TgateError(
      'E_BAD_TENSOR',
      `${what}: ${why}; the model's input ${io.name} takes ${io.dtype === 'float16' ? 'float32 (fed as float16)' : io.dtype} ${wantText}.`,
      {
        subject: { tensor: io.name },
        hint: `Give a ${wantedArray(io.dtype).name} tensor of shape ${wantText} (numpy: x.astype(numpy.${wantedArray(io.dtype).name}), saved with numpy.save).`,
      },
    );
  if (!t || typeof t !== 'object') throw bad(`${t === null ? 'null' : typeof t}, not a tensor ({ data, dims })`);
  const { data, dims } = t as { data: unknown; dims: unknown };
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw bad(`dims ${JSON.stringify(dims)}, not a list of whole numbers`);
  if (!wantedArray(io.dtype).ok(data)) throw bad(`${arrayName(data)} values`);
  const count = checkTensorSize(dims as number[], what);
  if ((data as Flat).length !== count) throw bad(`${(data as Flat).length} values, but its shape ${dimsText(dims as number[])} holds ${count}`);
  if (dims.length !== io.shape.length) throw bad(`shape ${dimsText(dims as number[])} (rank ${dims.length})`);
  if (dims[0] === 0) throw bad(`shape ${dimsText(dims as number[])}, a batch of 0 samples`);
  const off = want.findIndex((d, i) => typeof d === 'number' && d !== dims[i]);
  if (off >= 0) throw bad(`shape ${dimsText(dims as number[])} (dim ${off} is ${dims[off]}, not ${want[off]}${off === 0 ? ', the batch of the latents' : ''})`);
  if ((dims as number[]).some((d) => d === 0)) throw bad(`shape ${dimsText(dims as number[])}, no values`);
}

/** Where the first NaN or infinity of `data` is (its coordinates in dims), or null. */
export function nonFinite(data: ArrayLike<number>, dims: readonly number[]): { index: number; value: number; at: number[]; count: number } | null {
  // x * 0 is 0 for every finite x and NaN for NaN and +-Infinity, and NaN survives the sum: one
  // multiply-add per value on the common path, the details only when something is wrong.
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i]! * 0;
  if (sum === 0) return null;
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) return null;
  const at: number[] = [];
  let rest = first;
  for (let d = dims.length - 1; d >= 0; d--) {
    at.unshift(rest % dims[d]!);
    rest = Math.floor(rest / dims[d]!);
  }
  return { index: first, value: data[first]!, at, count };
}

/** Refuses a float tensor given as input that holds NaN or infinity (E_BAD_TENSOR). */
export function checkFiniteInput(t: TensorLike, what: string): void {
  if (!(t.data instanceof Float32Array)) return;
  const bad = nonFinite(t.data, t.dims);
  if (bad) {
    throw new TgateError(
      'E_BAD_TENSOR',
      `${what}: ${bad.count} NaN or infinite value${bad.count === 1 ? '' : 's'} (the first, ${bad.value}, at ${dimsText(bad.at)}); a generation from it would be NaN throughout.`,
      {
        hint: "Check how the tensor was made (a float64 value beyond float32's range becomes infinity when read); numpy.isfinite(x).all() must hold.",
      },
    );
  }
}

/**
 * Stops a generation whose values became NaN or infinite (E_NON_FINITE, exit 7), naming where.
 * Called on every model output and every step's result: once a value is NaN every later one is
 * (convolutions and attention mix it into all), so running on only wastes the remaining steps
 * and writes noise with exit 0. One pass over the latents costs microseconds next to a model call.
 */
export function checkFiniteStep(data: ArrayLike<number>, dims: readonly number[], what: string, hint: string): void {
  const bad = nonFinite(data, dims);
  if (bad) {
    throw new TgateError(
      'E_NON_FINITE',
      `${what}: ${bad.count} NaN or infinite value${bad.count === 1 ? '' : 's'} (the first, ${bad.value}, at ${dimsText(bad.at)}); tgate stopped the generation there.`,
      { hint },
    );
  }
}
