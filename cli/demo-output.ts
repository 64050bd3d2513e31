// Where `tgate demo -o DIR` may write. The demo builds DIR in a staging folder beside it and moves
// it into place at the end (build/artifacts.ts), so DIR must be new, empty, or an earlier demo
// output, which a new run replaces (the demo regenerates its own output: `npx tgate demo` twice
// just works). An earlier demo output holds nothing but the demo's files (DEMO_FILES) and a
// compiled folder with its tgate manifest; any other folder (the user's files, a compile's
// output) is refused, so the demo never deletes what it did not write.
import fs from 'node:fs';
import path from 'node:path';
import type { StageOptions } from '../build/artifacts.js';
import { whyNotTgateOutput } from '../base/output/tgate-output.js';

/** The files the demo writes at the top of DIR, beside compiled/ (the compiled pipeline). */
export const DEMO_FILES = ['grid.png', 'convergence.svg', 'report.md', 'report.html'];
export const DEMO_COMPILED = 'compiled';

/** null when `dir` is an earlier demo output, else why not. */
export function whyNotDemoOutput(dir: string): string | null {
  const names = fs.readdirSync(dir);
  const foreign = names.filter((n) => n !== DEMO_COMPILED && !DEMO_FILES.includes(n));
  if (foreign.length) return `it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}, which the demo does not write`;
  for (const n of DEMO_FILES.filter((f) => names.includes(f))) {
    if (!fs.lstatSync(path.join(dir, n)).isFile()) return `its ${n} is not a regular file`;
  }
  const compiled = path.join(dir, DEMO_COMPILED);
  if (!names.includes(DEMO_COMPILED) || !fs.lstatSync(compiled).isDirectory()) return `it has no ${DEMO_COMPILED}/ folder`;
  const why = whyNotTgateOutput(compiled);
  return why === null ? null : `${DEMO_COMPILED}/ is not a tgate compile: ${why}`;
}

export function demoOutputOptions(modelDir: string): StageOptions {
  return { force: true, forceOption: null, kind: 'demo output', outputs: DEMO_FILES, replaceable: whyNotDemoOutput, protectedDirs: [modelDir] };
}

/** Whether DIR holds an earlier demo output that this run replaces (for a note). */
export function replacesEarlierDemo(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length > 0 && whyNotDemoOutput(dir) === null;
  } catch {
    return false;
  }
}
