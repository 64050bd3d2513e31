// tgate calibrate: measures the gate step instead of guessing it. Runs the baseline on seeded
// inputs (recording how much the cross-attention outputs still change per step), then TGATE at
// every candidate gate step on the same inputs, and reports for each the predicted speed-up (from
// the measured per-step times) and the deviation of the final result from the baseline (relative
// L2; with the demo model's oracle, prompt adherence too). Recommends the earliest gate step whose
// deviation stays within --tolerance and records it in the folder's tgate.json as the default gate
// step (--dry-run only reports). Where the folder has a DeepCache cut it also sweeps DeepCache
// intervals (--deepcache-intervals, default 1,3,5) crossed with the gate steps, and recommends the
// fastest plan within --tolerance, printed as the command that runs it. A model file is compiled
// into a temporary folder first (and nothing is recorded: compile it to keep the result). The
// measuring is runtime/pipeline/calibrate.ts, the recording build/manifest.ts's writeCalibration;
// here, the options and the report.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { MANIFEST_NAME, readManifest, writeCalibration } from '../build/manifest.js';
import { TgateError } from '../base/errors.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import { withTemporaryFolder } from '../base/output/temp-folder.js';
import { calibrate, type CalibratedPlan, type CalibrationProgress, type CalibrationRun } from '../runtime/pipeline/calibrate.js';
import { MAX_STEPS } from '../build/step-count.js';
import { compiledLatentFactor } from '../runtime/pipeline/latent-factor.js';
import { usageError, type ParsedArgs } from './args.js';
import type { Values } from './run-command.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { table } from './format.js';
import { progressBar, status } from './reporter.js';
import { checkOutputFile } from './output-check.js';

export type { Calibration, CalibrationPoint, CalibratedPlan } from '../runtime/pipeline/calibrate.js';

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

/** The options checked, in the order they always were, before anything is loaded. */
function calibrateOptions(dir: string, values: Values, writable: boolean) {
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
  const version = values['tgate-version'] === undefined ? undefined : (num('tgate-version', (n) => n === 1 || n === 2, '1 or 2') as 1 | 2);
  // The latent's sides: --height/--width (image pixels) over the model's latent factor; unset,
  // the model's fixed size, else 32 (256 px for SD's VAE).
  const lf = compiledLatentFactor(dir, manifest);
  const px = (k: 'height' | 'width') =>
    values[k] === undefined
      ? undefined
      : num(
          k,
          (n) => Number.isInteger(n) && n > 0 && n % lf.factor === 0,
          `a positive multiple of ${lf.factor} (image pixels; the latent factor is ${lf.why})`,
        ) / lf.factor;
  const latentHeight = px('height');
  const latentWidth = px('width');
  const textModel = values['text-model'] ? String(values['text-model']) : undefined;
  const deepcacheIntervals = intervalsOption(values['deepcache-intervals']);
  return {
    steps,
    samples,
    seed,
    tolerance,
    ...(version !== undefined ? { version } : {}),
    ...(deepcacheIntervals !== undefined ? { deepcacheIntervals } : {}),
    ...(latentHeight !== undefined ? { latentHeight } : {}),
    ...(latentWidth !== undefined ? { latentWidth } : {}),
    ...(textModel !== undefined ? { textModel } : {}),
  };
}

/** --deepcache-intervals 1,3,5: DeepCache's uniform intervals to sweep (1 = off; always swept). Unset: the library's default. */
function intervalsOption(v: Values[string]): number[] | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  const parts = text.split(',').map((x) => x.trim());
  const ok = parts.every((x) => /^\d+$/.test(x) && Number(x) >= 1 && Number(x) <= MAX_STEPS);
  if (!ok) throw usageError(`--deepcache-intervals must be whole numbers from 1 to ${MAX_STEPS} separated by commas (1: DeepCache off), not "${text}".`);
  return parts.map(Number);
}

