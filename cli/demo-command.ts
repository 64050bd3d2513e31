// tgate demo: the whole product on the model that ships with the repository (fixtures/models/shapes,
// a tiny text-to-image model trained on coloured shapes, laid out as a diffusers pipeline folder).
// Compiles the pipeline folder as `tgate compile` does, loads it as a GatedPipeline and draws a
// handful of prompts through the real text-to-image path (tokenizer -> text encoder -> gated UNet
// with the folder's scheduler) with the baseline and TGATE v1 and v2, and writes a labelled PNG
// grid, the convergence plot the method rests on, and a report: wall time and speed-up, prompt
// adherence read back by the classifier that ships beside the model (classifier/), and the mean
// pixel difference to the baseline.
import fs from 'node:fs';
import path from 'node:path';
import { stageOutput, type Staging } from '../build/artifacts.js';
import { compile } from '../build/compile.js';
import { TgateError } from '../base/errors.js';
import type { TgateOptions } from '../runtime/gated-unet.js';
import { GatedPipeline, type PipelineGenerateOptions } from '../runtime/pipeline/gated-pipeline.js';
import type { RgbImage } from '../runtime/pipeline/image.js';
import { loadTokenizer } from '../runtime/tokenizer/index.js';
import { labelsOf, promptOf, readLabels, ShapeClassifier, type Labels, type PromptLabels } from '../runtime/text-model.js';
import { usageError, type ParsedArgs } from './args.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { convergenceSvg, demoHtml, demoMarkdown, demoText, HEADINGS, MODES, type DemoReport, type Mode, type ModeResult } from './demo-format.js';
import { DEMO_COMPILED, demoOutputOptions, replacesEarlierDemo } from './demo-output.js';
import { gridPng, meanPixelDifference } from './image-grid.js';
import { progressBar, status } from './reporter.js';

export { DEMO_MODEL } from './demo-model.js';

export const DEMO_PROMPTS = [
  'a red circle on the left',
  'a blue square at the top',
  'a green triangle in the center',
  'a yellow circle at the bottom',
  'a purple square on the right',
];

/** The demo's options, checked: counts, the model's pipeline folder, the prompts, where to write. */
interface DemoArgs {
  samples: number;
  steps: number;
  seed: number;
  /** undefined: the compiled schedule's gate step. */
  gateStep: number | undefined;
  modelDir: string;
  prompts: string[];
  out: string;
}

function demoArgs(values: ParsedArgs['values']): DemoArgs {
  const whole = (k: string, min: number) => {
    const n = Number(values[k as keyof typeof values]);
    if (!Number.isInteger(n) || n < min) throw usageError(`--${k} must be a whole number >= ${min}, not "${values[k as keyof typeof values]}".`);
    return n;
  };
  const samples = whole('samples', 1);
  const steps = whole('steps', 1);
  const seed = whole('seed', 0);
  const gateStep = values['gate-step'] !== undefined ? whole('gate-step', 1) : undefined;
  const modelDir = path.resolve(String(values.model));
  checkModelFolder(modelDir);
  const prompts = values.prompt !== undefined ? [String(values.prompt)] : DEMO_PROMPTS;
  return { samples, steps, seed, gateStep, modelDir, prompts, out: path.resolve(String(values.output)) };
}

function checkModelFolder(modelDir: string): void {
  for (const f of ['model_index.json', 'unet/model.onnx']) {
    if (!fs.existsSync(path.join(modelDir, f))) {
      throw new TgateError('E_FILE_MISSING', `${modelDir} has no ${f}: not the demo model's pipeline folder.`, {
        subject: { file: path.join(modelDir, f) },
        hint: 'The demo model ships in fixtures/models/shapes (a diffusers pipeline folder: model_index.json, unet/, text_encoder/, tokenizer/, scheduler/, and the oracle in classifier/); fixtures/export/shapes_model.py trains it.',
      });
    }
  }
}

/** Unknown words are refused by the pipeline's own tokenizer before anything is written. */
function checkPrompts(modelDir: string, labels: Labels, prompts: string[]): void {
  const tokenizer = loadTokenizer(path.join(modelDir, 'tokenizer'));
  for (const p of prompts) {
    try {
      tokenizer.encode(p);
    } catch (e) {
      if (!(e instanceof TgateError) || e.code !== 'E_USAGE') throw e;
      const example = promptOf(labels, { color: labels.colors[0]!, shape: labels.shapes[0]!, position: labels.positions[0]! });
      throw new TgateError('E_USAGE', e.message, { subject: e.subject, hint: `${e.hint ?? ''} Prompts read like "${example}".`.trim(), cause: e });
    }
  }
}

