// tgate calibrate: measures the gate step instead of guessing it. Runs the baseline on seeded
// inputs (recording how much the cross-attention outputs still change per step), then TGATE at
// every candidate gate step on the same inputs, and reports for each the predicted speed-up (from
// the measured per-step times) and the deviation of the final result from the baseline (relative
// L2; with the demo model's oracle, prompt adherence too). Recommends the earliest gate step whose
// deviation stays within --tolerance and records it in the folder's tgate.json as the default gate
// step (--dry-run only reports). A model file is compiled into a temporary folder first (and
// nothing is recorded: compile it to keep the result).
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { MANIFEST_NAME } from '../build/manifest.js';
import { TgateError } from '../base/errors.js';
import { readManifest, serializeManifest } from '../build/manifest.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import { replaceFile } from '../base/output/atomic-file.js';
import { withTemporaryFolder } from '../base/output/temp-folder.js';
import { GatedUNet, type GenerateOptions, type TensorInput } from '../runtime/gated-unet.js';
import { PromptEncoder } from '../runtime/pipeline/text-conditioning.js';
import { pipelineSchedulerConfig } from '../runtime/compiled-folder.js';
import { compiledLatentFactor } from '../runtime/pipeline/latent-factor.js';
import { readPipelineFolder } from '../runtime/pipeline/pipeline-folder.js';
import { readDiffusersJson, schedulerFromConfig } from '../runtime/schedulers/index.js';
import { TorchGenerator } from '../runtime/torch-random.js';
import { labelsOf, promptOf, readLabels, ShapeClassifier, TextEncoder } from '../runtime/text-model.js';
import { usageError, type ParsedArgs } from './args.js';
import type { Values } from './run-command.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { table } from './format.js';
import { progressBar, status } from './reporter.js';
import { median } from './stats.js';
import { checkOutputFile } from './output-check.js';
import { concreteShape, seededNormal } from './tensor-args.js';

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
  /** With --text-model: the text encoder the prompts went through (the folder's own, for a compiled pipeline). */
  textEncoder: string | null;
  /** The scheduler_config.json sampled with (null: DDIM with the Stable Diffusion config). */
  schedulerConfig: string | null;
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

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

export async function runCalibrate(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  if (positionals.length !== 1) throw usageError('tgate calibrate takes one compiled folder or model: tgate calibrate <dir | model.onnx>.');
  let target = positionals[0]!;
  if (!fs.existsSync(target)) throw new TgateError('E_FILE_MISSING', `${target} does not exist.`, { subject: { file: target } });
  // A source pipeline folder is calibrated on its denoiser, compiled alone into a temporary folder.
  const denoiser = denoiserModelOf(target);
  if (denoiser) target = denoiser;
  else if (fs.statSync(target).isDirectory()) return calibrateFolder(target, values, io, true);
  // tgate-calibrate-<pid>-<random>: removed afterwards, when anything fails, and on SIGINT/SIGTERM.
  return withTemporaryFolder('calibrate', async (temporary) => {
    const dir = path.join(temporary, 'compiled');
    status(`tgate: compiling ${target} into a temporary folder (compile it yourself to keep the calibration) ...`, io.stderr);
    await compile(target, { outDir: dir, prover: null });
    return calibrateFolder(dir, values, io, false);
  });
}

