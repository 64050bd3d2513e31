// tgate run's report: the summary of one generation (what --json prints) and the text it renders
// to: the mode, the steps by phase and batch, DeepCache's plan of full and shallow steps, the
// times, and the files written. Pure.
import { deepCachePlanString, type DeepCacheOptions } from '../build/deepcache-steps.js';
import type { GenerateOptions, GenerateResult, StepRecord } from '../runtime/gated-unet.js';

/** What one run did, beside the result: where it ran, and what it wrote and made up. */
export interface RunFacts {
  model: string;
  baseline: boolean;
  options: GenerateOptions;
  variants: string[];
  scheduler: string;
  output: string | null;
  trajectory: string | null;
  /** The notes on inputs that were generated (seeded random). */
  generatedInputs: string[];
}

/** baseline: no caching; tgate: TGATE alone; deepcache: DeepCache alone (--baseline --deepcache N); tgate+deepcache: the official combination. */
export type RunMode = 'baseline' | 'tgate' | 'deepcache' | 'tgate+deepcache';

export function runMode(baseline: boolean, deepcache: DeepCacheOptions | null | undefined): RunMode {
  if (deepcache) return baseline ? 'deepcache' : 'tgate+deepcache';
  return baseline ? 'baseline' : 'tgate';
}

/** DeepCache's plan as the steps ran it: one character per evaluation (F full, s shallow), and the counts. */
export function deepCachePlan(records: readonly Pick<StepRecord, 'deep'>[]): { plan: string; full: number; shallow: number } {
  const full = records.map((r) => r.deep !== 'reuse');
  const shallow = full.filter((f) => !f).length;
  return { plan: deepCachePlanString(full), full: full.length - shallow, shallow };
}

/** "DeepCache N 3 (branch 0)", with the quadratic schedule's center and pow. */
export function deepCacheLabel(dc: DeepCacheOptions): string {
  const q =
    dc.schedule === 'quadratic' ? `, quadratic${dc.center !== undefined ? ` center ${dc.center}` : ''}${dc.pow !== undefined ? ` pow ${dc.pow}` : ''}` : '';
  return `DeepCache N ${dc.interval} (branch ${dc.branch}${q})`;
}

/** The plan line run and bench print: `plan FssFssFssF... (9 full, 16 shallow)`. */
export function planLine(p: { plan: string; full: number; shallow: number }): string {
  return `plan ${p.plan} (${p.full} full, ${p.shallow} shallow)`;
}

export function runSummary(f: RunFacts, result: GenerateResult) {
  const modelMs = result.records.reduce((a, r) => a + r.modelMs, 0);
  const phases = (p: string) => result.records.filter((r) => r.phase === p).length;
  const sched = result.schedule;
  const dc = sched.deepcache ?? null;
  const mode = runMode(f.baseline, dc);
  const gated = mode === 'tgate' || mode === 'tgate+deepcache';
  return {
    model: f.model,
    mode,
    steps: f.options.steps,
    // Model evaluations: PNDM evaluates once more than it steps.
    evaluations: result.records.length,
    gateStep: gated ? sched.gateStep : null,
    // The library's schedule as it ran (its `deepcache` too); `deepcache` below adds the plan.
    schedule: mode === 'baseline' ? null : sched,
    deepcache: dc ? { ...dc, ...deepCachePlan(result.records) } : null,
    variants: f.variants,
    guidance: f.options.guidance,
    cfg: result.cfg,
    scheduler: f.scheduler,
    seconds: result.totalMs / 1000,
    modelSeconds: modelMs / 1000,
    phases: { planning: phases('planning'), gate: phases('gate'), fidelity: phases('fidelity') },
    output: f.output,
    trajectory: f.trajectory,
    generatedInputs: f.generatedInputs,
    // --server: what crossed the network (requests, request and answer bytes); null in process.
    wire: result.wire,
    records: result.records,
  };
}

export function runText(summary: ReturnType<typeof runSummary>, result: GenerateResult): string {
  const sched = result.schedule;
  const mode = summary.mode;
  const gated = mode === 'tgate' || mode === 'tgate+deepcache';
  const dc = summary.deepcache;
  const title =
    mode === 'baseline'
      ? 'baseline'
      : mode === 'deepcache'
        ? `${deepCacheLabel(dc!)} alone, no TGATE`
        : // The official combination runs no self-attention reuse (v2 or not): said, as bench says it.
          `tgate v${sched.version}${dc ? ` + ${deepCacheLabel(dc)} (no self-attention reuse)` : ''}`;
  const evaluations = summary.evaluations !== summary.steps ? ` (${summary.evaluations} model evaluations)` : '';
  const selfReused = sched.version === 2 && gated && !dc ? `; self-attention reused at ${result.records.filter((r) => r.self === 'reuse').length} steps` : '';
  // DeepCache alone has no phases: every step at the same batch, full or shallow (the plan line).
  const phases =
    mode === 'deepcache'
      ? `all at batch ${result.cfg ? '2B with CFG' : 'B'}`
      : `${summary.phases.planning + summary.phases.gate} planning${result.cfg ? ' with CFG at batch 2B' : ''}, ${summary.phases.fidelity} fidelity at batch B${selfReused}`;
  const lines = [`${title}: ${summary.steps} steps${evaluations} (${phases}) in ${summary.seconds.toFixed(2)} s (model ${summary.modelSeconds.toFixed(2)} s)`];
  if (dc) lines.push(planLine(dc));
  const w = summary.wire;
  if (w)
    lines.push(
      `server: ${w.requests} requests, ${(w.bytesSent / 2 ** 20).toFixed(2)} MiB sent, ${(w.bytesReceived / 2 ** 20).toFixed(2)} MiB received${mode === 'baseline' ? '' : ' (the caches stayed on the server)'}`,
    );
  if (summary.output) lines.push(`wrote ${summary.output} [${result.dims.join(', ')}]`);
  if (summary.trajectory) lines.push(`wrote ${result.trajectory.length} step latents to ${summary.trajectory}`);
  return lines.join('\n');
}
