// Step progress of a generation (run, generate): a bar on a terminal, nothing in a pipe, one plain
// line per step with --verbose (the reporter's policy, cli/reporter.ts).
import type { StepRecord } from '../runtime/gated-unet.js';
import { endStatus, progressBar, status } from './reporter.js';

/** `stream` is where the caller writes (stderr); the reporter decides what reaches it. */
export function progressReporter(stream: NodeJS.WriteStream, label: string): { step: (r: StepRecord) => void; done: () => void } {
  let bar: ReturnType<typeof progressBar> | null = null;
  return {
    step(r) {
      const ms = `${r.stepMs.toFixed(0)} ms/step`;
      if (stream.isTTY) (bar ??= progressBar(`${label} step`, r.steps, stream)).tick(r.k + 1, `${r.variant} batch ${r.batch} ${ms}`);
      // The plain line logs have read since the first release.
      else status(`${label} step ${r.k + 1}/${r.steps} ${r.variant.padEnd(19)} batch ${r.batch} ${ms}`, stream);
    },
    done() {
      bar?.end();
      endStatus();
    },
  };
}
