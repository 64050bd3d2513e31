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
import { stageOutput } from '../build/artifacts.js';
import { compile } from '../build/compile.js';
import { TgateError } from '../base/errors.js';
import type { GenerateResult, TgateOptions } from '../runtime/gated-unet.js';
import { GatedPipeline, type PipelineGenerateOptions } from '../runtime/pipeline/gated-pipeline.js';
import type { RgbImage } from '../runtime/pipeline/image.js';
import { loadTokenizer } from '../runtime/tokenizer/index.js';
import { labelsOf, promptOf, readLabels, ShapeClassifier, type PromptLabels } from '../runtime/text-model.js';
import { usageError, type ParsedArgs } from './args.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { DEMO_COMPILED, demoOutputOptions, replacesEarlierDemo } from './demo-output.js';
import { gridPng, meanPixelDifference } from './image-grid.js';
import { table } from './format.js';
import { progressBar, status } from './reporter.js';

export { DEMO_MODEL } from './demo-model.js';

export const DEMO_PROMPTS = [
  'a red circle on the left',
  'a blue square at the top',
  'a green triangle in the center',
  'a yellow circle at the bottom',
  'a purple square on the right',
];

type Mode = 'baseline' | 'v1' | 'v2';
const MODES: Mode[] = ['baseline', 'v1', 'v2'];
const HEADINGS: Record<Mode, string> = { baseline: 'baseline', v1: 'TGATE v1', v2: 'TGATE v2' };

export interface ModeResult {
  /** Wall time of the pipeline's generate calls (tokenize, text encoder, denoising, decode), all prompts. */
  seconds: number;
  /** Of which the denoising loop. */
  denoiseSeconds: number;
  /** Samples whose colour, shape and position the classifier reads as the prompt's. */
  adherence: { all: number; color: number; shape: number; position: number; samples: number } | null;
  /** Mean |image - baseline image| over all samples, in 0-255 pixel units. */
  pixelDifference: number;
}

export interface DemoReport {
  model: string;
  compiled: string;
  prompts: string[];
  samplesPerPrompt: number;
  /** The seed of prompt k's generate call (one generator per call, as diffusers'). */
  seeds: number[];
  steps: number;
  scheduler: string;
  gateStep: number;
  guidance: number;
  modes: Record<Mode, ModeResult>;
  convergence: GenerateResult['attentionChange'];
  files: { grid: string; convergence: string; markdown: string; html: string };
}

