// tgate bench: the baseline against TGATE v1 and v2 in one process, alternating runs, on a
// compiled folder (or a model compiled into a temporary folder first). Reports median wall times,
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
import { table } from './format.js';
import { note, status } from './reporter.js';
import { median } from './stats.js';
import { generationFrom, numberOption, sessionOptions, variantsForArgs, type Values } from './run-command.js';

/** What a step costs: the variant that ran, at which batch (the gate step apart: it fetches caches). */
const stepKey = (x: StepRecord) => `${x.variant}${x.phase === 'gate' ? ' (gate)' : ''} @${x.batch}`;

type Mode = 'baseline' | 'v1' | 'v2';

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
    await compile(target, { outDir: dir, prover: v['no-verify'] ? null : (r) => proveArtifacts(r) });
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

/** The run options of one bench mode. */
function modeValues(v: Values, mode: Mode): Values {
  if (mode === 'baseline') return { ...v, baseline: true };
  return { ...v, baseline: false, 'tgate-version': mode === 'v1' ? '1' : '2' };
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
  ];
  return keys.flatMap((k) => (v[k] === undefined ? [] : [`--${k}`, String(v[k])]));
}

interface ModeFigures {
  seconds: number;
  speedup: number;
  /** The baseline's steps over this schedule's, each at its measured median cost (msPerStep). */
  boundSpeedup: number;
  ofBound: number;
  overhead: number;
  peakRssMiB: number | null;
  runsSeconds: number[];
  /** Steps per variant, e.g. {"planning @2": 9, "reuse-self @2": 5, ...}. */
  steps: Record<string, number>;
  /** The speed-up the schedule's MACs allow (conv+linear, and with attention products). */
  macBound?: { linear: number; all: number } | null;
}

export async function benchCommand(target: string, v: Values, stderr: NodeJS.WriteStream): Promise<string> {
  const runs = numberOption(v, 'runs', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  const { dir, cleanup } = await compiledFolder(target, v, stderr);
  try {
    const session = sessionOptions(v);
    const manifest = readManifest(dir);
    const selfCached = manifest.sites.some((s) => s.cached && s.kind === 'self');
    const asked = v['tgate-version'] === undefined ? null : String(v['tgate-version']);
    if (asked !== null && asked !== '1' && asked !== '2') throw new TgateError('E_USAGE', `--tgate-version must be 1 or 2, not "${asked}".`);
    const modes: Mode[] = ['baseline', ...(asked ? [`v${asked}` as Mode] : selfCached ? (['v1', 'v2'] as Mode[]) : (['v1'] as Mode[]))];
    const tgateModes = modes.filter((m) => m !== 'baseline');
    const variants = [...new Set(modes.flatMap((m) => variantsForArgs(dir, modeValues(v, m))))];
    const loadStart = performance.now();
    const unet = await GatedUNet.load(dir, { ...session, variants });
    const loadMs = performance.now() - loadStart;
    const options = Object.fromEntries(modes.map((m) => [m, generationFrom(unet, modeValues(v, m))])) as Record<Mode, ReturnType<typeof generationFrom>>;
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
    const S = options.baseline.options.steps;
    const seconds = (m: Mode) => median(results[m].map((r) => r.totalMs)) / 1000;
    const baseS = seconds('baseline');
    // Median model time per step kind, over every run of every mode.
    const byKey = new Map<string, number[]>();
    for (const m of modes) for (const r of results[m]) for (const x of r.records) byKey.set(stepKey(x), [...(byKey.get(stepKey(x)) ?? []), x.modelMs]);
    const msPerStep = Object.fromEntries([...byKey].map(([k, xs]) => [k, median(xs)]));
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
    const schedule = results[tgateModes[tgateModes.length - 1]!][0]!.schedule;
    const base = options.baseline.options;
    // The bound the MACs allow at exactly these sizes and this schedule (conv+linear and all).
    const shapes: Record<string, number[]> = { [unet.roles.latent.name]: base.latents.dims };
    for (const n of [...unet.roles.text, ...unet.roles.conditioning]) if (base.cond[n]) shapes[n] = base.cond[n]!.dims;
    const macs = inspectCompiled(dir, { shapes, steps: S, gateStep: schedule.gateStep, schedule }).cost.schedule;
    for (const m of tgateModes) {
      const r = m === 'v1' ? macs?.v1 : macs?.v2;
      figures[m]!.macBound = r ? { linear: r.boundLinear, all: r.boundAll } : null;
    }
    const report = {
      model: target,
      steps: S,
      gateStep: schedule.gateStep,
      schedule: { spInterval: schedule.spInterval, fiInterval: schedule.fiInterval, warmUp: schedule.warmUp },
      guidance: base.guidance,
      scheduler: options.baseline.scheduler,
      latents: base.latents.dims,
      runs,
      session,
      variantsOpened: unet.opened,
      loadSeconds: loadMs / 1000,
      firstStepSeconds: firstStepMs / 1000,
      msPerStep,
      modes: figures,
    };
    if (v.json) return JSON.stringify(report, null, 2);
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    const f = modes.map((m) => figures[m]!);
    const row = (label: string, get: (x: ModeFigures, m: Mode) => string) => [label, ...f.map((x, i) => get(x, modes[i]!))];
    return [
      `bench ${target}: ${S} steps, gate step ${schedule.gateStep}${selfCached ? `, v2 sp_interval ${schedule.spInterval} fi_interval ${schedule.fiInterval} warm_up ${schedule.warmUp}` : ''}, guidance ${base.guidance}, ${options.baseline.scheduler}, latents [${base.latents.dims.join(', ')}], median of ${runs} alternating runs`,
      '',
      table(
        ['', ...modes],
        [
          row('wall time (s)', (x) => x.seconds.toFixed(3)),
          row('speed-up', (x, m) => (m === 'baseline' ? '1' : `${x.speedup.toFixed(3)}x`)),
          row('speed-up the schedule allows', (x, m) => (m === 'baseline' ? '-' : `${x.boundSpeedup.toFixed(3)}x (${pct(x.ofBound)} reached)`)),
          row('bound from MACs (conv+linear / all)', (x, m) =>
            m === 'baseline' || !x.macBound ? '-' : `${x.macBound.linear.toFixed(3)}x / ${x.macBound.all.toFixed(3)}x`,
          ),
          row('runtime overhead (of model time)', (x) => pct(x.overhead)),
          row('peak RSS (MiB)', (x) => x.peakRssMiB?.toFixed(0) ?? '-'),
        ],
      ),
      '',
      `ms per step: ${Object.entries(msPerStep)
        .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
        .join(', ')}`,
      `sessions (${unet.opened.join(', ')}) opened in ${report.loadSeconds.toFixed(2)} s; first step ${report.firstStepSeconds.toFixed(2)} s`,
    ].join('\n');
  } finally {
    cleanup();
  }
}
