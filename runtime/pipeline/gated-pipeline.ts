// Text to image with a compiled pipeline folder: tokenizer and text encoder(s) -> the gated UNet
// on the T-GATE schedule (or the baseline) with the folder's scheduler -> VAE decode -> 8-bit RGB,
// as diffusers' StableDiffusion(XL)Pipeline and the official T-GATE loaders do:
// - initial noise: torch.randn([n, C, H/f, W/f], generator=torch.Generator("cpu").manual_seed(seed)),
//   so a seed gives the latents diffusers gives on CPU; later draws (ancestral schedulers, the
//   img2img VAE sample and noise) come from the same generator in diffusers' order;
// - img2img: the image is encoded (a first draw for the latent sample), then noised with a second
//   draw at the first timestep that `strength` keeps.
import { TgateError } from '../../base/errors.js';
import type { VariantName } from '../../build/variants.js';
import type { ModelSession } from '../session.js';
import { GatedUNet, variantsFor, type GenerateResult, type LoadOptions, type StepRecord, type TgateOptions } from '../gated-unet.js';
import { schedulerFromConfig } from '../schedulers/index.js';
import { checkSteps } from '../schedulers/config-check.js';
import { checkFiniteStep, checkTensorSize } from '../tensor-checks.js';
import { readUserFile } from '../../io/user-file.js';
import { TorchGenerator } from '../torch-random.js';
import { guidanceScaleEmbedding, LCM_DEFAULT_GUIDANCE } from './guidance-embedding.js';
import { decodePng, toModelInput, toRgbImages, toUnitRange, type RgbImage } from './image.js';
import { readPipelineFolder, type ServedComponent, type PipelineFolder } from './pipeline-folder.js';
import { PromptEncoder, type Conditioning, type PromptWarning } from './text-conditioning.js';
import { VaeDecoder, VaeEncoder } from './vae.js';

export interface PipelineGenerateOptions {
  prompt: string;
  /** undefined: diffusers' default ("" for SD; zeros for SD-XL with force_zeros_for_empty_prompt). */
  negativePrompt?: string;
  seed?: number | bigint;
  steps?: number;
  /** Default: the compiled family's (SD 7.5, SD-XL 5). */
  guidance?: number;
  /** Image pixels; default: the UNet's native size (config sample_size x VAE factor), else 512. */
  height?: number;
  width?: number;
  numImages?: number;
  /** Another scheduler than the folder's, with diffusers' from_config semantics (ddim, euler, ...). */
  scheduler?: string;
  /** The plain pipeline: no gating (same compiled folder, planning graph only). */
  baseline?: boolean;
  gateStep?: number;
  tgate?: TgateOptions;
  /** img2img: the starting picture (its size is the output size) and how much of the schedule to run. */
  image?: RgbImage;
  strength?: number;
  /** 'latent' skips the VAE decode. */
  outputType?: 'png' | 'latent';
  onStep?: (r: StepRecord) => void;
  /** Record the per-step change of the attention outputs (GatedUNet's recordAttention; costs a copy per step). */
  recordAttention?: boolean;
}

export interface PipelineTimings {
  tokenizeMs: number;
  textEncodeMs: number;
  /** img2img: the VAE encode. */
  imageEncodeMs: number;
  /** Denoising, per phase of the schedule, and in all. */
  denoise: { planningMs: number; gateMs: number; fidelityMs: number; totalMs: number };
  decodeMs: number;
  totalMs: number;
}

export interface PipelineResult {
  images: RgbImage[];
  /** Final latents (before the VAE's scaling), [n, C, h, w]. */
  latents: { data: Float32Array; dims: number[] };
  /** [n, H, W, 3] in [0, 1]: diffusers' output_type="np" (empty for 'latent'). */
  pixels: Float32Array;
  seed: string;
  mode: 'baseline' | 'tgate';
  scheduler: string;
  steps: number;
  guidance: number;
  height: number;
  width: number;
  schedule: GenerateResult['schedule'] | null;
  records: StepRecord[];
  /** With recordAttention: the mean relative change of the cross-/self-attention outputs per step (else empty). */
  attentionChange: GenerateResult['attentionChange'];
  warnings: PromptWarning[];
  timings: PipelineTimings;
  /** With the UNet on a server: its requests and bytes for this generation (GenerateResult.wire); null in process. */
  wire: GenerateResult['wire'];
}

