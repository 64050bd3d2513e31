// tgate generate's report: the summary of one text-to-image call (what --json prints, with
// infinities as null) and its two lines of text: what was written (with DeepCache's plan), and
// where the time went. Pure.
import type { PipelineGenerateOptions, PipelineResult } from '../runtime/pipeline/gated-pipeline.js';
import { deepCacheLabel, deepCachePlan, planLine, runMode, type RunMode } from './run-format.js';

/** As run's modes: DeepCache alone is a request whose gate never comes (generateRequest). */
export function generateMode(request: Pick<PipelineGenerateOptions, 'baseline' | 'gateStep' | 'tgate'>): RunMode {
  const dc = request.tgate?.deepcache;
  return runMode(!!request.baseline || (!!dc && request.gateStep === Number.POSITIVE_INFINITY), dc);
}

export function generateSummary(model: string, request: PipelineGenerateOptions, files: string[], result: PipelineResult) {
  const t = result.timings;
  const dc = result.schedule?.deepcache ?? null;
  return {
    model,
    prompt: request.prompt,
    negativePrompt: request.negativePrompt ?? null,
    seed: result.seed,
    mode: generateMode(request),
    scheduler: result.scheduler,
    steps: result.steps,
    evaluations: result.records.length,
    guidance: result.guidance,
    height: result.height,
    width: result.width,
    // The library's schedule as it ran (its `deepcache` too); `deepcache` below adds the plan.
    schedule: result.schedule,
    deepcache: dc ? { ...dc, ...deepCachePlan(result.records) } : null,
    files,
    warnings: result.warnings,
    timings: {
      tokenizeMs: t.tokenizeMs,
      textEncodeMs: t.textEncodeMs,
      imageEncodeMs: t.imageEncodeMs,
      denoise: t.denoise,
      decodeMs: t.decodeMs,
      totalMs: t.totalMs,
    },
    // --server: the UNet's requests and bytes on the wire; null in process.
    wire: result.wire,
    records: result.records,
  };
}

export function generateJson(summary: ReturnType<typeof generateSummary>): string {
  return JSON.stringify(summary, (_, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2);
}

export function generateText(files: string[], result: PipelineResult): string {
  const t = result.timings;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const sched = result.schedule;
  const dc = sched?.deepcache ?? null;
  const gated = sched !== null && sched.gateStep !== Number.POSITIVE_INFINITY;
  const tgate = gated
    ? `TGATE v${sched.version}, gate step ${sched.gateStep}: ${result.records.filter((r) => r.phase !== 'fidelity').length} evaluations before the gate, ${result.records.filter((r) => r.phase === 'fidelity').length} after`
    : dc
      ? 'no TGATE'
      : 'baseline';
  const phases = dc ? `${deepCacheLabel(dc)}${gated ? ' + ' : ' alone, '}${tgate}` : tgate;
  return [
    `wrote ${files.join(', ')} (${result.width}x${result.height}, seed ${result.seed}, ${result.scheduler}, ${result.steps} steps, guidance ${result.guidance}; ${phases})`,
    ...(dc ? [`  ${planLine(deepCachePlan(result.records))}`] : []),
    ...(result.wire
      ? [
          `  server  the UNet's ${result.wire.requests} requests: ${(result.wire.bytesSent / 2 ** 20).toFixed(2)} MiB sent, ${(result.wire.bytesReceived / 2 ** 20).toFixed(2)} MiB received${sched ? ' (the caches stayed on the server)' : ''}`,
        ]
      : []),
    `  time  ${s(t.totalMs)}: tokenize ${s(t.tokenizeMs)}, text encode ${s(t.textEncodeMs)}${t.imageEncodeMs ? `, image encode ${s(t.imageEncodeMs)}` : ''}, denoise ${s(t.denoise.totalMs)} (planning ${s(t.denoise.planningMs)}, gate ${s(t.denoise.gateMs)}, fidelity ${s(t.denoise.fidelityMs)}), decode ${s(t.decodeMs)}`,
  ].join('\n');
}

/** Why a run deserves a second look: a truncated prompt, or a gate that never came. */
export function generateWarnings(result: PipelineResult): string[] {
  const out = result.warnings.map(
    (w) =>
      `tgate: warning: the prompt has ${w.tokens} tokens; the text encoder reads ${w.maxLength}, so this part was cut off (as diffusers does): ${w.removed}\n`,
  );
  // DeepCache alone has a gate that never comes on purpose (--baseline --deepcache N).
  const deepCacheAlone = !!result.schedule?.deepcache && result.schedule.gateStep === Number.POSITIVE_INFINITY;
  if (result.schedule && !deepCacheAlone && !result.records.some((r) => r.phase === 'fidelity')) {
    out.push(
      `tgate: warning: the gate step ${result.schedule.gateStep} comes at or after the last of ${result.steps} steps, so nothing was gated (the run equals the baseline's work); use --gate-step below --steps.\n`,
    );
  }
  return out;
}
