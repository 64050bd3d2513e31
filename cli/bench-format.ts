// The bench report and its terminal rendering: one table of wall times, speed-ups against their
// bounds, overhead and memory per mode, DeepCache's plans of full and shallow steps, then the ms per
// step by variant. Pure: no model runs here.
import type { DeepCacheOptions } from '../build/deepcache-steps.js';
import { table } from './format.js';
import { deepCacheLabel, planLine } from './run-format.js';

/** deepcache: DeepCache alone (no TGATE); tgate+deepcache: the official TGATE + DeepCache combination. */
export type Mode = 'baseline' | 'v1' | 'v2' | 'deepcache' | 'tgate+deepcache';

export interface ModeFigures {
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
  /** DeepCache modes: the plan that ran, F full and s shallow per step. */
  plan?: { plan: string; full: number; shallow: number };
}

/** What `tgate bench --json` prints; the text is rendered from it. */
export interface BenchReport {
  model: string;
  steps: number;
  gateStep: number;
  schedule: { spInterval: number; fiInterval: number; warmUp: number };
  /** The DeepCache plan benched (--deepcache N), or null. */
  deepcache: DeepCacheOptions | null;
  guidance: number;
  scheduler: string;
  latents: number[];
  runs: number;
  /** The session options the runs used. */
  session: object;
  variantsOpened: string[];
  loadSeconds: number;
  firstStepSeconds: number;
  msPerStep: Record<string, number>;
  modes: Partial<Record<Mode, ModeFigures>>;
}

/** The terminal text; `selfCached` says whether the v2 schedule (self-attention reuse) applies. */
export function benchText(r: BenchReport, modes: Mode[], selfCached: boolean): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const f = modes.map((m) => r.modes[m]!);
  const row = (label: string, get: (x: ModeFigures, m: Mode) => string) => [label, ...f.map((x, i) => get(x, modes[i]!))];
  const s = r.schedule;
  return [
    `bench ${r.model}: ${r.steps} steps, gate step ${r.gateStep}${selfCached ? `, v2 sp_interval ${s.spInterval} fi_interval ${s.fiInterval} warm_up ${s.warmUp}` : ''}${r.deepcache ? `, ${deepCacheLabel(r.deepcache)} (no self-attention reuse)` : ''}, guidance ${r.guidance}, ${r.scheduler}, latents [${r.latents.join(', ')}], median of ${r.runs} alternating runs`,
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
    ...modes.flatMap((m, i) => (f[i]!.plan ? [`${m} ${planLine(f[i]!.plan!)}`] : [])),
    '',
    `ms per step: ${Object.entries(r.msPerStep)
      .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
      .join(', ')}`,
    `sessions (${r.variantsOpened.join(', ')}) opened in ${r.loadSeconds.toFixed(2)} s; first step ${r.firstStepSeconds.toFixed(2)} s`,
  ].join('\n');
}