/** The convergence plot: mean relative change per step of cross- and self-attention outputs. */
export function convergenceSvg(points: GenerateResult['attentionChange'], gateStep: number): string {
  const w = 560;
  const h = 300;
  const [l, r, t, b] = [60, 20, 20, 40];
  const maxK = Math.max(1, ...points.map((p) => p.k));
  const maxY = Math.max(1e-9, ...points.flatMap((p) => [p.cross ?? 0, p.self ?? 0]));
  const X = (k: number) => l + ((k - 1) / Math.max(1, maxK - 1)) * (w - l - r);
  const Y = (v: number) => t + (1 - v / maxY) * (h - t - b);
  const line = (key: 'cross' | 'self') =>
    points
      .filter((p) => p[key] !== null)
      .map((p, i) => `${i ? 'L' : 'M'}${X(p.k).toFixed(1)},${Y(p[key]!).toFixed(1)}`)
      .join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${l - 6}" y="${(Y(f * maxY) + 4).toFixed(1)}" text-anchor="end">${(f * maxY).toFixed(2)}</text><line x1="${l}" x2="${w - r}" y1="${Y(f * maxY).toFixed(1)}" y2="${Y(f * maxY).toFixed(1)}" stroke="#eee"/>`,
    )
    .join('');
  const kt = Array.from({ length: maxK }, (_, i) => i + 1)
    .filter((k) => k === 1 || k % 5 === 0)
    .map((k) => `<text x="${X(k).toFixed(1)}" y="${h - b + 16}" text-anchor="middle">${k}</text>`)
    .join('');
  const gx =
    gateStep >= 1 && gateStep <= maxK
      ? `<line x1="${X(gateStep).toFixed(1)}" x2="${X(gateStep).toFixed(1)}" y1="${t}" y2="${h - b}" stroke="#999" stroke-dasharray="4 3"/><text x="${(X(gateStep) + 4).toFixed(1)}" y="${t + 12}">gate step ${gateStep}</text>`
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" id="convergence" width="${w}" height="${h}" font-family="system-ui,sans-serif" font-size="11" role="img" aria-label="Relative change of attention outputs between steps">
${ticks}${kt}${gx}
<path d="${line('cross')}" fill="none" stroke="#c2403a" stroke-width="2"/><path d="${line('self')}" fill="none" stroke="#3a78c2" stroke-width="2"/>
<text x="${w - r - 150}" y="${t + 12}" fill="#c2403a">cross-attention</text><text x="${w - r - 150}" y="${t + 26}" fill="#3a78c2">self-attention</text>
<text x="${(l + w - r) / 2}" y="${h - 6}" text-anchor="middle">step (baseline run)</text>
<text x="14" y="${(t + h - b) / 2}" transform="rotate(-90 14 ${(t + h - b) / 2})" text-anchor="middle">mean relative change</text>
</svg>
`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
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

export async function runDemo(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values } = args;
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
  for (const f of ['model_index.json', 'unet/model.onnx']) {
    if (!fs.existsSync(path.join(modelDir, f))) {
      throw new TgateError('E_FILE_MISSING', `${modelDir} has no ${f}: not the demo model's pipeline folder.`, {
        subject: { file: path.join(modelDir, f) },
        hint: 'The demo model ships in fixtures/models/shapes (a diffusers pipeline folder: model_index.json, unet/, text_encoder/, tokenizer/, scheduler/, and the oracle in classifier/); fixtures/export/shapes_model.py trains it.',
      });
    }
  }
  const labels = readLabels(modelDir);
  const prompts = values.prompt !== undefined ? [String(values.prompt)] : DEMO_PROMPTS;
  // Unknown words are refused by the pipeline's own tokenizer before anything is written.
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
  // Drawn into a staging folder beside -o and moved into place once done (demo-output.ts: -o must
  // be new, empty, or an earlier demo output, which this run replaces).
  const out = path.resolve(String(values.output));
  const replacing = replacesEarlierDemo(out);
  const stage = stageOutput(out, demoOutputOptions(modelDir));
  if (replacing) io.stderr.write(`tgate: ${out} holds an earlier demo output; it is replaced when this run completes.\n`);
  const compiled = path.join(out, DEMO_COMPILED);
  let drawn = false;
  let pipe: GatedPipeline;
  let oracle: ShapeClassifier;
  try {
    status(`tgate: compiling the pipeline ${modelDir} into ${compiled} ...`, io.stderr);
    await compile(modelDir, { outDir: path.join(stage.dir, DEMO_COMPILED), prover: null });
    pipe = await GatedPipeline.load(path.join(stage.dir, DEMO_COMPILED), { variants: ['planning', 'reuse-self', 'fidelity'] });
    oracle = await ShapeClassifier.load(modelDir);
  } catch (e) {
    stage.discard();
    throw e;
  }
  try {
    const G = gateStep ?? pipe.unet.manifest.schedule.gateStep;
    const guidance = pipe.unet.manifest.schedule.guidance;
    const size = labels.image_size;
    const mode: Record<Mode, Partial<PipelineGenerateOptions>> = {
      baseline: { baseline: true },
      v1: { gateStep: G, tgate: { version: 1 } satisfies TgateOptions },
      v2: { gateStep: G, tgate: { version: 2 } satisfies TgateOptions },
    };
    const seeds = prompts.map((_, k) => seed * 1000 + k);
    const request = (k: number): PipelineGenerateOptions => ({
      prompt: prompts[k]!,
      seed: seeds[k]!,
      numImages: samples,
      steps,
      guidance,
      height: size,
      width: size,
    });
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
    const modes = {} as Record<Mode, ModeResult>;
    for (const m of MODES) {
      const checks = prompts.map((p, k) => ({ want: labelsOf(labels, p), got: found[m][k]! })).filter((x) => x.want);
      const scores = checks.map((c) => adherenceOf(c.got, c.want!));
      const mean = (key: keyof ReturnType<typeof adherenceOf>) => scores.reduce((a, s) => a + s[key], 0) / scores.length;
      const diffs = prompts.map((_, k) => meanPixelDifference(latents[m][k]!, latents.baseline[k]!));
      modes[m] = {
        seconds: seconds[m],
        denoiseSeconds: denoiseSeconds[m],
        adherence: scores.length
          ? { all: mean('all'), color: mean('color'), shape: mean('shape'), position: mean('position'), samples: scores.length * samples }
          : null,
        pixelDifference: diffs.reduce((a, d) => a + d, 0) / diffs.length,
      };
    }
    const grid = path.join(out, 'grid.png');
    const gridBytes = gridPng(
      prompts.map((_, k) => MODES.map((m) => firstImages[m][k]!)),
      { columns: MODES.map((m) => HEADINGS[m]), rows: prompts },
    );
    stage.write('grid.png', gridBytes);
    const convergencePath = path.join(out, 'convergence.svg');
    const svg = convergenceSvg(convergence, G);
    stage.write('convergence.svg', svg);
    const report: DemoReport = {
      model: modelDir,
      compiled,
      prompts,
      samplesPerPrompt: samples,
      seeds,
      steps,
      scheduler,
      gateStep: G,
      guidance,
      modes,
      convergence,
      files: { grid, convergence: convergencePath, markdown: path.join(out, 'report.md'), html: path.join(out, 'report.html') },
    };
    const rows = MODES.map((m) => {
      const x = modes[m];
      return [
        m,
        x.seconds.toFixed(3),
        m === 'baseline' ? '1' : `${(modes.baseline.seconds / x.seconds).toFixed(2)}x`,
        x.adherence ? pct(x.adherence.all) : '-',
        m === 'baseline' ? '0' : x.pixelDifference.toFixed(2),
      ];
    });
    const headers = ['', 'wall time (s)', 'speed-up', 'prompt adherence', 'mean pixel diff to baseline'];
    const summary = `${prompts.length} prompt(s) x ${samples} seeded samples, ${steps} ${scheduler.toUpperCase()} steps, gate step ${G}, guidance ${guidance}`;
    const timing = "Wall time: the pipeline's generate calls (tokenizer, text encoder, denoising, decode), summed over the prompts, after an untimed warm-up.";
    stage.write(
      'report.md',
      [
        '## tgate demo',
        '',
        summary,
        '',
        `| ${headers.join(' | ')} |`,
        `|${headers.map(() => '---').join('|')}|`,
        ...rows.map((r) => `| ${r.join(' | ')} |`),
        '',
        timing,
        '',
        'Rows: the prompts; columns: baseline, TGATE v1, TGATE v2 (first sample of each).',
        '',
        '![grid](grid.png)',
        '',
        '![convergence](convergence.svg)',
        '',
        ...prompts.map((p, i) => `${i + 1}. ${p} (seed ${seeds[i]})`),
        '',
      ].join('\n'),
    );
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    stage.write(
      'report.html',
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tgate demo</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}</style></head><body>
<h1>tgate demo</h1><p>${esc(summary)}</p>
<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>
<p>${esc(timing)}</p>
<h2>Images</h2><p>Rows: ${prompts.map(esc).join('; ')}. Columns: baseline, TGATE v1, TGATE v2.</p>
<img alt="grid" src="data:image/png;base64,${Buffer.from(gridBytes).toString('base64')}">
<h2>Attention convergence</h2>${svg}
</body></html>
`,
    );
    drawn = true;
    if (values.json) return { stdout: JSON.stringify(report, null, 2) };
    return {
      stdout: [
        `tgate demo: ${summary}`,
        '',
        table(headers, rows),
        '',
        `wrote ${grid} (rows: prompts; columns: baseline, v1, v2), ${convergencePath}, ${report.files.markdown}, ${report.files.html}`,
      ].join('\n'),
    };
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