export interface PipelineLoadOptions extends LoadOptions {
  /** Open the VAE encoder too (img2img); default: when the folder has one, on first use. */
  imageEncoder?: boolean;
  /**
   * Models on a server (tgate export triton; remote/connect-pipeline.ts): the UNet's steps, and
   * the text encoders and VAE decoder where the server has them (the folder's files otherwise).
   */
  remote?: { unet: GatedUNet; textEncoder?: ModelSession; textEncoder2?: ModelSession; vaeDecoder?: ModelSession };
}

export class GatedPipeline {
  private encoder: VaeEncoder | null = null;

  private constructor(
    readonly folder: PipelineFolder,
    readonly unet: GatedUNet,
    private readonly prompts: PromptEncoder,
    private readonly decoder: VaeDecoder | null,
    private readonly options: PipelineLoadOptions,
  ) {}

  /** Opens a compiled pipeline folder (tgate compile <export folder> -o <dir>). */
  static async load(dir: string, opts: PipelineLoadOptions = {}): Promise<GatedPipeline> {
    const r0 = opts.remote;
    const served = new Set<ServedComponent>();
    if (r0?.textEncoder) served.add('text_encoder');
    if (r0?.textEncoder2) served.add('text_encoder_2');
    if (r0?.vaeDecoder) served.add('vae_decoder');
    const folder = readPipelineFolder(dir, { served });
    const session = { threads: opts.threads ?? 0, optimization: opts.optimization ?? 'extended' } as const;
    const r = opts.remote;
    const unet = r?.unet ?? (await GatedUNet.load(dir, opts));
    const prompts = await PromptEncoder.load(folder, unet.roles.text[0] ?? 'encoder_hidden_states', session, {
      textEncoder: r?.textEncoder,
      textEncoder2: r?.textEncoder2,
    });
    const vae = r?.vaeDecoder ?? folder.models.vaeDecoder;
    const decoder = vae ? await VaeDecoder.load(vae, folder.scalingFactor, folder.shiftFactor, session) : null;
    return new GatedPipeline(folder, unet, prompts, decoder, opts);
  }

  /** The variants a generation with these options runs (to open only those: load({ variants })). */
  static variantsFor(dir: string, o: Pick<PipelineGenerateOptions, 'steps' | 'baseline' | 'gateStep' | 'tgate'>): VariantName[] {
    const m = readPipelineFolder(dir).manifest;
    return o.baseline ? ['planning'] : variantsFor(m, o.steps ?? 25, o.gateStep, o.tgate);
  }

  /** Image pixels at the UNet's native size (config sample_size x the VAE factor), else 512. */
  get nativeSize(): number {
    return this.folder.sampleSize !== null ? this.folder.sampleSize * this.folder.vaeScaleFactor : 512;
  }

  /** The UNet's conditioning inputs (cond and uncond) for `count` images of a prompt, as the pipeline makes them. */
  encodePrompt(prompt: string, negativePrompt: string | undefined, count = 1, height = this.nativeSize, width = this.nativeSize): Promise<Conditioning> {
    return this.prompts.encode(prompt, negativePrompt, count, height, width);
  }

