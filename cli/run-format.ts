// tgate run's report: the summary of one generation (what --json prints) and the text it renders
// to: the mode, the steps by phase and batch, the times, and the files written. Pure.
import type { GenerateOptions, GenerateResult } from '../runtime/gated-unet.js';

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

export function runSummary(f: RunFacts, result: GenerateResult) {
  const modelMs = result.records.reduce((a, r) => a + r.modelMs, 0);
  const phases = (p: string) => result.records.filter((r) => r.phase === p).length;
  const sched = result.schedule;
  return {
    model: f.model,
    mode: f.baseline ? 'baseline' : 'tgate',
    steps: f.options.steps,
    // Model evaluations: PNDM evaluates once more than it steps.
    evaluations: result.records.length,
    gateStep: f.baseline ? null : sched.gateStep,
    schedule: f.baseline ? null : sched,
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
    records: result.records,
  };
}

export function runText(summary: ReturnType<typeof runSummary>, result: GenerateResult): string {
  const baseline = summary.mode === 'baseline';
  const sched = result.schedule;
  const lines = [
    `${summary.mode}${baseline ? '' : ` v${sched.version}`}: ${summary.steps} steps${summary.evaluations !== summary.steps ? ` (${summary.evaluations} model evaluations)` : ''} (${summary.phases.planning + summary.phases.gate} planning${result.cfg ? ' with CFG at batch 2B' : ''}, ${summary.phases.fidelity} fidelity at batch B${sched.version === 2 && !baseline ? `; self-attention reused at ${result.records.filter((r) => r.self === 'reuse').length} steps` : ''}) in ${summary.seconds.toFixed(2)} s (model ${summary.modelSeconds.toFixed(2)} s)`,
  ];
  if (summary.output) lines.push(`wrote ${summary.output} [${result.dims.join(', ')}]`);
  if (summary.trajectory) lines.push(`wrote ${result.trajectory.length} step latents to ${summary.trajectory}`);
  return lines.join('\n');
}
