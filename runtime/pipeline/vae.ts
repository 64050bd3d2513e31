// The VAE at both ends of a latent pipeline, as diffusers' SD pipelines call it:
// - decode: vae_decoder(latents / scaling_factor + shift_factor) -> [-1, 1] pixels;
// - encode (img2img): vae_encoder(image) -> `latent_parameters` (mean and log-variance, newer
//   optimum exports): latent_dist.sample(generator) = mean + exp(0.5 clamp(logvar, -30, 20)) *
//   randn, the generator's next draw; or a sampled `latent_sample` (optimum <= 1.22), used as
//   is, with no draw; then x scaling_factor.
// float16 VAEs take and give float16 at the boundary.
import { TgateError } from '../../base/errors.js';
import { makeTensor, openComponent, runModel, type ModelSession, type SessionOptions } from '../session.js';
import { numbersOf, valuesAs } from '../tensor-values.js';
import type { TorchGenerator } from '../torch-random.js';

const f = Math.fround;

function inputDtype(s: ModelSession): string {
  const m = s.inputMetadata[0]!;
  return m.isTensor ? m.type : 'float32';
}

export class VaeDecoder {
  private constructor(
    private readonly session: ModelSession,
    readonly scalingFactor: number,
    readonly shiftFactor: number,
  ) {}

  /** `model`: the file, or a session given (a model on a server: remote/remote-session.ts). */
  static async load(model: string | ModelSession, scalingFactor: number, shiftFactor: number, opts: SessionOptions = {}): Promise<VaeDecoder> {
    return new VaeDecoder(typeof model === 'string' ? await openComponent(model, 'VAE decoder', opts) : model, scalingFactor, shiftFactor);
  }

  /** [B, C, h, w] latents -> [B, 3, H, W] pixels in about [-1, 1], one image at a time (bounded memory). */
  async decode(latents: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }> {
    const [B, C, h, w] = dims as [number, number, number, number];
    const dtype = inputDtype(this.session);
    const scaled = Float32Array.from(latents, (v) => f(f(v / this.scalingFactor) + this.shiftFactor));
    const parts: Float32Array[] = [];
    let outDims: number[] = [];
    for (let b = 0; b < B; b++) {
      const one = scaled.subarray(b * C * h * w, (b + 1) * C * h * w);
      const out = await runModel(
        this.session,
        { [this.session.inputNames[0]!]: makeTensor(dtype, valuesAs(dtype, one), [1, C, h, w]) },
        undefined,
        'VAE decoder',
      );
      const t = out[this.session.outputNames[0]!]!;
      parts.push(Float32Array.from(numbersOf(t)));
      outDims = [B, ...t.dims.slice(1)];
    }
    const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
    return { data, dims: outDims };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class VaeEncoder {
  private constructor(
    private readonly session: ModelSession,
    readonly scalingFactor: number,
    readonly shiftFactor: number,
  ) {}

  static async load(model: string, scalingFactor: number, shiftFactor: number, opts: SessionOptions = {}): Promise<VaeEncoder> {
    return new VaeEncoder(await openComponent(model, 'VAE encoder', opts), scalingFactor, shiftFactor);
  }

  /** A [1, 3, H, W] image in [-1, 1] -> clean latents [1, C, H/f, W/f], scaled for the UNet. */
  async encode(image: Float32Array, dims: number[], generator: TorchGenerator): Promise<{ data: Float32Array; dims: number[] }> {
    const dtype = inputDtype(this.session);
    const out = await runModel(this.session, { [this.session.inputNames[0]!]: makeTensor(dtype, valuesAs(dtype, image), dims) }, undefined, 'VAE encoder');
    const name = this.session.outputNames.includes('latent_parameters')
      ? 'latent_parameters'
      : this.session.outputNames.includes('latent_sample')
        ? 'latent_sample'
        : null;
    if (!name)
      throw new TgateError(
        'E_UNSUPPORTED_MODEL',
        `The VAE encoder gives ${this.session.outputNames.join(', ')}; tgate reads latent_parameters (mean and log-variance) or latent_sample.`,
      );
    const t = out[name]!;
    const v = numbersOf(t);
    let latent: Float32Array;
    let C: number;
    if (name === 'latent_parameters') {
      C = t.dims[1]! / 2;
      const n = v.length / 2;
      const noise = generator.randn([1, C, t.dims[2]!, t.dims[3]!]);
      latent = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const logvar = Math.min(20, Math.max(-30, v[n + i]!));
        latent[i] = f(v[i]! + f(f(Math.exp(f(0.5 * logvar))) * noise[i]!));
      }
    } else {
      C = t.dims[1]!;
      latent = Float32Array.from(v);
    }
    // diffusers scales after sampling: scaling_factor * (latents - shift_factor).
    return { data: Float32Array.from(latent, (x) => f(this.scalingFactor * f(x - this.shiftFactor))), dims: [1, C, t.dims[2]!, t.dims[3]!] };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