/** Compiles the pipeline folder into the stage and opens it and the classifier; the stage is discarded on failure. */
async function openDemo(a: DemoArgs, stage: Staging, compiled: string, io: CommandIo): Promise<{ pipe: GatedPipeline; oracle: ShapeClassifier }> {
  try {
    status(`tgate: compiling the pipeline ${a.modelDir} into ${compiled} ...`, io.stderr);
    await compile(a.modelDir, { outDir: path.join(stage.dir, DEMO_COMPILED), prover: null });
    const pipe = await GatedPipeline.load(path.join(stage.dir, DEMO_COMPILED), { variants: ['planning', 'reuse-self', 'fidelity'] });
    const oracle = await ShapeClassifier.load(a.modelDir);
    return { pipe, oracle };
  } catch (e) {
    stage.discard();
    throw e;
  }
}

/** What the draws of every prompt in every mode produced, per mode in prompt order. */
interface Draws {
  latents: Record<Mode, Float32Array[]>;
  firstImages: Record<Mode, RgbImage[]>;
  seconds: Record<Mode, number>;
  denoiseSeconds: Record<Mode, number>;
  /** The classifier's reading of each sample. */
  found: Record<Mode, PromptLabels[][]>;
  convergence: DemoReport['convergence'];
  scheduler: string;
}

/** The request of prompt k in each mode. */
interface DrawPlan {
  prompts: string[];
  samples: number;
  request: (k: number) => PipelineGenerateOptions;
  mode: Record<Mode, Partial<PipelineGenerateOptions>>;
}

async function drawModes(pipe: GatedPipeline, oracle: ShapeClassifier, plan: DrawPlan, io: CommandIo): Promise<Draws> {
  const { prompts, samples, request, mode } = plan;
  const latents: Record<Mode, Float32Array[]> = { baseline: [], v1: [], v2: [] };
  const firstImages: Record<Mode, RgbImage[]> = { baseline: [], v1: [], v2: [] };
  const seconds: Record<Mode, number> = { baseline: 0, v1: 0, v2: 0 };
  const denoiseSeconds: Record<Mode, number> = { baseline: 0, v1: 0, v2: 0 };
  const found: Record<Mode, PromptLabels[][]> = { baseline: [], v1: [], v2: [] };
  // Warm-up, not timed (first calls allocate arenas): a baseline run of the first prompt that
  // records the attention convergence for the plot, then a TGATE v2 run (the one session holds
  // every variant, so this also warms v1's).
  status('tgate: demo: warm-up (not timed) ...', io.stderr);
  const recorded = await pipe.generate({ ...request(0), ...mode.baseline, recordAttention: true });
  const convergence = recorded.attentionChange;
  await pipe.generate({ ...request(0), ...mode.v2 });
  for (const w of recorded.warnings)
    io.stderr.write(`tgate: warning: "${w.prompt}" has ${w.tokens} tokens; the text encoder reads ${w.maxLength}, so it was truncated.\n`);
  let scheduler = recorded.scheduler;
  const bar = progressBar('tgate: demo', prompts.length * MODES.length, io.stderr);
  for (const [k, p] of prompts.entries()) {
    for (const m of MODES) {
      const r = await pipe.generate({ ...request(k), ...mode[m] });
      seconds[m] += r.timings.totalMs / 1000;
      denoiseSeconds[m] += r.timings.denoise.totalMs / 1000;
      latents[m].push(r.latents.data);
      firstImages[m].push(r.images[0]!);
      found[m].push(await oracle.classify(r.latents.data, samples));
      scheduler = r.scheduler;
      bar.tick(k * MODES.length + MODES.indexOf(m) + 1, `${p}: ${m} ${(r.timings.totalMs / 1000).toFixed(2)} s`);
    }
  }
  bar.end();
  return { latents, firstImages, seconds, denoiseSeconds, found, convergence, scheduler };
}

function adherenceOf(found: PromptLabels[], want: PromptLabels): { all: number; color: number; shape: number; position: number } {
  const n = found.length;
  const hit = (f: (x: PromptLabels) => boolean) => found.filter(f).length / n;
  return {
    all: hit((x) => x.color === want.color && x.shape === want.shape && x.position === want.position),
    color: hit((x) => x.color === want.color),
    shape: hit((x) => x.shape === want.shape),
    position: hit((x) => x.position === want.position),
  };
}

