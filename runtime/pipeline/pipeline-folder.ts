// A compiled pipeline folder as the text-to-image runtime sees it: the manifest with its
// `pipeline` record, model_index.json, and the few config values generation needs (the VAE's
// scaling, the UNet's native size, SD-XL's force_zeros_for_empty_prompt). Every component is
// checked for presence up front, so a missing one is one clear error before any model loads.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { containedFile, type ContainedKind } from '../../io/contained-file.js';
import { latentInput } from '../../build/latent-factor.js';
import { readManifest, type Manifest } from '../../build/manifest.js';
import { exists } from '../compiled-folder.js';
import { readConfig } from '../config-file.js';

export type PipelineKind = 'sd' | 'sdxl';

export interface PipelineFolder {
  dir: string;
  manifest: Manifest;
  className: string | null;
  kind: PipelineKind;
  /** Folder -> path of its model.onnx, for the components present. */
  models: { textEncoder: string; textEncoder2: string | null; vaeDecoder: string | null; vaeEncoder: string | null };
  tokenizers: { tokenizer: string; tokenizer2: string | null };
  /** scheduler/scheduler_config.json and its contents, read once when the folder is opened. */
  schedulerConfig: string;
  scheduler: unknown;
  /** Latent channels and the VAE's pixel factor (1 for a pixel-space model without a VAE). */
  latentChannels: number;
  vaeScaleFactor: number;
  /**
   * What image sizes must be multiples of: the VAE's factor times the UNet's (it halves the
   * latents once per down block; a traced export upsamples by fixed factors, so odd sizes fail).
   */
  sizeMultiple: number;
  scalingFactor: number;
  shiftFactor: number;
  /** The UNet's native latent size (config sample_size), when its config says. */
  sampleSize: number | null;
  forceZerosForEmptyPrompt: boolean;
}

/**
 * Every file generation reads from a compiled pipeline, checked as the manifest's own files are
 * (io/contained-file.ts: inside the folder, a regular file, bounded) before anything
 * opens it: the files the manifest lists, and those read by their fixed names whether listed or not.
 */
function checkPipelineFiles(dir: string, p: NonNullable<Manifest['pipeline']>): void {
  const manifest = path.join(dir, 'tgate.json');
  const kindOf = (f: string): ContainedKind => (f.endsWith('.onnx') ? 'graph' : /\.(json|txt)$/.test(f) ? 'config' : 'weights');
  for (const [name, c] of Object.entries(p.components)) {
    c.files.forEach((f, i) => {
      // A missing file is left to the presence checks, which say what it is needed for (the schema refused unsafe names).
      if (exists(path.join(dir, f)))
        containedFile(dir, f, { kind: kindOf(f), what: `${name} file`, field: `pipeline.components[${JSON.stringify(name)}].files[${i}]`, manifest });
    });
  }
  const fixed = ['model_index.json', `${p.denoiser}/config.json`, 'scheduler/scheduler_config.json'];
  for (const c of ['text_encoder', 'text_encoder_2', 'vae_decoder', 'vae_encoder']) fixed.push(`${c}/model.onnx`, `${c}/config.json`);
  for (const t of ['tokenizer', 'tokenizer_2'])
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'])
      fixed.push(`${t}/${f}`);
  for (const f of fixed) if (exists(path.join(dir, f))) containedFile(dir, f, { kind: kindOf(f), what: f });
}

function missing(dir: string, what: string, why: string): TgateError {
  return new TgateError('E_FILE_MISSING', `The pipeline ${dir} has no ${what}: ${why}.`, {
    subject: { file: path.join(dir, what) },
    hint: 'Compile the whole export folder (optimum-cli export onnx writes text_encoder/, tokenizer/, unet/, vae_decoder/, scheduler/ and model_index.json): tgate compile <export folder> -o <dir>.',
  });
}

/** Components whose model a server runs (generate --server): their model.onnx need not be here, their config.json still is. */
export type ServedComponent = 'text_encoder' | 'text_encoder_2' | 'vae_decoder';

