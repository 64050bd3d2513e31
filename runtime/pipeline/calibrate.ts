// Calibration measures the gate step instead of guessing it. Runs the baseline on seeded inputs
// (recording how much the cross-attention outputs still change per step), then TGATE at every
// candidate gate step on the same inputs, and gives for each the predicted speed-up (from the
// measured per-step model times) and the deviation of the final result from the baseline
// (relative L2; with the demo model's oracle, prompt adherence too). Recommends the earliest gate
// step whose deviation stays within the tolerance. With DeepCache intervals N > 1 (SPEC.md §5)
// it also runs every (gate step, N) pair, "no gate" (DeepCache alone) included, and recommends
// the fastest plan within the tolerance. Returns data only: recording it in tgate.json
// is build/manifest.ts's writeCalibration, rendering it the CLI's. In the pipeline layer: prompts
// go through a compiled pipeline's own text encoder (text-conditioning.ts).
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { checkDeepCache, deepCachePlanString, type DeepCacheOptions } from '../../build/deepcache-steps.js';
import { readManifest, type Manifest } from '../../build/manifest.js';
import type { VariantName } from '../../build/variants.js';
import { pipelineSchedulerConfig, variantsFor } from '../compiled-folder.js';
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
  /** The gate step; null: no gate (DeepCache alone, run as the baseline's gate >= steps). */
  gateStep: number | null;
  /** DeepCache's uniform interval N (1: DeepCache off, TGATE alone). */
  deepcache: number;
  /** The steps as run: F the whole UNet, s the shallow network on the cached deep feature; | where the batch drops after the gate. */
  plan: string;
  /** Relative L2 of the final latents against the baseline's, over all samples. */
  deviation: number;
  /** Baseline time over this plan's, from the measured per-step model times. */
  predictedSpeedup: number;
  /** With an oracle: share of samples read back as their prompt. */
  adherence: number | null;
}

/** A plan the calibration recommends: a gate step (null: none) and a DeepCache interval (1: off). */
export interface CalibratedPlan {
  gateStep: number | null;
  deepcache: number;
}

export interface Calibration {
  version: 1 | 2;
  steps: number;
  samples: number;
  tolerance: number;
  /** Mean relative change of the cross-attention outputs per baseline step (k >= 1). */
  crossChange: { k: number; change: number }[];
  /** Every plan run: TGATE alone at gate steps 1 .. steps-1 (deepcache 1) first, then each interval N > 1 at those gate steps and without a gate. */
  points: CalibrationPoint[];
  baselineAdherence: number | null;
  /** The earliest gate step of TGATE alone within the tolerance: the default gate step calibrate records. */
  recommended: number | null;
  /** The DeepCache intervals swept (1 always: TGATE alone), and the branch their cut is. */
  deepcacheIntervals: number[];
  deepcacheBranch: number | null;
  /** Why DeepCache was not swept (the folder has no cut), else null. */
  deepcacheMissing: string | null;
  /** Of every point within the tolerance, the fastest by predicted speed-up (ties: the lower deviation). */
  recommendedPlan: CalibratedPlan | null;
  /** With a text model: the text encoder the prompts went through (the folder's own, for a compiled pipeline). */
  textEncoder: string | null;
  /** The scheduler_config.json sampled with (null: DDIM with the Stable Diffusion config). */
  schedulerConfig: string | null;
}

/** Where a calibration is: `start` once the sweep begins (after a warm-up), then each run of it. */
export type CalibrationProgress =
  | { kind: 'start'; total: number; version: 1 | 2; samples: number; deepcacheIntervals: number[] }
  | { kind: 'run'; done: number; label: string }
  | { kind: 'end' };

/**
 * The intervals swept when none are given and the folder has a DeepCache cut: off, the official
 * loaders' N (T-GATE's TgateSDDeepCacheLoader, DeepCache's README) and the paper's other setting.
 */
export const DEFAULT_DEEPCACHE_INTERVALS: readonly number[] = [1, 3, 5];