/** Per mode: the summed times, prompt adherence over the prompts the labels can read, and the mean pixel difference to the baseline. */
function scoreModes(d: Draws, prompts: string[], labels: Labels, samples: number): Record<Mode, ModeResult> {
  const modes = {} as Record<Mode, ModeResult>;
  for (const m of MODES) {
    const checks = prompts.map((p, k) => ({ want: labelsOf(labels, p), got: d.found[m][k]! })).filter((x) => x.want);
    const scores = checks.map((c) => adherenceOf(c.got, c.want!));
    const mean = (key: keyof ReturnType<typeof adherenceOf>) => scores.reduce((a, s) => a + s[key], 0) / scores.length;
    const diffs = prompts.map((_, k) => meanPixelDifference(d.latents[m][k]!, d.latents.baseline[k]!));
    modes[m] = {
      seconds: d.seconds[m],
      denoiseSeconds: d.denoiseSeconds[m],
      adherence: scores.length
        ? { all: mean('all'), color: mean('color'), shape: mean('shape'), position: mean('position'), samples: scores.length * samples }
        : null,
      pixelDifference: diffs.reduce((a, x) => a + x, 0) / diffs.length,
    };
  }
  return modes;
}

/** Writes the grid, the plot and both reports into the stage. */
function writeDemoFiles(stage: Staging, report: DemoReport, d: Draws): void {
  const gridBytes = gridPng(
    report.prompts.map((_, k) => MODES.map((m) => d.firstImages[m][k]!)),
    { columns: MODES.map((m) => HEADINGS[m]), rows: report.prompts },
  );
  stage.write('grid.png', gridBytes);
  const svg = convergenceSvg(report.convergence, report.gateStep);
  stage.write('convergence.svg', svg);
  stage.write('report.md', demoMarkdown(report));
  stage.write('report.html', demoHtml(report, gridBytes, svg));
}

export async function runDemo(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const a = demoArgs(args.values);
  const labels = readLabels(a.modelDir);
  checkPrompts(a.modelDir, labels, a.prompts);
  // Drawn into a staging folder beside -o and moved into place once done (demo-output.ts: -o must
  // be new, empty, or an earlier demo output, which this run replaces).
  const { out, prompts, samples } = a;
  const replacing = replacesEarlierDemo(out);
  const stage = stageOutput(out, demoOutputOptions(a.modelDir));
  if (replacing) io.stderr.write(`tgate: ${out} holds an earlier demo output; it is replaced when this run completes.\n`);
  const compiled = path.join(out, DEMO_COMPILED);
  let drawn = false;
  const { pipe, oracle } = await openDemo(a, stage, compiled, io);
  try {
    const G = a.gateStep ?? pipe.unet.manifest.schedule.gateStep;
    const guidance = pipe.unet.manifest.schedule.guidance;
    const size = labels.image_size;
    const mode: Record<Mode, Partial<PipelineGenerateOptions>> = {
      baseline: { baseline: true },
      v1: { gateStep: G, tgate: { version: 1 } satisfies TgateOptions },
      v2: { gateStep: G, tgate: { version: 2 } satisfies TgateOptions },
    };
    const seeds = prompts.map((_, k) => a.seed * 1000 + k);
    const request = (k: number): PipelineGenerateOptions => ({
      prompt: prompts[k]!,
      seed: seeds[k]!,
      numImages: samples,
      steps: a.steps,
      guidance,
      height: size,
      width: size,
    });
    const draws = await drawModes(pipe, oracle, { prompts, samples, request, mode }, io);
    const report: DemoReport = {
      model: a.modelDir,
      compiled,
      prompts,
      samplesPerPrompt: samples,
      seeds,
      steps: a.steps,
      scheduler: draws.scheduler,
      gateStep: G,
      guidance,
      modes: scoreModes(draws, prompts, labels, samples),
      convergence: draws.convergence,
      files: {
        grid: path.join(out, 'grid.png'),
        convergence: path.join(out, 'convergence.svg'),
        markdown: path.join(out, 'report.md'),
        html: path.join(out, 'report.html'),
      },
    };
    writeDemoFiles(stage, report, draws);
    drawn = true;
    return { stdout: args.values.json ? JSON.stringify(report, null, 2) : demoText(report) };
  } finally {
    await pipe.release();
    await oracle.release();
    try {
      if (drawn) stage.commit();
    } finally {
      stage.discard();
    }
  }
}
