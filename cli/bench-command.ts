// tgate bench: the baseline against TGATE v1 and v2 in one process, alternating runs, on a
// compiled folder (or a model compiled into a temporary folder first); with --deepcache N also
// DeepCache alone and TGATE + DeepCache (the official combination). Reports median wall times,
// each schedule's speed-up and the bound its steps allow at their measured cost, ms per step by
// variant and batch, the runtime's overhead, and the peak RSS of a fresh process per mode (each
// opening only the variants its schedule uses).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../build/compile.js';
import { TgateError } from '../base/errors.js';
import { inspectCompiled } from '../build/inspect.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import { temporaryFolder } from '../base/output/temp-folder.js';
import { GatedUNet, readManifest, type GenerateResult, type StepRecord } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { benchText, type BenchReport, type Mode, type ModeFigures } from './bench-format.js';
import { deepCachePlan } from './run-format.js';
import { note, status } from './reporter.js';
import { median } from './stats.js';
import { compiledDeepCacheBranch, deepCacheArgs, generationFrom, numberOption, sessionOptions, variantsForArgs, type Values } from './run-command.js';

/** What a step costs: the variant that ran, at which batch (the gate step apart: it fetches caches). */
const stepKey = (x: StepRecord) => `${x.variant}${x.phase === 'gate' ? ' (gate)' : ''} @${x.batch}`;

