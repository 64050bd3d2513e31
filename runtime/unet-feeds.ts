// The sampler's model inputs for one step, as the official T-GATE pipelines feed the UNet: the
// latents (doubled under CFG) and the timestep at the call's batch; the text and other
// conditioning as [uncond; cond] while CFG runs, the cond alone without it, and after the gate
// under CFG the uncond value of what the fidelity graph still reads (SD-XL's pooled embeds and
// time ids). float32 values become float16 where the model declares it.
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import type { ManifestIo } from '../build/manifest.js';
import type { Phase } from '../build/schedule.js';
import { toHalfBits } from '../ir/dtype.js';
import { concatRows, type Flat } from './batch-ops.js';
import type { ModelRoles } from './model-roles.js';
import { makeTensor, type Feeds } from './session.js';
import { valuesAs } from './tensor-values.js';

export interface TensorInput {
  data: Flat;
  dims: number[];
}

/** A feed for a model input: float32 values become float16 where the model declares it. */
export function inputTensor(inputs: readonly ManifestIo[], name: string, data: Flat, dims: number[]): ort.Tensor {
  const declared = inputs.find((i) => i.name === name)?.dtype;
  if (declared === 'float16' && data instanceof Float32Array) return makeTensor('float16', valuesAs('float16', data), dims);
  return makeTensor(dtypeOf(data), data as never, dims);
}

/** The timestep t at a call's batch, in the dtype and rank the model declares. */
export function timestepTensor(ts: ManifestIo, t: number, batch: number): ort.Tensor {
  const dims = ts.shape.length === 0 ? [] : ts.shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  if (ts.dtype === 'float32') return makeTensor('float32', new Float32Array(n).fill(t), dims);
  if (ts.dtype === 'float16') return makeTensor('float16', new Uint16Array(n).fill(toHalfBits(t)), dims);
  if (ts.dtype === 'int64') return makeTensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
  if (ts.dtype === 'int32') return makeTensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
  throw new TgateError('E_UNSUPPORTED_MODEL', `Timestep input ${ts.name} has type ${ts.dtype}; tgate feeds float32, int64 or int32 timesteps.`);
}

function dtypeOf(d: Flat): string {
  return d instanceof BigInt64Array ? 'int64' : d instanceof Int32Array ? 'int32' : 'float32';
}

/** One generation's feeds. Conditioning does not change from step to step: each tensor is built once, on first use. */
export class UNetFeeds {
  private readonly condFeeds = new Map<string, ort.Tensor>();
  private readonly uncondFeeds = new Map<string, ort.Tensor>();

  constructor(
    private readonly inputs: readonly ManifestIo[],
    private readonly roles: ModelRoles,
    private readonly given: { cond: Record<string, TensorInput>; uncond?: Record<string, TensorInput> },
    /** Samples (B), and whether the generation runs CFG. */
    private readonly samples: number,
    private readonly cfg: boolean,
  ) {}

  /** A step's feeds: `x` the scaled latents [B, ...], at batch 2B when `paired` (CFG before the gate). */
  step(x: Float32Array, dims: readonly number[], t: number, phase: Phase, paired: boolean): Feeds {
    const r = this.roles;
    const batch = paired ? 2 * this.samples : this.samples;
    const feeds: Feeds = {
      [r.latent.name]: inputTensor(this.inputs, r.latent.name, paired ? concatRows(x, x) : x, [batch, ...dims.slice(1)]),
      [r.timestep.name]: timestepTensor(r.timestep, t, batch),
    };
    for (const n of r.guidanceEmbedding) feeds[n] = this.cond(n, false);
    if (phase === 'fidelity') {
      // After the gate the conditioning the fidelity graph still reads takes its uncond value
      // under CFG, as the official code does (SDXL's pooled embeds and time ids).
      for (const n of r.conditioning) feeds[n] = this.cfg ? this.uncond(n) : this.cond(n, false);
    } else {
      for (const n of [...r.text, ...r.conditioning]) feeds[n] = this.cond(n, paired);
    }
    return feeds;
  }

  /** The cond tensor, or [uncond; cond] when paired. */
  private cond(name: string, paired: boolean): ort.Tensor {
    const key = `${paired}:${name}`;
    let t = this.condFeeds.get(key);
    if (!t) {
      const c = this.given.cond[name]!;
      const u = paired ? this.given.uncond![name]! : null;
      t = u
        ? inputTensor(this.inputs, name, concatRows(u.data, c.data), [2 * this.samples, ...c.dims.slice(1)])
        : inputTensor(this.inputs, name, c.data, c.dims);
      this.condFeeds.set(key, t);
    }
    return t;
  }

  private uncond(name: string): ort.Tensor {
    let t = this.uncondFeeds.get(name);
    if (!t) {
      const u = this.given.uncond![name]!;
      t = inputTensor(this.inputs, name, u.data, u.dims);
      this.uncondFeeds.set(name, t);
    }
    return t;
  }
}
