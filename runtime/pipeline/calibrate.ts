// Calibration measures the gate step instead of guessing it. Runs the baseline on seeded inputs
// (recording how much the cross-attention outputs still change per step), then TGATE at every
// candidate gate step on the same inputs, and gives for each the predicted speed-up (from the
// measured per-step model times) and the deviation of the final result from the baseline
// (relative L2; with the demo model's oracle, prompt adherence too). Recommends the earliest gate
// step whose deviation stays within the tolerance. Returns data only: recording it in tgate.json
// is build/manifest.ts's writeCalibration, rendering it the CLI's. In the pipeline layer: prompts
// go through a compiled pipeline's own text encoder (text-conditioning.ts).
import path from 'node:path';
import { readManifest, type Manifest } from '../../build/manifest.js';
import { pipelineSchedulerConfig } from '../compiled-folder.js';
import { relativeL2 } from '../convergence.js';
import { GatedUNet, type GenerateOptions, type GenerateResult } from '../gated-unet.js';
import { median } from '../median.js';
import { readPipelineFolder } from './pipeline-folder.js';
import { PromptEncoder } from './text-conditioning.js';
import { readDiffusersJson, schedulerFromConfig } from '../schedulers/index.js';
import { concreteShape, seededNormal } from '../seeded-tensors.js';
import { labelsOf, promptOf, readLabels, ShapeClassifier, TextEncoder, type Labels } from '../text-model.js';
import { TorchGenerator } from '../torch-random.js';
import type { TensorInput } from '../unet-feeds.js';

export interface CalibrationPoint {
  gateStep: number;
  /** Relative L2 of the final latents against the baseline's, over all samples. */
  deviation: number;
  /** Baseline time over this gate step's, from the measured per-step model times. */
  predictedSpeedup: number;
  /** With an oracle: share of samples read back as their prompt. */
  adherence: number | null;
}

export interface Calibration {
  version: 1 | 2;
  steps: number;
  samples: number;
  tolerance: number;
  /** Mean relative change of the cross-attention outputs per baseline step (k >= 1). */
  crossChange: { k: number; change: number }[];
  points: CalibrationPoint[];
  baselineAdherence: number | null;
  recommended: number | null;
  /** With a text model: the text encoder the prompts went through (the folder's own, for a compiled pipeline). */
  textEncoder: string | null;
  /** The scheduler_config.json sampled with (null: DDIM with the Stable Diffusion config). */
  schedulerConfig: string | null;
}

/** Where a calibration is: `start` once the sweep begins (after a warm-up), then each run of it. */
export type CalibrationProgress =
  { kind: 'start'; total: number; version: 1 | 2; samples: number } | { kind: 'run'; done: number; label: string } | { kind: 'end' };

export interface CalibrateOptions {
  steps: number;
  samples: number;
  seed: number;
  /** The largest deviation (relative L2 of the final latents) a recommended gate step may have. */
  tolerance: number;
  /** Default: 2 when the folder cached self-attention sites, else 1. */
  version?: 1 | 2;
  /** The latents' sides (default: the model's fixed size, else 32: 256 px for SD's VAE). */
  latentHeight?: number;
  latentWidth?: number;
  /**
   * The demo model's pipeline folder: real prompts from its labels (classifier/labels.json),
   * scored by its oracle (classifier/model.onnx). The prompts go through the calibrated folder's
   * own tokenizer and text encoder when it is a compiled pipeline, else through this folder's.
   */
  textModel?: string;
  onProgress?: (p: CalibrationProgress) => void;
}

export interface CalibrationRun {
  calibration: Calibration;
  /** The prompts went through the calibrated folder's own tokenizer and text encoder. */
  ownEncoder: boolean;
  /** Prompt adherence was scored (the text model has an oracle). */
  scored: boolean;
}

/** The text side of a calibration: prompts, their encoders and the oracle that reads them back. */
interface TextModels {
  labels: Labels | null;
  prompter: PromptEncoder | null;
  vaeScaleFactor: number;
  text: TextEncoder | null;
  oracle: ShapeClassifier | null;
  textEncoder: string | null;
}

