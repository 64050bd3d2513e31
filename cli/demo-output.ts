// Where `tgate demo -o DIR` may write. The demo builds DIR in a staging folder beside it and moves
// it into place at the end (compiler/artifacts.ts), so DIR must be new, empty, or an earlier demo
// output, which only --force replaces. An earlier demo output holds nothing but the demo's files
// (DEMO_FILES) and a compiled folder with its tgate manifest: any other folder, the user's files
// or a compile's output, is refused even with --force, so the demo never deletes what it did not
// write.
import fs from 'node:fs';
import path from 'node:path';
import type { StageOptions } from '../compiler/artifacts.js';
import { whyNotTgateOutput } from '../compiler/output/tgate-output.js';

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

export function demoOutputOptions(force: boolean, modelDir: string): StageOptions {
  return { force, outputs: DEMO_FILES, replaceable: whyNotDemoOutput, protectedDirs: [modelDir] };
}