  async generate(o: PipelineGenerateOptions): Promise<PipelineResult> {
    const started = performance.now();
    const f = this.folder;
    const { steps, n, height, width, strength } = this.checkRequest(o);
    const factor = f.vaeScaleFactor;
    // img2img needs the VAE encoder: refused before any model runs.
    const encoder = o.image ? await this.imageEncoder() : null;
    // A guidance-distilled UNet (LCM) takes the scale as an embedding, not as a CFG pair.
    const embedded = this.unet.roles.guidanceEmbedding;
    const guidance = o.guidance ?? (embedded.length ? LCM_DEFAULT_GUIDANCE : this.unet.manifest.schedule.guidance);
    const seed = o.seed ?? 0;
    const generator = new TorchGenerator(seed);
    // A guidance-distilled UNet is diffusers' LatentConsistencyModel pipeline, whose img2img gives
    // the strength to the LCM scheduler's set_timesteps; SD pipelines slice the timesteps.
    const lcmStrength = strength !== undefined && embedded.length ? { strength } : {};
    const scheduler = schedulerFromConfig(f.scheduler, { steps, source: f.schedulerConfig, name: o.scheduler, generator, ...lcmStrength });
    const text = await this.encodeText(o, n, height, width, guidance);
    const dims = [n, f.latentChannels, height / factor, width / factor];
    const image = o.image && encoder ? await encodeImage(encoder, o.image, dims, generator) : null;
    // Initial noise (text-to-image) or the img2img noise: the generator's next draw.
    const latents = { data: generator.randn(dims), dims };
    const result = await this.unet.generate({
      latents,
      cond: text.cond,
      uncond: text.uncond,
      steps,
      guidance,
      scheduler,
      ...(o.baseline
        ? { gateStep: Number.POSITIVE_INFINITY, tgate: { version: 1 as const } }
        : { ...(o.gateStep !== undefined ? { gateStep: o.gateStep } : {}), ...(o.tgate ? { tgate: o.tgate } : {}) }),
      ...(image ? { image: image.clean, strength } : {}),
      ...(o.onStep ? { onStep: o.onStep } : {}),
      ...(o.recordAttention ? { recordAttention: true } : {}),
    });
    const phaseMs = (p: string) => result.records.filter((r) => r.phase === p).reduce((a, r) => a + r.stepMs, 0);
    const decoded = (o.outputType ?? 'png') !== 'latent' ? await this.decode(result, n) : { images: [], pixels: new Float32Array(0), decodeMs: 0 };
    return {
      images: decoded.images,
      latents: { data: result.latents, dims: result.dims },
      pixels: decoded.pixels,
      seed: String(seed),
      mode: o.baseline ? 'baseline' : 'tgate',
      scheduler: scheduler.name,
      steps,
      guidance,
      height,
      width,
      schedule: o.baseline ? null : result.schedule,
      records: result.records,
      attentionChange: result.attentionChange,
      wire: result.wire,
      warnings: text.warnings,
      timings: {
        tokenizeMs: text.tokenizeMs,
        textEncodeMs: text.encodeMs,
        imageEncodeMs: image?.ms ?? 0,
        denoise: { planningMs: phaseMs('planning'), gateMs: phaseMs('gate'), fidelityMs: phaseMs('fidelity'), totalMs: result.totalMs },
        decodeMs: decoded.decodeMs,
        totalMs: performance.now() - started,
      },
    };
  }