async function calibrateFolder(dir: string, values: Values, io: CommandIo, writable: boolean): Promise<CommandOutput> {
  const options = calibrateOptions(dir, values, writable);
  let bar: ReturnType<typeof progressBar> | null = null;
  const onProgress = (p: CalibrationProgress) => {
    if (p.kind === 'start')
      bar = progressBar(
        `tgate: calibrating ${path.basename(dir)} (TGATE v${p.version}, ${p.samples} samples): baseline, then ${p.deepcacheIntervals.length > 1 ? `(gate step, DeepCache N ${p.deepcacheIntervals.join(', ')})` : 'gate step'}`,
        p.total,
        io.stderr,
      );
    else if (p.kind === 'run') bar?.tick(p.done, p.label);
    else bar?.end();
  };
  const run = await calibrate(dir, { ...options, onProgress });
  const c = run.calibration;
  // Recorded as the folder's default gate step (build/manifest.ts), unless only reporting.
  const write = writable && !values['dry-run'] && c.recommended !== null;
  // With DeepCache swept, its fastest plan goes under `calibration` only: run and bench take DeepCache from --deepcache.
  const deep = c.deepcacheIntervals.length > 1 ? { deepcacheIntervals: c.deepcacheIntervals, recommendedPlan: c.recommendedPlan } : {};
  if (write) writeCalibration(dir, { tolerance: c.tolerance, steps: c.steps, samples: c.samples, version: c.version, recommended: c.recommended!, ...deep });
  if (values.json) return { stdout: JSON.stringify(c, null, 2) };
  const recorded = write ? 'written' : writable ? 'dry-run' : 'temporary';
  if (c.deepcacheIntervals.length <= 1) return { stdout: renderCalibration(dir, run, options.textModel ?? null, recorded) };
  // The fastest plan's command runs it as calibrated: the same steps and, where given, the same size.
  const size = (['height', 'width'] as const).flatMap((k) => (values[k] === undefined ? [] : [`--${k}`, String(values[k])]));
  return { stdout: renderPlans(dir, run, options.textModel ?? null, recorded, size) };
}

/** The report: what was calibrated and how, a row per gate step, the recommendation and where it went. */
function renderCalibration(dir: string, run: CalibrationRun, textDir: string | null, recorded: Recorded): string {
  const c = run.calibration;
  const { recommended, tolerance } = c;
  const change = new Map(c.crossChange.map((x) => [x.k, x.change]));
  const through = c.textEncoder ? ` with prompts through ${run.ownEncoder ? 'its own tokenizer and text encoder' : `the text encoder of ${textDir}`}` : '';
  const where =
    recorded === 'written'
      ? ` (written to ${path.join(dir, MANIFEST_NAME)} as the default)`
      : recorded === 'dry-run'
        ? ' (--dry-run: not recorded)'
        : ' (not recorded: compile the model and calibrate the folder to keep it)';
  const adherence = c.baselineAdherence !== null ? ` Baseline prompt adherence: ${(c.baselineAdherence * 100).toFixed(0)} %.` : '';
  return [
    `calibrate ${dir}: TGATE v${c.version}, ${c.steps} steps, ${c.samples} seeded sample(s)${through}, tolerance ${tolerance} (relative L2 of the final latents)`,
    '',
    table(
      ['gate step', 'cross-attn change at step', 'predicted speed-up', 'deviation from baseline', ...(run.scored ? ['prompt adherence'] : [])],
      c.points.map((p) => [
        p.gateStep === recommended ? `${p.gateStep} <- recommended` : (p.gateStep ?? 'none'),
        p.gateStep !== null && change.has(p.gateStep) ? change.get(p.gateStep)!.toFixed(4) : '-',
        `${p.predictedSpeedup.toFixed(2)}x`,
        p.deviation.toFixed(4),
        ...(run.scored ? [p.adherence === null ? '-' : `${(p.adherence * 100).toFixed(0)} %`] : []),
      ]),
    ),
    '',
    recommended === null ? `No gate step keeps the deviation within ${tolerance}.` : `Recommended gate step: ${recommended}${where}.${adherence}`,
    ...(c.deepcacheMissing ? [`DeepCache not calibrated: ${c.deepcacheMissing}.`] : []),
  ].join('\n');
}

type Recorded = 'written' | 'dry-run' | 'temporary';