export interface CalibrateOptions {
  steps: number;
  samples: number;
  seed: number;
  /** The largest deviation (relative L2 of the final latents) a recommended gate step may have. */
  tolerance: number;
  /** Default: 2 when the folder cached self-attention sites, else 1. */
  version?: 1 | 2;
  /**
   * DeepCache's uniform intervals to sweep (1 is always swept: the default gate step comes from
   * TGATE alone). Default: DEFAULT_DEEPCACHE_INTERVALS when the folder has a DeepCache cut, else [1].
   */
  deepcacheIntervals?: number[];
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

type BaseRequest = Omit<GenerateOptions, 'gateStep'>;

export async function calibrate(dir: string, o: CalibrateOptions): Promise<CalibrationRun> {
  const manifest = readManifest(dir);
  const selfCached = manifest.sites.some((s) => s.cached && s.kind === 'self');
  const version = o.version ?? (selfCached ? 2 : 1);
  const dc = deepcacheSweep(manifest, o.deepcacheIntervals);
  let unet: GatedUNet | null = await GatedUNet.load(dir, { variants: version === 2 ? ['planning', 'reuse-self', 'fidelity'] : ['planning', 'fidelity'] });
  let models: TextModels | null = null;
  try {
    models = await openTextModels(dir, manifest, o.textModel ?? null, unet.roles.text[0] ?? 'encoder_hidden_states');
    const text = models;
    const schedulerConfig = schedulerConfigOf(dir, manifest, o.textModel ?? null);
    const { base, prompts } = await baseRequest(unet, text, schedulerConfig, o);
    const total = o.steps - 1 + (dc.intervals.length - 1) * o.steps;
    const { baseline, runs } = await sweep(unet, base, version, o, dc.intervals, total);
    const adherence = (x: Float32Array) => adherenceOf(text, prompts, x, o.samples);
    const points = await pointsOf(runs, baseline, median(baseline.records.map((x) => x.modelMs)), o.steps, adherence);
    // DeepCache's plans run on the gated model that holds their variants (run --deepcache opens
    // the same one): TGATE's session is released first, so only one UNet is ever open.
    const deep = dc.intervals.filter((n) => n > 1);
    if (deep.length > 0 && dc.branch !== null) {
      await unet.release();
      unet = null;
      const plans = deep.flatMap((n) => gateSteps(o.steps).map((G) => ({ gateStep: G, tgate: { version, deepcache: uniform(n, dc.branch!) } })));
      const variants = new Set<VariantName>();
      for (const p of plans) for (const v of variantsFor(manifest, o.steps, p.gateStep, p.tgate)) variants.add(v);
      unet = await GatedUNet.load(dir, { variants: [...variants] });
      const dcRuns = await sweepDeepCache(unet, base, plans, o, o.steps - 1, total);
      // Every speed-up is a ratio within one session: this session's step times differ from
      // TGATE's (another graph, another arena), so the baseline here is estimated from this
      // session's own full planning steps at the baseline's batch (steps x their median), not
      // taken from TGATE's session; fastestWithin then ranks comparable numbers.
      points.push(...(await pointsOf(dcRuns, baseline, planningStepMs(dcRuns, baseline), o.steps, adherence)));
    }
    o.onProgress?.({ kind: 'end' });
    const calibration: Calibration = {
      version,
      steps: o.steps,
      samples: o.samples,
      tolerance: o.tolerance,
      crossChange: baseline.attentionChange.filter((c) => c.cross !== null).map((c) => ({ k: c.k, change: c.cross! })),
      points,
      baselineAdherence: await adherence(baseline.latents),
      recommended: points.find((p) => p.deepcache === 1 && p.deviation <= o.tolerance)?.gateStep ?? null,
      deepcacheIntervals: dc.intervals,
      deepcacheBranch: dc.branch,
      deepcacheMissing: dc.missing,
      recommendedPlan: fastestWithin(points, o.tolerance),
      textEncoder: text.textEncoder,
      schedulerConfig,
    };
    return { calibration, ownEncoder: text.prompter !== null, scored: text.oracle !== null };
  } finally {
    await unet?.release();
    await models?.text?.release();
    await models?.prompter?.release();
    await models?.oracle?.release();
  }
}

/** Of the points within the tolerance, the fastest by predicted speed-up; ties go to the lower deviation, then to the earlier point. */
export function fastestWithin(points: CalibrationPoint[], tolerance: number): CalibratedPlan | null {
  let best: CalibrationPoint | null = null;
  for (const p of points) {
    if (!(p.deviation <= tolerance)) continue;
    if (!best || p.predictedSpeedup > best.predictedSpeedup || (p.predictedSpeedup === best.predictedSpeedup && p.deviation < best.deviation)) best = p;
  }
  return best ? { gateStep: best.gateStep, deepcache: best.deepcache } : null;
}

const uniform = (interval: number, branch: number): DeepCacheOptions => ({ interval, branch, schedule: 'uniform' });

/** Gate steps 1 .. steps-1, then none (Infinity: the baseline's convention, gate >= steps). */
const gateSteps = (steps: number): number[] => [...Array.from({ length: steps - 1 }, (_, i) => i + 1), Number.POSITIVE_INFINITY];

/** The DeepCache intervals to sweep: 1 always; the others only where the folder has a cut (asked for without one: refused). */
function deepcacheSweep(m: Manifest, asked: number[] | undefined): { intervals: number[]; branch: number | null; missing: string | null } {
  const compiled = m.deepcache;
  const cut = compiled && 'site' in compiled ? compiled : null;
  const missing = cut
    ? null
    : compiled && 'missing' in compiled
      ? `no DeepCache cut was found (${compiled.missing.code}: ${compiled.missing.reason.replace(/\.$/, '')})`
      : 'it was compiled with --no-deepcache';
  for (const n of asked ?? []) checkDeepCache(uniform(n, cut?.branch ?? 0));
  const intervals = [...new Set([1, ...(asked ?? (cut ? DEFAULT_DEEPCACHE_INTERVALS : [1]))])].sort((a, b) => a - b);
  if (!cut && intervals.length > 1)
    throw new TgateError(
      'E_USAGE',
      `DeepCache intervals ${intervals.filter((n) => n > 1).join(', ')} cannot be calibrated: this folder has no DeepCache variants: ${missing}.`,
      {
        hint: compiled ? 'DeepCache needs a UNet with skip connections (SD-1.x/2.x, SD-XL); calibrate TGATE alone.' : 'Recompile without --no-deepcache.',
      },
    );
  return { intervals, branch: cut?.branch ?? null, missing };
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
): Promise<{ base: BaseRequest; prompts: string[] }> {
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
  const base: BaseRequest = { latents, cond, uncond, steps: o.steps, guidance: manifest.schedule.guidance };
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
async function sweep(unet: GatedUNet, base: BaseRequest, version: 1 | 2, o: CalibrateOptions, deepcacheIntervals: number[], total: number) {
  await unet.generate({ ...base, steps: 2, scheduler: 'ddim', gateStep: 1, tgate: { version } });
  o.onProgress?.({ kind: 'start', total, version, samples: o.samples, deepcacheIntervals });
  o.onProgress?.({ kind: 'run', done: 0, label: 'baseline' });
  const baseline = await unet.generate({ ...base, gateStep: Number.POSITIVE_INFINITY, tgate: { version: 1 }, recordAttention: true });
  const runs: GenerateResult[] = [];
  for (let G = 1; G < o.steps; G++) {
    o.onProgress?.({ kind: 'run', done: G - 1, label: `gate step ${G}` });
    runs.push(await unet.generate({ ...base, gateStep: G, tgate: { version } }));
  }
  return { baseline, runs };
}

/** A warm-up of every variant the plans run (6 steps, gate 4, N 3: full and shallow at both batches), then each plan. */
async function sweepDeepCache(
  unet: GatedUNet,
  base: BaseRequest,
  plans: { gateStep: number; tgate: { version: 1 | 2; deepcache: DeepCacheOptions } }[],
  o: CalibrateOptions,
  done: number,
  total: number,
): Promise<GenerateResult[]> {
  const first = plans[0]!.tgate;
  await unet.generate({ ...base, steps: 6, scheduler: 'ddim', gateStep: 4, tgate: { ...first, deepcache: { ...first.deepcache, interval: 3 } } });
  const runs: GenerateResult[] = [];
  for (const [i, p] of plans.entries()) {
    const N = p.tgate.deepcache.interval;
    o.onProgress?.({
      kind: 'run',
      done: Math.min(done + i, total),
      label: Number.isFinite(p.gateStep) ? `gate step ${p.gateStep}, DeepCache N ${N}` : `DeepCache N ${N} alone`,
    });
    runs.push(await unet.generate({ ...base, ...p }));
  }
  return runs;
}

/** The median full planning step at the baseline's batch (2B with CFG) over the runs given: the baseline's step as one session times it. */
function planningStepMs(runs: GenerateResult[], baseline: GenerateResult): number {
  const batch = baseline.records[0]!.batch;
  const xs = runs.flatMap((r) => r.records.filter((x) => x.variant === 'planning' && x.phase === 'planning' && x.batch === batch && x.deep !== 'reuse'));
  if (xs.length === 0)
    throw new TgateError('E_INTERNAL', `The DeepCache sweep ran no full planning step at batch ${batch}: it has no baseline step time of its own.`);
  return median(xs.map((x) => x.modelMs));
}

/**
 * Each run's deviation and predicted speed-up, its steps costed at the median time of their variant
 * and batch over the runs given (one session's), against `stepMs`, the baseline's step in that same session.
 */
async function pointsOf(
  runs: GenerateResult[],
  baseline: GenerateResult,
  stepMs: number,
  steps: number,
  adherence: (x: Float32Array) => Promise<number | null>,
): Promise<CalibrationPoint[]> {
  const costs = new Map<string, number[]>();
  for (const res of runs) for (const x of res.records) costs.set(`${x.variant}@${x.batch}`, [...(costs.get(`${x.variant}@${x.batch}`) ?? []), x.modelMs]);
  const cost = new Map([...costs].map(([k, xs]) => [k, median(xs)]));
  const points: CalibrationPoint[] = [];
  for (const res of runs) {
    const predicted = res.records.reduce((a, x) => a + (cost.get(`${x.variant}@${x.batch}`) ?? x.modelMs), 0);
    const G = res.schedule.gateStep;
    points.push({
      gateStep: G < steps ? G : null,
      deepcache: res.schedule.deepcache?.interval ?? 1,
      plan: planString(res),
      deviation: relativeL2(res.latents, baseline.latents),
      predictedSpeedup: (steps * stepMs) / predicted,
      adherence: await adherence(res.latents),
    });
  }
  return points;
}

/** F a full step, s a shallow one (deepCachePlanString), | after the gate step (where the batch drops from 2B to B), as SPEC.md §5 writes plans. */
function planString(res: GenerateResult): string {
  const plan = deepCachePlanString(res.records.map((x) => x.deep !== 'reuse'));
  const gate = res.records.findIndex((x) => x.phase === 'gate');
  return gate >= 0 && gate < res.records.length - 1 ? `${plan.slice(0, gate + 1)}|${plan.slice(gate + 1)}` : plan;
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