async function calibrateFolder(dir: string, values: Values, io: CommandIo, writable: boolean): Promise<CommandOutput> {
  const num = (k: keyof typeof values, ok: (n: number) => boolean, what: string) => {
    const n = Number(values[k]);
    if (!ok(n)) throw usageError(`--${k} must be ${what}, not "${values[k]}".`);
    return n;
  };
  const steps = num('steps', (n) => Number.isInteger(n) && n >= 2, 'a whole number >= 2');
  const samples = num('samples', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  const seed = num('seed', Number.isInteger, 'a whole number');
  const tolerance = num('tolerance', (n) => n > 0, 'a positive number');
  const manifest = readManifest(dir);
  // The result goes into the folder's tgate.json: a folder tgate cannot write is refused now,
  // not after the whole sweep (cli/output-check.ts).
  if (writable && !values['dry-run']) checkOutputFile(path.join(dir, MANIFEST_NAME), 'calibrate (writing the recommended gate step)');
  const selfCached = manifest.sites.some((s) => s.cached && s.kind === 'self');
  const version = (values['tgate-version'] === undefined ? (selfCached ? 2 : 1) : num('tgate-version', (n) => n === 1 || n === 2, '1 or 2')) as 1 | 2;
  const unet = await GatedUNet.load(dir, { variants: version === 2 ? ['planning', 'reuse-self', 'fidelity'] : ['planning', 'fidelity'] });
  // --text-model DIR (the demo model's pipeline folder): real prompts from its labels
  // (classifier/labels.json), scored by its oracle (classifier/model.onnx). The prompts go through
  // the calibrated folder's own tokenizer and text encoder when it is a compiled pipeline, else
  // through DIR's (tokenizer/, text_encoder/model.onnx).
  const textDir = values['text-model'] ? String(values['text-model']) : null;
  const labels = textDir ? readLabels(textDir) : null;
  const own = textDir && manifest.pipeline ? readPipelineFolder(dir) : null;
  const prompter = own ? await PromptEncoder.load(own, unet.roles.text[0] ?? 'encoder_hidden_states') : null;
  const text = textDir && !own ? await TextEncoder.load(textDir) : null;
  const oracle = textDir && ShapeClassifier.in(textDir) ? await ShapeClassifier.load(textDir) : null;
  const textEncoder = own ? own.models.textEncoder : text ? path.join(textDir!, 'text_encoder', 'model.onnx') : null;
  try {
    const r = unet.roles;
    const B = samples;
    const channels = typeof r.latent.shape[1] === 'number' ? r.latent.shape[1] : 4;
    // The latent's sides: --height/--width (image pixels) over the model's latent factor, else the
    // model's fixed size, else 32 (256 px for SD's VAE).
    const lf = compiledLatentFactor(dir, manifest);
    const px = (k: 'height' | 'width') =>
      values[k] === undefined
        ? null
        : num(
            k,
            (n) => Number.isInteger(n) && n > 0 && n % lf.factor === 0,
            `a positive multiple of ${lf.factor} (image pixels; the latent factor is ${lf.why})`,
          ) / lf.factor;
    const given = { 2: px('height'), 3: px('width') };
    const side = (i: 2 | 3) => given[i] ?? (typeof r.latent.shape[i] === 'number' ? (r.latent.shape[i] as number) : 32);
    const latents = seededNormal([B, channels, side(2), side(3)], seed, `--samples ${B}: the latents`);
    // With the demo model's labels: real prompts (one per sample, cycling); else seeded stand-ins.
    const prompts = labels
      ? Array.from({ length: B }, (_, i) =>
          promptOf(labels, {
            color: labels.colors[i % labels.colors.length]!,
            shape: labels.shapes[i % labels.shapes.length]!,
            position: labels.positions[i % labels.positions.length]!,
          }),
        )
      : [];
    const encoded: { cond: Record<string, TensorInput>; uncond: Record<string, TensorInput> } = { cond: {}, uncond: {} };
    if (prompter && own) {
      const parts = [];
      for (const p of prompts) parts.push(await prompter.encode(p, undefined, 1, side(2) * own.vaeScaleFactor, side(3) * own.vaeScaleFactor));
      for (const key of Object.keys(parts[0]!.cond)) {
        encoded.cond[key] = stackRows(parts.map((c) => c.cond[key]!));
        encoded.uncond[key] = stackRows(parts.map((c) => c.uncond[key]!));
      }
    } else if (text) {
      const parts = [];
      for (const p of prompts) parts.push(await text.encode(p));
      // One prompt per run, as the pipeline encodes them (the same numbers as a compiled pipeline's own encoder).
      const empty = await text.encode('');
      for (const n of r.text) {
        encoded.cond[n] = stackRows(parts);
        encoded.uncond[n] = stackRows(prompts.map(() => empty));
      }
    }
    const cond: Record<string, TensorInput> = {};
    const uncond: Record<string, TensorInput> = {};
    for (const [i, n] of [...r.text, ...r.conditioning].entries()) {
      const spec = manifest.source.inputs.find((x) => x.name === n)!;
      if (encoded.cond[n] && encoded.uncond[n]) {
        cond[n] = encoded.cond[n];
        uncond[n] = encoded.uncond[n];
      } else {
        cond[n] = seededNormal(concreteShape(spec, B), seed + 100 + i);
        uncond[n] = seededNormal(concreteShape(spec, B), seed + 200 + i);
      }
    }
    const guidance = manifest.schedule.guidance;
    const base: Omit<GenerateOptions, 'gateStep'> = { latents, cond, uncond, steps, guidance };
    // Calibrated with the scheduler generation uses: a compiled pipeline's own, else that of the
    // --text-model pipeline folder (the demo model's), else DDIM with the SD config.
    const schedulerConfig = manifest.pipeline ? pipelineSchedulerConfig(dir) : textDir ? pipelineSchedulerConfig(textDir) : null;
    if (schedulerConfig) {
      const config = readDiffusersJson(schedulerConfig);
      base.scheduler = () => schedulerFromConfig(config, { steps, source: schedulerConfig, generator: new TorchGenerator(seed) });
    }
    const adherence = async (x: Float32Array) => {
      if (!oracle || !labels) return null;
      const got = await oracle.classify(x, B);
      return (
        got.filter((g, i) => {
          const want = labelsOf(labels, prompts[i]!);
          return want && g.color === want.color && g.shape === want.shape && g.position === want.position;
        }).length / B
      );
    };
    await unet.generate({ ...base, steps: 2, scheduler: 'ddim', gateStep: 1, tgate: { version } });
    const bar = progressBar(`tgate: calibrating ${path.basename(dir)} (TGATE v${version}, ${B} samples): baseline, then gate step`, steps - 1, io.stderr);
    bar.tick(0, 'baseline');
    const baseline = await unet.generate({ ...base, gateStep: Number.POSITIVE_INFINITY, tgate: { version: 1 }, recordAttention: true });
    const stepMs = median(baseline.records.map((x) => x.modelMs));
    const points: CalibrationPoint[] = [];
    const costs = new Map<string, number[]>();
    const runs = [];
    for (let G = 1; G < steps; G++) {
      bar.tick(G - 1, `gate step ${G}`);
      const res = await unet.generate({ ...base, gateStep: G, tgate: { version } });
      for (const x of res.records) costs.set(`${x.variant}@${x.batch}`, [...(costs.get(`${x.variant}@${x.batch}`) ?? []), x.modelMs]);
      runs.push(res);
    }
    bar.end();
    const cost = new Map([...costs].map(([k, xs]) => [k, median(xs)]));
    for (const res of runs) {
      const G = res.schedule.gateStep;
      const predicted = res.records.reduce((a, x) => a + (cost.get(`${x.variant}@${x.batch}`) ?? x.modelMs), 0);
      points.push({
        gateStep: G,
        deviation: relL2(res.latents, baseline.latents),
        predictedSpeedup: (steps * stepMs) / predicted,
        adherence: await adherence(res.latents),
      });
    }
    const recommended = points.find((p) => p.deviation <= tolerance)?.gateStep ?? null;
    const calibration: Calibration = {
      version,
      steps,
      samples: B,
      tolerance,
      crossChange: baseline.attentionChange.filter((c) => c.cross !== null).map((c) => ({ k: c.k, change: c.cross! })),
      points,
      baselineAdherence: await adherence(baseline.latents),
      recommended,
      textEncoder,
      schedulerConfig,
    };
    const write = writable && !values['dry-run'] && recommended !== null;
    if (write) {
      const file = path.join(dir, MANIFEST_NAME);
      const m = readManifest(dir);
      const updated = { ...m, schedule: { ...m.schedule, gateStep: recommended }, calibration: { tolerance, steps, samples: B, version, recommended } };
      replaceFile(file, serializeManifest(updated));
    }
    if (values.json) return { stdout: JSON.stringify(calibration, null, 2) };
    const change = new Map(calibration.crossChange.map((c) => [c.k, c.change]));
    return {
      stdout: [
        `calibrate ${dir}: TGATE v${version}, ${steps} steps, ${B} seeded sample(s)${textEncoder ? ` with prompts through ${own ? 'its own tokenizer and text encoder' : `the text encoder of ${textDir}`}` : ''}, tolerance ${tolerance} (relative L2 of the final latents)`,
        '',
        table(
          ['gate step', 'cross-attn change at step', 'predicted speed-up', 'deviation from baseline', ...(oracle ? ['prompt adherence'] : [])],
          points.map((p) => [
            p.gateStep === recommended ? `${p.gateStep} <- recommended` : p.gateStep,
            change.has(p.gateStep) ? change.get(p.gateStep)!.toFixed(4) : '-',
            `${p.predictedSpeedup.toFixed(2)}x`,
            p.deviation.toFixed(4),
            ...(oracle ? [p.adherence === null ? '-' : `${(p.adherence * 100).toFixed(0)} %`] : []),
          ]),
        ),
        '',
        recommended === null
          ? `No gate step keeps the deviation within ${tolerance}.`
          : `Recommended gate step: ${recommended}${write ? ` (written to ${path.join(dir, MANIFEST_NAME)} as the default)` : writable ? ' (--dry-run: not recorded)' : ' (not recorded: compile the model and calibrate the folder to keep it)'}.${calibration.baselineAdherence !== null ? ` Baseline prompt adherence: ${(calibration.baselineAdherence * 100).toFixed(0)} %.` : ''}`,
      ].join('\n'),
    };
  } finally {
    await unet.release();
    await text?.release();
    await prompter?.release();
    await oracle?.release();
  }
}