async function compiledFolder(target: string, v: Values, stderr: NodeJS.WriteStream): Promise<{ dir: string; cleanup: () => void }> {
  if (!fs.existsSync(target)) throw new TgateError('E_FILE_MISSING', `${target} does not exist.`, { subject: { file: target } });
  // A source pipeline folder is benchmarked on its denoiser, compiled alone.
  const denoiser = denoiserModelOf(target);
  if (denoiser) target = denoiser;
  else if (fs.statSync(target).isDirectory()) return { dir: target, cleanup: () => {} };
  // tgate-bench-<pid>-<random>: removed after the bench, when the compile fails, and on SIGINT/SIGTERM.
  const tmp = temporaryFolder('bench');
  try {
    const dir = path.join(tmp.dir, 'compiled');
    status(`tgate: compiling ${target} into ${dir} ...`, stderr);
    // The DeepCache branch asked for is the one compiled (the default 0 otherwise).
    const deepcacheBranch =
      v['deepcache-branch'] === undefined
        ? 0
        : numberOption(v, 'deepcache-branch', (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0 (0: the shallowest cut)');
    await compile(target, { outDir: dir, prover: v['no-verify'] ? null : (r) => proveArtifacts(r), deepcacheBranch });
    return { dir, cleanup: tmp.remove };
  } catch (e) {
    tmp.remove();
    throw e;
  }
}

/** Peak RSS (MiB) of a fresh process that opens the sessions and runs one generation. */
function memoryProbe(dir: string, mode: Mode, args: string[]): number {
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
  const r = spawnSync(process.execPath, [main, '__memory-probe', dir, '--mode', mode, ...args], { encoding: 'utf8' });
  const m = /peak-rss-kib=(\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new TgateError('E_INTERNAL', `The ${mode} memory probe failed: ${r.stderr}`);
  return Number(m[1]) / 1024;
}

const isDeepCache = (m: Mode) => m === 'deepcache' || m === 'tgate+deepcache';

/**
 * The run options of one bench mode. The TGATE modes run without DeepCache (--deepcache 1: off);
 * the DeepCache modes take --deepcache N, alone (TGATE off, as --baseline) or with the gate, and
 * leave v2's --sp-interval/--fi-interval/--warm-up to the v2 mode: the official combination
 * forces no self-attention reuse.
 */
function modeValues(v: Values, mode: Mode): Values {
  const noSelfOptions = { 'sp-interval': undefined, 'fi-interval': undefined, 'warm-up': undefined };
  if (mode === 'deepcache') return { ...v, ...noSelfOptions, baseline: true };
  if (mode === 'tgate+deepcache') return { ...v, ...noSelfOptions, baseline: false };
  const off = v.deepcache === undefined ? {} : { deepcache: '1' };
  if (mode === 'baseline') return { ...v, ...off, baseline: true };
  return { ...v, ...off, baseline: false, 'tgate-version': mode === 'v1' ? '1' : '2' };
}

export async function memoryProbeCommand(dir: string, v: Values): Promise<string> {
  const mode = String(v.mode) as Mode;
  const values = modeValues(v, mode);
  const unet = await GatedUNet.load(dir, { ...sessionOptions(v), variants: variantsForArgs(dir, values) });
  const { options } = generationFrom(unet, values);
  await unet.generate(options);
  await unet.release();
  return `peak-rss-kib=${process.resourceUsage().maxRSS}`;
}

/** Options a memory probe must share with the benchmark. */
function forwardedArgs(v: Values): string[] {
  const keys = [
    'steps',
    'gate-step',
    'guidance',
    'scheduler',
    'scheduler-config',
    'height',
    'width',
    'batch',
    'seed',
    'threads',
    'optimization',
    'prepacking',
    'arena',
    'mem-pattern',
    'sessions',
    'sp-interval',
    'fi-interval',
    'warm-up',
    'deepcache',
    'deepcache-branch',
    'deepcache-schedule',
    'deepcache-center',
    'deepcache-pow',
  ];
  return keys.flatMap((k) => (v[k] === undefined ? [] : [`--${k}`, String(v[k])]));
}

/**
 * The modes to compare: the baseline and the asked TGATE version, else v1, and v2 when the model
 * caches self-attention; with --deepcache N (N > 1) also DeepCache alone and, with the uniform
 * schedule, TGATE + DeepCache.
 */
function benchModes(dir: string, v: Values): { modes: Mode[]; selfCached: boolean } {
  const manifest = readManifest(dir);
  const selfCached = manifest.sites.some((s) => s.cached && s.kind === 'self');
  const asked = v['tgate-version'] === undefined ? null : String(v['tgate-version']);
  if (asked !== null && asked !== '1' && asked !== '2') throw new TgateError('E_USAGE', `--tgate-version must be 1 or 2, not "${asked}".`);
  const modes: Mode[] = ['baseline', ...(asked ? [`v${asked}` as Mode] : selfCached ? (['v1', 'v2'] as Mode[]) : (['v1'] as Mode[]))];
  // Checked with v2's self-attention options left to v2 (modeValues), so they do not conflict here.
  const dc = deepCacheArgs({ ...v, 'sp-interval': undefined, 'fi-interval': undefined, 'warm-up': undefined }, compiledDeepCacheBranch(manifest));
  // TGATE + DeepCache is uniform only, as the official code (the library refuses a quadratic
  // schedule with a gate inside the run): a quadratic schedule is benched alone.
  if (dc) modes.push(...(dc.schedule === 'uniform' ? (['deepcache', 'tgate+deepcache'] as Mode[]) : (['deepcache'] as Mode[])));
  return { modes, selfCached };
}

type Request = ReturnType<typeof generationFrom>;

interface Measured {
  unet: GatedUNet;
  loadMs: number;
  firstStepMs: number;
  options: Record<Mode, Request>;
  results: Record<Mode, GenerateResult[]>;
}

/** Opens every variant the modes use, times the first step, warms up, then runs the modes alternately `runs` times. */
async function measure(
  dir: string,
  v: Values,
  session: ReturnType<typeof sessionOptions>,
  modes: Mode[],
  runs: number,
  stderr: NodeJS.WriteStream,
): Promise<Measured> {
  const variants = [...new Set(modes.flatMap((m) => variantsForArgs(dir, modeValues(v, m))))];
  const loadStart = performance.now();
  const unet = await GatedUNet.load(dir, { ...session, variants });
  const loadMs = performance.now() - loadStart;
  const options = Object.fromEntries(modes.map((m) => [m, generationFrom(unet, modeValues(v, m))])) as Record<Mode, Request>;
  for (const n of options.baseline.notes) note(n, stderr);
  const firstStart = performance.now();
  await unet.generate({ ...options.baseline.options, steps: 1, scheduler: 'ddim' });
  const firstStepMs = performance.now() - firstStart;
  // Warm-up (not timed): first calls allocate arenas and caches.
  for (const m of modes) await unet.generate(options[m].options);
  const results = Object.fromEntries(modes.map((m) => [m, [] as GenerateResult[]])) as Record<Mode, GenerateResult[]>;
  for (let i = 0; i < runs; i++) {
    for (const m of modes) results[m].push(await unet.generate(options[m].options));
    status(`tgate: run ${i + 1}/${runs}: ${modes.map((m) => `${m} ${(results[m][i]!.totalMs / 1000).toFixed(2)} s`).join(', ')}`, stderr);
  }
  await unet.release();
  return { unet, loadMs, firstStepMs, options, results };
}

/** Median model time per step kind, over every run of every mode. */
function stepCosts(results: Record<Mode, GenerateResult[]>, modes: Mode[]): Record<string, number> {
  const byKey = new Map<string, number[]>();
  for (const m of modes) for (const r of results[m]) for (const x of r.records) byKey.set(stepKey(x), [...(byKey.get(stepKey(x)) ?? []), x.modelMs]);
  return Object.fromEntries([...byKey].map(([k, xs]) => [k, median(xs)]));
}

/** Per mode: median time, speed-up against the bound its steps allow, runtime overhead, peak RSS (a fresh process each). */
function modeFigures(results: Record<Mode, GenerateResult[]>, modes: Mode[], msPerStep: Record<string, number>, dir: string, v: Values) {
  const seconds = (m: Mode) => median(results[m].map((r) => r.totalMs)) / 1000;
  const baseS = seconds('baseline');
  const predicted = (m: Mode) => results[m][0]!.records.reduce((a, x) => a + msPerStep[stepKey(x)]!, 0);
  const overhead = (rs: GenerateResult[]) =>
    median(
      rs.map((r) => {
        const model = r.records.reduce((a, x) => a + x.modelMs, 0);
        return (r.totalMs - model) / model;
      }),
    );
  const fwd = forwardedArgs(v);
  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const m of modes) {
    const steps: Record<string, number> = {};
    for (const x of results[m][0]!.records) steps[stepKey(x)] = (steps[stepKey(x)] ?? 0) + 1;
    const bound = predicted('baseline') / predicted(m);
    figures[m] = {
      seconds: seconds(m),
      speedup: baseS / seconds(m),
      boundSpeedup: bound,
      ofBound: baseS / seconds(m) / bound,
      overhead: overhead(results[m]),
      peakRssMiB: v['no-memory'] ? null : memoryProbe(dir, m, fwd),
      runsSeconds: results[m].map((r) => r.totalMs / 1000),
      steps,
    };
  }
  return figures;
}

/**
 * The bound the MACs allow at exactly these sizes and this schedule (conv+linear and all), into
 * each mode's figures: v1 and v2, and the DeepCache plans (alone and with the gate) among the
 * plans the cost report lists.
 */
function addMacBounds(figures: Partial<Record<Mode, ModeFigures>>, tgateModes: Mode[], dir: string, m: Measured, schedule: GenerateResult['schedule']): void {
  const base = m.options.baseline.options;
  const roles = m.unet.roles;
  const shapes: Record<string, number[]> = { [roles.latent.name]: base.latents.dims };
  for (const n of [...roles.text, ...roles.conditioning]) if (base.cond[n]) shapes[n] = base.cond[n]!.dims;
  const macs = inspectCompiled(dir, { shapes, steps: base.steps, gateStep: schedule.gateStep, schedule }).cost.schedule;
  const dc = schedule.deepcache;
  for (const t of tgateModes) {
    const r = isDeepCache(t)
      ? macs?.plans?.find(
          (p) =>
            dc &&
            p.deepcache?.interval === dc.interval &&
            p.deepcache.schedule === dc.schedule &&
            (p.deepcache.center ?? null) === (dc.center ?? null) &&
            (p.deepcache.pow ?? null) === (dc.pow ?? null) &&
            (p.gateStep === null) === (t === 'deepcache'),
        )
      : t === 'v1'
        ? macs?.v1
        : macs?.v2;
    figures[t]!.macBound = r ? { linear: r.boundLinear, all: r.boundAll } : null;
  }
}

export async function benchCommand(target: string, v: Values, stderr: NodeJS.WriteStream): Promise<string> {
  const runs = numberOption(v, 'runs', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  const { dir, cleanup } = await compiledFolder(target, v, stderr);
  try {
    const session = sessionOptions(v);
    const { modes, selfCached } = benchModes(dir, v);
    const tgateModes = modes.filter((m) => m !== 'baseline');
    const measured = await measure(dir, v, session, modes, runs, stderr);
    const { results, options } = measured;
    const msPerStep = stepCosts(results, modes);
    const figures = modeFigures(results, modes, msPerStep, dir, v);
    const tgateOnly = tgateModes.filter((m) => !isDeepCache(m));
    // v2's self-attention schedule (the last TGATE mode's), and DeepCache's plan where benched.
    const dcMode = modes.find(isDeepCache);
    const deep = dcMode ? results[dcMode][0]!.schedule.deepcache : null;
    const schedule = { ...results[tgateOnly[tgateOnly.length - 1]!][0]!.schedule, deepcache: deep ?? null };
    addMacBounds(figures, tgateModes, dir, measured, schedule);
    for (const m of modes.filter(isDeepCache)) figures[m]!.plan = deepCachePlan(results[m][0]!.records);
    const base = options.baseline.options;
    const report: BenchReport = {
      model: target,
      steps: base.steps,
      gateStep: schedule.gateStep,
      schedule: { spInterval: schedule.spInterval, fiInterval: schedule.fiInterval, warmUp: schedule.warmUp },
      deepcache: deep ?? null,
      guidance: base.guidance,
      scheduler: options.baseline.scheduler,
      latents: base.latents.dims,
      runs,
      session,
      variantsOpened: measured.unet.opened,
      loadSeconds: measured.loadMs / 1000,
      firstStepSeconds: measured.firstStepMs / 1000,
      msPerStep,
      modes: figures,
    };
    if (v.json) return JSON.stringify(report, null, 2);
    const uniformOnly =
      deep && deep.schedule !== 'uniform'
        ? ['', 'TGATE + DeepCache not benched: it is uniform-only, as the official code (a quadratic schedule runs alone).']
        : [];
    return [benchText(report, modes, selfCached), ...uniformOnly].join('\n');
  } finally {
    cleanup();
  }
}
