// tgate bench: baseline against TGATE in one process, alternating runs, on a compiled folder (or
// a model compiled into a temporary folder first). Reports median wall times, the speed-up and
// the bound the schedule allows, per-variant ms per step, the runtime's overhead, and the peak
// RSS of a baseline process (one session) against a TGATE process (both sessions).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../compiler/compile.js';
import { TgateError } from '../compiler/errors.js';
import { GatedUNet, type GenerateResult } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { table } from './format.js';
import { generationFrom, numberOption, sessionOptions, type Values } from './run-command.js';

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

function phaseMs(r: GenerateResult, phase: string): number[] {
  return r.records.filter((x) => x.phase === phase).map((x) => x.modelMs);
}

async function compiledFolder(target: string, v: Values, stderr: NodeJS.WriteStream): Promise<{ dir: string; cleanup: () => void }> {
  if (!fs.existsSync(target)) throw new TgateError('E_FILE_MISSING', `${target} does not exist.`, { subject: { file: target } });
  if (fs.statSync(target).isDirectory()) return { dir: target, cleanup: () => {} };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-bench-'));
  const dir = path.join(tmp, 'compiled');
  stderr.write(`tgate: compiling ${target} into ${dir} ...\n`);
  await compile(target, { outDir: dir, prover: v['no-verify'] ? null : (r) => proveArtifacts(r) });
  return { dir, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** Peak RSS (MiB) of a fresh process that opens the sessions and runs one generation. */
function memoryProbe(dir: string, mode: 'baseline' | 'tgate', args: string[]): number {
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
  const r = spawnSync(process.execPath, [main, '__memory-probe', dir, '--mode', mode, ...args], { encoding: 'utf8' });
  const m = /peak-rss-kib=(\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new TgateError('E_INTERNAL', `The ${mode} memory probe failed: ${r.stderr}`);
  return Number(m[1]) / 1024;
}

export async function memoryProbeCommand(dir: string, v: Values): Promise<string> {
  const baseline = v.mode === 'baseline';
  const unet = await GatedUNet.load(dir, { ...sessionOptions(v), planningOnly: baseline });
  const { options } = generationFrom(unet, { ...v, baseline });
  await unet.generate(options);
  await unet.release();
  return `peak-rss-kib=${process.resourceUsage().maxRSS}`;
}

/** Options a memory probe must share with the benchmark. */
function forwardedArgs(v: Values): string[] {
  const keys = ['steps', 'gate-step', 'guidance', 'scheduler', 'height', 'width', 'batch', 'seed', 'threads', 'optimization', 'prepacking', 'arena', 'mem-pattern', 'sessions'];
  return keys.flatMap((k) => (v[k] === undefined ? [] : [`--${k}`, String(v[k])]));
}

export async function benchCommand(target: string, v: Values, stderr: NodeJS.WriteStream): Promise<string> {
  const runs = numberOption(v, 'runs', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  const { dir, cleanup } = await compiledFolder(target, v, stderr);
  try {
    const session = sessionOptions(v);
    const loadStart = performance.now();
    const unet = await GatedUNet.load(dir, session);
    const loadMs = performance.now() - loadStart;
    const { options, notes } = generationFrom(unet, v);
    for (const n of notes) stderr.write(`tgate: note: ${n}\n`);
    const baseOpts = { ...options, gateStep: Number.POSITIVE_INFINITY };
    const firstStart = performance.now();
    await unet.generate({ ...options, steps: 1, gateStep: 1 });
    const firstStepMs = performance.now() - firstStart;
    // Warm-up (not timed): first calls allocate arenas and caches.
    await unet.generate(baseOpts);
    await unet.generate(options);
    const base: GenerateResult[] = [];
    const gated: GenerateResult[] = [];
    for (let i = 0; i < runs; i++) {
      base.push(await unet.generate(baseOpts));
      gated.push(await unet.generate(options));
      stderr.write(`tgate: run ${i + 1}/${runs}: baseline ${(base[i]!.totalMs / 1000).toFixed(2)} s, tgate ${(gated[i]!.totalMs / 1000).toFixed(2)} s\n`);
    }
    await unet.release();
    const S = options.steps;
    const G = Math.min(options.gateStep, S);
    const baseS = median(base.map((r) => r.totalMs)) / 1000;
    const gatedS = median(gated.map((r) => r.totalMs)) / 1000;
    const p2 = median(base.flatMap((r) => phaseMs(r, 'planning')));
    const gateMs = median(gated.flatMap((r) => phaseMs(r, 'gate')));
    const fid = median(gated.flatMap((r) => phaseMs(r, 'fidelity')));
    const bound = (S * p2) / (Math.max(G - 1, 0) * p2 + (G >= 1 ? gateMs : 0) + (S - G) * fid);
    const overhead = (rs: GenerateResult[]) => median(rs.map((r) => {
      const model = r.records.reduce((a, x) => a + x.modelMs, 0);
      return (r.totalMs - model) / model;
    }));
    const fwd = forwardedArgs(v);
    const rssBase = v['no-memory'] ? null : memoryProbe(dir, 'baseline', fwd);
    const rssGated = v['no-memory'] ? null : memoryProbe(dir, 'tgate', fwd);
    const figures = {
      model: target,
      steps: S,
      gateStep: G,
      guidance: options.guidance,
      scheduler: options.scheduler,
      latents: options.latents.dims,
      runs,
      session,
      loadSeconds: loadMs / 1000,
      firstStepSeconds: firstStepMs / 1000,
      baselineSeconds: baseS,
      tgateSeconds: gatedS,
      speedup: baseS / gatedS,
      boundSpeedup: bound,
      ofBound: baseS / gatedS / bound,
      msPerStep: { baselinePlanning: p2, gate: gateMs, fidelity: fid },
      overhead: { baseline: overhead(base), tgate: overhead(gated) },
      peakRssMiB: { baseline: rssBase, tgate: rssGated, ratio: rssBase && rssGated ? rssGated / rssBase : null },
      baselineRunsSeconds: base.map((r) => r.totalMs / 1000),
      tgateRunsSeconds: gated.map((r) => r.totalMs / 1000),
    };
    if (v.json) return JSON.stringify(figures, null, 2);
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    return [
      `bench ${target}: ${S} steps, gate step ${G}, guidance ${options.guidance}, ${options.scheduler}, latents [${options.latents.dims.join(', ')}], median of ${runs} alternating runs`,
      '',
      table(['', 'baseline', 'tgate'], [
        ['wall time (s)', baseS.toFixed(3), gatedS.toFixed(3)],
        ['runtime overhead (of model time)', pct(figures.overhead.baseline), pct(figures.overhead.tgate)],
        ['peak RSS (MiB)', rssBase?.toFixed(0) ?? '-', rssGated?.toFixed(0) ?? '-'],
      ]),
      '',
      `speed-up ${figures.speedup.toFixed(3)}x; the schedule allows ${bound.toFixed(3)}x (${pct(figures.ofBound)} of it)`,
      `ms per step: planning at batch 2B ${p2.toFixed(1)}, gate step ${gateMs.toFixed(1)}, fidelity at batch B ${fid.toFixed(1)}`,
      `sessions opened in ${figures.loadSeconds.toFixed(2)} s; first step ${figures.firstStepSeconds.toFixed(2)} s${figures.peakRssMiB.ratio ? `; RSS ratio tgate/baseline ${figures.peakRssMiB.ratio.toFixed(3)}` : ''}`,
    ].join('\n');
  } finally {
    cleanup();
  }
}