export function readPipelineFolder(dir: string, opts: { served?: ReadonlySet<ServedComponent> } = {}): PipelineFolder {
  const served = opts.served ?? new Set<ServedComponent>();
  const manifest = readManifest(dir);
  const p = pipelineRecord(dir, manifest);
  checkPipelineFiles(dir, p);
  const file = (...parts: string[]) => path.join(dir, ...parts);
  const has = (...parts: string[]) => fs.existsSync(file(...parts));
  const index = readConfig(file('model_index.json'));
  checkTextEncoderClass(index, file('model_index.json'));
  const kind = requireComponents(dir, manifest, served);
  const g = readGeometry(dir, manifest, index, served);
  checkTextToImage(dir, p, index, g);
  const { vaeDecoder, vae, unet, latentChannels, blocks, unetBlocks } = g;
  return {
    dir,
    manifest,
    className: p.className,
    kind,
    models: {
      textEncoder: file('text_encoder', 'model.onnx'),
      textEncoder2: kind === 'sdxl' ? file('text_encoder_2', 'model.onnx') : null,
      vaeDecoder,
      vaeEncoder: has('vae_encoder', 'model.onnx') ? file('vae_encoder', 'model.onnx') : null,
    },
    tokenizers: { tokenizer: file('tokenizer'), tokenizer2: kind === 'sdxl' ? file('tokenizer_2') : null },
    schedulerConfig: file('scheduler', 'scheduler_config.json'),
    scheduler: readConfig(file('scheduler', 'scheduler_config.json')),
    latentChannels,
    vaeScaleFactor: vaeDecoder ? 2 ** (blocks - 1) : 1,
    sizeMultiple: (vaeDecoder ? 2 ** (blocks - 1) : 1) * 2 ** (unetBlocks - 1),
    scalingFactor: vaeDecoder ? numberOr(vae.scaling_factor, 0.18215) : 1,
    shiftFactor: vaeDecoder ? numberOr(vae.shift_factor, 0) : 0,
    sampleSize: typeof unet.sample_size === 'number' ? unet.sample_size : null,
    // StableDiffusionXLPipeline's default is true.
    forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt !== false,
  };
}

type Config = ReturnType<typeof readConfig>;

function numberOr(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : d;
}

/** A component entry of model_index.json is [library, class]; [null, null] is a component the pipeline does without. */
function componentClass(index: Config, key: string): string | null {
  return Array.isArray(index[key]) && typeof index[key][1] === 'string' ? (index[key][1] as string) : null;
}

/** The manifest's pipeline record, refused unless it is a UNet pipeline (the only kind generate runs). */
function pipelineRecord(dir: string, manifest: Manifest): NonNullable<Manifest['pipeline']> {
  const p = manifest.pipeline;
  if (!p) {
    throw new TgateError(
      'E_USAGE',
      `${dir} was compiled from a single model, not a pipeline folder: it has no tokenizer, text encoder or VAE to generate images with.`,
      {
        hint: 'Compile the export folder (with model_index.json) instead: tgate compile <export folder> -o <dir>; or run the UNet alone with embeddings: tgate run.',
      },
    );
  }
  if (p.denoiser !== 'unet') {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `The pipeline ${dir} denoises with a ${p.denoiser}/ (${p.className ?? 'unknown class'}); tgate generate runs CLIP-conditioned UNet pipelines (SD-1.x, SD-2.x, SD-XL).`,
      {
        hint: "PixArt's T5 text encoder is not supported by tgate generate; compute the embeddings elsewhere and use tgate run with --cond.",
      },
    );
  }
  return p;
}

/**
 * Text encoders are run by their outputs (last_hidden_state, hidden_states.N, text_embeds), so any
 * CLIP-like encoder works; T5 and decoder-only LMs need prompt handling tgate does not have.
 */
function checkTextEncoderClass(index: Config, indexFile: string): void {
  const textClass = componentClass(index, 'text_encoder');
  if (textClass && /T5|Gemma|Llama|Qwen|Mistral/i.test(textClass)) {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `The pipeline's text encoder is a ${textClass}; tgate generate supports CLIP text encoders (CLIPTextModel, CLIPTextModelWithProjection) and CLIP-like ones.`,
      {
        subject: { file: indexFile },
        hint: 'Compute the embeddings elsewhere and use tgate run with --cond.',
      },
    );
  }
}