export async function calibrate(dir: string, o: CalibrateOptions): Promise<CalibrationRun> {
  const manifest = readManifest(dir);
  const selfCached = manifest.sites.some((s) => s.cached && s.kind === 'self');
  const version = o.version ?? (selfCached ? 2 : 1);
  const unet = await GatedUNet.load(dir, { variants: version === 2 ? ['planning', 'reuse-self', 'fidelity'] : ['planning', 'fidelity'] });
  const models = await openTextModels(dir, manifest, o.textModel ?? null, unet.roles.text[0] ?? 'encoder_hidden_states');
  try {
    const schedulerConfig = schedulerConfigOf(dir, manifest, o.textModel ?? null);
    const { base, prompts } = await baseRequest(unet, models, schedulerConfig, o);
    const { baseline, runs } = await sweep(unet, base, version, o);
    const adherence = (x: Float32Array) => adherenceOf(models, prompts, x, o.samples);
    const points = await pointsOf(runs, baseline, o.steps, adherence);
    const calibration: Calibration = {
      version,
      steps: o.steps,
      samples: o.samples,
      tolerance: o.tolerance,
      crossChange: baseline.attentionChange.filter((c) => c.cross !== null).map((c) => ({ k: c.k, change: c.cross! })),
      points,
      baselineAdherence: await adherence(baseline.latents),
      recommended: points.find((p) => p.deviation <= o.tolerance)?.gateStep ?? null,
      textEncoder: models.textEncoder,
      schedulerConfig,
    };
    return { calibration, ownEncoder: models.prompter !== null, scored: models.oracle !== null };
  } finally {
    await unet.release();
    await models.text?.release();
    await models.prompter?.release();
    await models.oracle?.release();
  }
}

async function openTextModels(dir: string, manifest: Manifest, textDir: string | null, textInput: string): Promise<TextModels> {
  const labels = textDir ? readLabels(textDir) : null;
  const own = textDir && manifest.pipeline ? readPipelineFolder(dir) : null;
  const prompter = own ? await PromptEncoder.load(own, textInput) : null;
  const text = textDir && !own ? await TextEncoder.load(textDir) : null;
  const oracle = textDir && ShapeClassifier.in(textDir) ? await ShapeClassifier.load(textDir) : null;
  const textEncoder = own ? own.models.textEncoder : text ? path.join(textDir!, 'text_encoder', 'model.onnx') : null;
  return { labels, prompter, vaeScaleFactor: own?.vaeScaleFactor ?? 1, text, oracle, textEncoder };
}

/** With the demo model's labels: real prompts (one per sample, cycling); else none (seeded stand-ins). */
function promptsFor(labels: Labels | null, samples: number): string[] {
  if (!labels) return [];
  return Array.from({ length: samples }, (_, i) =>
    promptOf(labels, {
      color: labels.colors[i % labels.colors.length]!,
      shape: labels.shapes[i % labels.shapes.length]!,
      position: labels.positions[i % labels.positions.length]!,
    }),
  );
}

/** Calibrated with the scheduler generation uses: a compiled pipeline's own, else the text model folder's (the demo model's), else DDIM with the SD config. */
function schedulerConfigOf(dir: string, manifest: Manifest, textDir: string | null): string | null {
  return manifest.pipeline ? pipelineSchedulerConfig(dir) : textDir ? pipelineSchedulerConfig(textDir) : null;
}

/** Every generation's request but the gate step: seeded latents, the prompts' conditioning (or seeded stand-ins), the scheduler. */
async function baseRequest(
  unet: GatedUNet,
  models: TextModels,
  schedulerConfig: string | null,
  o: CalibrateOptions,
): Promise<{ base: Omit<GenerateOptions, 'gateStep'>; prompts: string[] }> {
  const { manifest, roles: r } = unet;
  const B = o.samples;
  const channels = typeof r.latent.shape[1] === 'number' ? r.latent.shape[1] : 4;
  const given = { 2: o.latentHeight, 3: o.latentWidth };
  const side = (i: 2 | 3) => given[i] ?? (typeof r.latent.shape[i] === 'number' ? (r.latent.shape[i] as number) : 32);
  const latents = seededNormal([B, channels, side(2), side(3)], o.seed, `--samples ${B}: the latents`);
  const prompts = promptsFor(models.labels, B);
  const encoded = await encodePrompts(models, prompts, r.text, side(2), side(3));
  const cond: Record<string, TensorInput> = {};
  const uncond: Record<string, TensorInput> = {};
  for (const [i, n] of [...r.text, ...r.conditioning].entries()) {
    const spec = manifest.source.inputs.find((x) => x.name === n)!;
    if (encoded.cond[n] && encoded.uncond[n]) {
      cond[n] = encoded.cond[n];
      uncond[n] = encoded.uncond[n];
    } else {
      cond[n] = seededNormal(concreteShape(spec, B), o.seed + 100 + i);
      uncond[n] = seededNormal(concreteShape(spec, B), o.seed + 200 + i);
    }
  }
  const base: Omit<GenerateOptions, 'gateStep'> = { latents, cond, uncond, steps: o.steps, guidance: manifest.schedule.guidance };
  if (schedulerConfig) {
    const config = readDiffusersJson(schedulerConfig);
    base.scheduler = () => schedulerFromConfig(config, { steps: o.steps, source: schedulerConfig, generator: new TorchGenerator(o.seed) });
  }
  return { base, prompts };
}