/** The report with DeepCache swept: a row per (gate step, interval) plan, the default gate step and the fastest plan with the command that runs it. */
function renderPlans(dir: string, run: CalibrationRun, textDir: string | null, recorded: Recorded, size: string[]): string {
  const c = run.calibration;
  const { recommended, recommendedPlan: fastest, tolerance } = c;
  const through = c.textEncoder ? ` with prompts through ${run.ownEncoder ? 'its own tokenizer and text encoder' : `the text encoder of ${textDir}`}` : '';
  const isFastest = (p: CalibratedPlan) => fastest !== null && p.gateStep === fastest.gateStep && p.deepcache === fastest.deepcache;
  // As the single-dimension table marks its row: the default gate step (TGATE alone), and the fastest plan.
  const marks = (p: CalibratedPlan) =>
    [p.deepcache === 1 && p.gateStep === recommended ? 'recommended' : null, isFastest(p) ? 'fastest' : null].filter((x) => x);
  const adherence = c.baselineAdherence !== null ? ` Baseline prompt adherence: ${(c.baselineAdherence * 100).toFixed(0)} %.` : '';
  const where =
    recorded === 'written'
      ? ` (written to ${path.join(dir, MANIFEST_NAME)} as the default for runs without --deepcache)`
      : recorded === 'dry-run'
        ? ' (--dry-run: not recorded)'
        : ' (not recorded: compile the model and calibrate the folder to keep it)';
  const planWhere = recorded === 'written' ? ` (recorded under calibration.recommendedPlan; run and bench take DeepCache only from --deepcache)` : '';
  const point = c.points.find((p) => fastest && isFastest(p));
  return [
    `calibrate ${dir}: TGATE v${c.version} and DeepCache N ${c.deepcacheIntervals.join(', ')} (branch ${c.deepcacheBranch}, uniform), ${c.steps} steps, ${c.samples} seeded sample(s)${through}, tolerance ${tolerance} (relative L2 of the final latents)`,
    '',
    table(
      [
        'gate step',
        'DeepCache N',
        'predicted speed-up',
        'deviation from baseline',
        ...(run.scored ? ['prompt adherence'] : []),
        'plan (F full, s shallow, | gate)',
      ],
      c.points.map((p) => [
        `${p.gateStep ?? 'none'}${marks(p).length ? ` <- ${marks(p).join(', ')}` : ''}`,
        p.deepcache === 1 ? 'off' : p.deepcache,
        `${p.predictedSpeedup.toFixed(2)}x`,
        p.deviation.toFixed(4),
        ...(run.scored ? [p.adherence === null ? '-' : `${(p.adherence * 100).toFixed(0)} %`] : []),
        p.plan,
      ]),
    ),
    '',
    recommended === null
      ? `No gate step of TGATE alone keeps the deviation within ${tolerance}.`
      : `Recommended gate step (TGATE alone): ${recommended}${where}.${adherence}`,
    fastest === null || !point
      ? `No plan keeps the deviation within ${tolerance}.`
      : `Fastest plan within ${tolerance}: ${planName(fastest)}, predicted ${point.predictedSpeedup.toFixed(2)}x, deviation ${point.deviation.toFixed(4)}${planWhere}:\n  ${runCommand(recorded === 'temporary' ? '<dir>' : dir, fastest, c.version, c.steps, size)}`,
  ].join('\n');
}

function planName(p: CalibratedPlan): string {
  if (p.deepcache === 1) return `TGATE alone, gate step ${p.gateStep}`;
  return p.gateStep === null ? `DeepCache N ${p.deepcache} alone` : `TGATE gate step ${p.gateStep} + DeepCache N ${p.deepcache}`;
}

/**
 * The run command of a plan (DeepCache alone: --baseline --deepcache N, as run reads it), with the
 * calibrated steps always (run's default differs) and the calibrated size when one was given.
 */
function runCommand(dir: string, p: CalibratedPlan, version: 1 | 2, steps: number, size: string[]): string {
  const gate = p.gateStep === null ? ['--baseline'] : ['--gate-step', String(p.gateStep), '--tgate-version', String(version)];
  return ['tgate run', dir, '--steps', String(steps), ...size, ...gate, ...(p.deepcache > 1 ? ['--deepcache', String(p.deepcache)] : [])].join(' ');
}
