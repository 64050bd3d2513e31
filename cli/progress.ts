// Step progress: one rewritten line on a terminal, plain lines otherwise (logs, CI).
import type { StepRecord } from '../runtime/gated-unet.js';

export function progressReporter(stream: NodeJS.WriteStream, label: string): { step: (r: StepRecord) => void; done: () => void } {
  const tty = !!stream.isTTY;
  return {
    step(r) {
      const width = 24;
      const filled = Math.round(((r.k + 1) / r.steps) * width);
      const line = `${label} step ${r.k + 1}/${r.steps} ${r.variant.padEnd(19)} batch ${r.batch} ${r.stepMs.toFixed(0)} ms/step`;
      if (tty) stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}\u001b[K`);
      else stream.write(`${line}\n`);
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