  /** The request's numbers checked before anything is allocated or run: steps, count, size, seed, guidance, strength. */
  private checkRequest(o: PipelineGenerateOptions): { steps: number; n: number; height: number; width: number; strength: number | undefined } {
    const f = this.folder;
    const steps = o.steps ?? 25;
    checkSteps(steps);
    const n = o.numImages ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new TgateError('E_USAGE', `The number of images must be a whole number >= 1, not ${n}.`);
    if (typeof o.prompt !== 'string') throw new TgateError('E_USAGE', 'A prompt (text) is needed.');
    const factor = f.vaeScaleFactor;
    const height = o.image ? o.image.height : (o.height ?? this.nativeSize);
    const width = o.image ? o.image.width : (o.width ?? this.nativeSize);
    checkImageSize(height, width, factor, f.sizeMultiple, o.image !== undefined);
    if (typeof o.seed === 'number' ? !Number.isSafeInteger(o.seed) : o.seed !== undefined && (o.seed < -(2n ** 63n) || o.seed >= 2n ** 64n)) {
      throw new TgateError('E_USAGE', `The seed must be a whole number in [-2^63, 2^64) (torch's range), not ${String(o.seed)}.`);
    }
    if (o.guidance !== undefined && !(Number.isFinite(o.guidance) && o.guidance >= 0))
      throw new TgateError('E_USAGE', `guidance must be a number >= 0, not ${o.guidance}.`);
    // Nothing is allocated from a mistyped size or count: the latents' size is bounded first.
    checkTensorSize(
      [n, f.latentChannels, height / factor, width / factor],
      `${n} image${n === 1 ? '' : 's'} of ${width}x${height} pixels: the latents`,
      'E_USAGE',
      'Use fewer images (--num-images) or a smaller --height/--width (image pixels).',
    );
    if (o.strength !== undefined && !o.image) throw new TgateError('E_USAGE', 'strength is for img2img: give an image to start from.');
    if (o.strength !== undefined && !(typeof o.strength === 'number' && o.strength > 0 && o.strength <= 1))
      throw new TgateError('E_USAGE', `strength must be a number in (0, 1], not ${String(o.strength)}.`);
    // diffusers' img2img default strength.
    return { steps, n, height, width, strength: o.image ? (o.strength ?? 0.8) : undefined };
  }

  /** The prompts' conditioning, checked for NaN, with the guidance embedding of a guidance-distilled UNet. */
  private async encodeText(o: PipelineGenerateOptions, n: number, height: number, width: number, guidance: number): Promise<Conditioning> {
    const text = await this.prompts.encode(o.prompt, o.negativePrompt, n, height, width);
    // The text encoder's NaN would reach the UNet as bad input; it is the encoder's, and named so.
    for (const [which, set] of [
      ['prompt', text.cond],
      ['negative prompt', text.uncond],
    ] as const) {
      for (const [name, t] of Object.entries(set ?? {})) {
        if (t.data instanceof Float32Array)
          checkFiniteStep(
            t.data,
            t.dims,
            `The text encoding of the ${which} (${name})`,
            'The text encoder overflows on this prompt (a float16 export overflows sooner than a float32 one); try a float32 export of the text encoder.',
          );
      }
    }
    for (const name of this.unet.roles.guidanceEmbedding) {
      const dim = this.unet.manifest.source.inputs.find((i) => i.name === name)!.shape[1];
      if (typeof dim !== 'number') throw new TgateError('E_UNSUPPORTED_MODEL', `The UNet's guidance embedding input ${name} has no fixed width.`);
      text.cond[name] = guidanceScaleEmbedding(guidance, dim, n);
    }
    return text;
  }

  /** The final latents through the VAE decoder (checked for NaN) to pixels in [0, 1] and 8-bit pictures. */
  private async decode(result: GenerateResult, n: number): Promise<{ images: RgbImage[]; pixels: Float32Array; decodeMs: number }> {
    const t0 = performance.now();
    const decoded = this.decoder ? await this.decoder.decode(result.latents, result.dims) : { data: result.latents, dims: result.dims };
    // A float16 VAE decoder is known to overflow (SD-XL's): black or noise pictures, never written silently.
    checkFiniteStep(
      decoded.data,
      decoded.dims,
      "The VAE decoder's output",
      "The VAE decoder overflows on these latents (SD-XL's float16 VAE is known to): use a float32 export of vae_decoder, or the fp16-fix VAE.",
    );
    const pixels = toUnitRange(decoded.data, decoded.dims);
    const images = toRgbImages(pixels, n, decoded.dims[2]!, decoded.dims[3]!);
    return { images, pixels, decodeMs: performance.now() - t0 };
  }