/** The components every prompt needs (two text encoders for SD-XL), each refused by name when absent; returns the kind. */
function requireComponents(dir: string, manifest: Manifest, served: ReadonlySet<ServedComponent>): PipelineKind {
  const has = (...parts: string[]) => fs.existsSync(path.join(dir, ...parts)) || (parts[1] === 'model.onnx' && served.has(parts[0] as ServedComponent));
  for (const [folder, what] of [
    ['tokenizer', 'tokenizer'],
    ['text_encoder', 'text encoder'],
    ['scheduler', 'scheduler'],
  ] as const) {
    if (!has(folder) && !served.has(folder as ServedComponent)) throw missing(dir, `${folder}/`, `the ${what} is needed to generate from a prompt`);
  }
  if (!has('text_encoder', 'model.onnx')) throw missing(dir, 'text_encoder/model.onnx', 'the text encoder is needed to generate from a prompt');
  if (!has('scheduler', 'scheduler_config.json')) throw missing(dir, 'scheduler/scheduler_config.json', "the scheduler's settings decide the sampling");
  const kind: PipelineKind = has('text_encoder_2') || manifest.source.inputs.some((i) => i.name === 'text_embeds') ? 'sdxl' : 'sd';
  if (kind === 'sdxl') {
    for (const f of ['text_encoder_2/model.onnx', 'tokenizer_2']) if (!has(...f.split('/'))) throw missing(dir, f, 'SD-XL conditions on two text encoders');
  }
  return kind;
}

/** The VAE decoder (null for a pixel-space model), the VAE and UNet configs and what sizes follow from them. */
interface Geometry {
  vaeDecoder: string | null;
  vae: Config;
  unet: Config;
  latentChannels: number;
  /** VAE and UNet down blocks: each halves the image once. */
  blocks: number;
  unetBlocks: number;
}

function readGeometry(dir: string, manifest: Manifest, index: Config, served: ReadonlySet<ServedComponent>): Geometry {
  const decoder = path.join(dir, 'vae_decoder', 'model.onnx');
  // Served: where the file would be; the pipeline runs the server's model, and its config.json is read here.
  const vaeDecoder = fs.existsSync(decoder) || served.has('vae_decoder') ? decoder : null;
  const latent = latentInput(manifest.source.inputs);
  const latentChannels = typeof latent?.shape[1] === 'number' ? latent.shape[1] : 4;
  // A latent model needs its decoder; a pixel-space model (3 channels, no VAE in model_index.json) does not.
  if (!vaeDecoder && (componentClass(index, 'vae') || latentChannels !== 3))
    throw missing(dir, 'vae_decoder/model.onnx', 'the VAE decoder turns latents into pixels');
  const vae = readConfig(path.join(dir, 'vae_decoder', 'config.json'));
  const unet = readConfig(path.join(dir, 'unet', 'config.json'));
  const blocks = Array.isArray(vae.block_out_channels) ? vae.block_out_channels.length : 4;
  const unetBlocks = Array.isArray(unet.block_out_channels) ? unet.block_out_channels.length : 1;
  if (blocks > 6 || unetBlocks > 8)
    throw new TgateError('E_BAD_PIPELINE', `The configs of ${dir} give ${blocks} VAE and ${unetBlocks} UNet blocks; that is no Stable Diffusion pipeline.`, {
      subject: { file: path.join(dir, 'vae_decoder', 'config.json') },
    });
  return { vaeDecoder, vae, unet, latentChannels, blocks, unetBlocks };
}

/**
 * Inpainting (9 channels) and InstructPix2Pix (8) UNets take more than the latents; the SD-XL
 * refiner conditions on an aesthetic score: other pipelines than text-to-image.
 */
function checkTextToImage(dir: string, p: NonNullable<Manifest['pipeline']>, index: Config, g: Geometry): void {
  const vaeLatents = numberOr(g.vae.latent_channels, g.latentChannels);
  if (g.vaeDecoder && vaeLatents !== g.latentChannels) {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `The UNet takes ${g.latentChannels} input channels but the VAE makes ${vaeLatents}-channel latents: ${p.className ?? 'this pipeline'} is an inpainting or image-conditioned pipeline, which tgate generate does not run.`,
      { subject: { file: path.join(dir, 'unet', 'config.json') } },
    );
  }
  if (g.vae.latents_mean != null || g.vae.latents_std != null) {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `The VAE config of ${dir} sets latents_mean/latents_std (per-channel latent statistics); tgate decodes with scaling_factor and shift_factor only.`,
      { subject: { file: path.join(dir, 'vae_decoder', 'config.json') } },
    );
  }
  if (index.requires_aesthetics_score === true) {
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `${p.className ?? 'This pipeline'} conditions on an aesthetic score (the SD-XL refiner); tgate generate runs text-to-image pipelines.`,
      { subject: { file: path.join(dir, 'model_index.json') } },
    );
  }
}