/** The prompts' cond and uncond inputs, one prompt per sample stacked on the batch axis (empty without prompts). */
async function encodePrompts(models: TextModels, prompts: string[], textInputs: string[], height: number, width: number) {
  const encoded: { cond: Record<string, TensorInput>; uncond: Record<string, TensorInput> } = { cond: {}, uncond: {} };
  const { prompter, text } = models;
  if (prompter) {
    const parts = [];
    const f = models.vaeScaleFactor;
    for (const p of prompts) parts.push(await prompter.encode(p, undefined, 1, height * f, width * f));
    for (const key of Object.keys(parts[0]!.cond)) {
      encoded.cond[key] = stackRows(parts.map((c) => c.cond[key]!));
      encoded.uncond[key] = stackRows(parts.map((c) => c.uncond[key]!));
    }
  } else if (text) {
    const parts = [];
    for (const p of prompts) parts.push(await text.encode(p));
    // One prompt per run, as the pipeline encodes them (the same numbers as a compiled pipeline's own encoder).
    const empty = await text.encode('');
    for (const n of textInputs) {
      encoded.cond[n] = stackRows(parts);
      encoded.uncond[n] = stackRows(prompts.map(() => empty));
    }
  }
  return encoded;
}

/** Tensors of one prompt each ([1, ...] or [n, ...]) stacked on the batch axis. */
function stackRows(parts: TensorInput[]): TensorInput {
  const data = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return { data, dims: [parts.reduce((a, p) => a + p.dims[0]!, 0), ...parts[0]!.dims.slice(1)] };
}

/** A warm-up, the baseline (recording the attention outputs' change), then TGATE at every gate step 1 .. steps-1. */
async function sweep(unet: GatedUNet, base: Omit<GenerateOptions, 'gateStep'>, version: 1 | 2, o: CalibrateOptions) {
  await unet.generate({ ...base, steps: 2, scheduler: 'ddim', gateStep: 1, tgate: { version } });
  o.onProgress?.({ kind: 'start', total: o.steps - 1, version, samples: o.samples });
  o.onProgress?.({ kind: 'run', done: 0, label: 'baseline' });
  const baseline = await unet.generate({ ...base, gateStep: Number.POSITIVE_INFINITY, tgate: { version: 1 }, recordAttention: true });
  const runs: GenerateResult[] = [];
  for (let G = 1; G < o.steps; G++) {
    o.onProgress?.({ kind: 'run', done: G - 1, label: `gate step ${G}` });
    runs.push(await unet.generate({ ...base, gateStep: G, tgate: { version } }));
  }
  o.onProgress?.({ kind: 'end' });
  return { baseline, runs };
}

/** Each gate step's deviation and predicted speed-up, its steps costed at the median time of their variant and batch. */
async function pointsOf(
  runs: GenerateResult[],
  baseline: GenerateResult,
  steps: number,
  adherence: (x: Float32Array) => Promise<number | null>,
): Promise<CalibrationPoint[]> {
  const stepMs = median(baseline.records.map((x) => x.modelMs));
  const costs = new Map<string, number[]>();
  for (const res of runs) for (const x of res.records) costs.set(`${x.variant}@${x.batch}`, [...(costs.get(`${x.variant}@${x.batch}`) ?? []), x.modelMs]);
  const cost = new Map([...costs].map(([k, xs]) => [k, median(xs)]));
  const points: CalibrationPoint[] = [];
  for (const res of runs) {
    const predicted = res.records.reduce((a, x) => a + (cost.get(`${x.variant}@${x.batch}`) ?? x.modelMs), 0);
    points.push({
      gateStep: res.schedule.gateStep,
      deviation: relativeL2(res.latents, baseline.latents),
      predictedSpeedup: (steps * stepMs) / predicted,
      adherence: await adherence(res.latents),
    });
  }
  return points;
}

/** With an oracle: the share of samples it reads back as their prompt. */
async function adherenceOf(models: TextModels, prompts: string[], x: Float32Array, samples: number): Promise<number | null> {
  const { oracle, labels } = models;
  if (!oracle || !labels) return null;
  const got = await oracle.classify(x, samples);
  return (
    got.filter((g, i) => {
      const want = labelsOf(labels, prompts[i]!);
      return want && g.color === want.color && g.shape === want.shape && g.position === want.position;
    }).length / samples
  );
}