  private async imageEncoder(): Promise<VaeEncoder> {
    if (this.encoder) return this.encoder;
    const model = this.folder.models.vaeEncoder;
    if (!model) {
      throw new TgateError('E_FILE_MISSING', `The pipeline ${this.folder.dir} has no vae_encoder/model.onnx; img2img encodes the input image with it.`, {
        hint: 'Export the pipeline with its VAE encoder (optimum-cli export onnx writes vae_encoder/), then compile it again.',
      });
    }
    this.encoder = await VaeEncoder.load(model, this.folder.scalingFactor, this.folder.shiftFactor, {
      threads: this.options.threads ?? 0,
      optimization: this.options.optimization ?? 'extended',
    });
    return this.encoder;
  }

  async release(): Promise<void> {
    await this.unet.release();
    await this.prompts.release();
    await this.decoder?.release();
    await this.encoder?.release();
  }
}

/** The image size in pixels: positive multiples of what the VAE and the UNet's downsampling need. */
function checkImageSize(height: number, width: number, factor: number, multiple: number, img2img: boolean): void {
  const bad = [
    ['height', height],
    ['width', width],
  ].filter(([, v]) => !Number.isInteger(v) || (v as number) <= 0 || (v as number) % multiple !== 0);
  if (bad.length) {
    throw new TgateError(
      'E_USAGE',
      `The ${img2img ? "input image's " : ''}${bad.map(([k, v]) => `${k} ${v}`).join(' and ')} ${bad.length > 1 ? 'are not positive multiples' : 'is not a positive multiple'} of ${multiple} pixels (the VAE's factor ${factor} x the UNet's ${multiple / factor}: its exported graph halves the latents ${Math.log2(multiple / factor)} times).`,
      {
        hint: img2img
          ? `Resize the image to a multiple of ${multiple} pixels on each side.`
          : `Use multiples of ${multiple}, e.g. ${Math.max(multiple, Math.round(Number(bad[0]![1]) / multiple) * multiple)}.`,
      },
    );
  }
}

/** img2img: the picture through the VAE encoder (its latent sample the generator's first draw), repeated per image, checked. */
async function encodeImage(
  encoder: VaeEncoder,
  image: RgbImage,
  dims: number[],
  generator: TorchGenerator,
): Promise<{ clean: { data: Float32Array; dims: number[] }; ms: number }> {
  const t0 = performance.now();
  const n = dims[0]!;
  const one = await encoder.encode(toModelInput(image), [1, 3, image.height, image.width], generator);
  const clean = { data: new Float32Array(one.data.length * n), dims };
  for (let i = 0; i < n; i++) clean.data.set(one.data, i * one.data.length);
  checkFiniteStep(
    one.data,
    [1, ...dims.slice(1)],
    'The VAE encoding of the input image',
    'The VAE encoder overflows on this image (a float16 VAE overflows sooner: use a float32 export of vae_encoder).',
  );
  return { clean, ms: performance.now() - t0 };
}

/** The most pixels an input image may have (16384 x 16384): checked in its header before decoding. */
export const MAX_IMAGE_PIXELS = 2 ** 28;

/**
 * Reads a PNG for img2img: a regular file of at most 1 GiB (user-file.ts), whose header's size is
 * checked before pngjs decodes it (a few bytes can claim gigapixels and inflate without bound).
 */
export function readImage(file: string): RgbImage {
  const hint = 'Give a PNG file (img2img takes --image in.png).';
  const bytes = readUserFile(file, { what: 'image', maxBytes: 2 ** 30, hint });
  // PNG signature (8 bytes), then the IHDR chunk: length (4), "IHDR" (4), width and height (big-endian).
  if (bytes.length >= 24 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    const w = bytes.readUInt32BE(16);
    const h = bytes.readUInt32BE(20);
    if (w * h > MAX_IMAGE_PIXELS)
      throw new TgateError('E_BAD_TENSOR', `The image ${file} claims ${w}x${h} pixels; tgate reads at most ${MAX_IMAGE_PIXELS} pixels.`, {
        subject: { file },
        hint,
      });
  }
  return decodePng(bytes, file);
}
