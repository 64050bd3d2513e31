// The golden outputs: what `inspect`, `diff` and `compile --report` print for the committed
// fixtures, kept in tests/golden/ and reviewed in diffs. `npm run goldens` rewrites them
// (tests/update-goldens.ts); tests/goldens.test.ts fails on any difference.
import fs from 'node:fs';
import path from 'node:path';
import { tgate } from './cli.js';
import { ROOT } from './paths.js';

export const GOLDEN_DIR = path.join(ROOT, 'tests/golden');
const TINY = 'fixtures/models/tiny-unet.onnx';
const PIXART = 'fixtures/models/pixart-tiny.onnx';

export interface GoldenCase {
  file: string;
  /** The outputs, given a scratch folder for compiled artifacts (never printed). */
  produce: (work: string) => string;
}

function run(args: string[]): string {
  const r = tgate(args);
  if (r.status !== 0) throw new Error(`tgate ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Compiles the tiny UNet once per scratch folder, with the report. */
function compiled(work: string): string {
  const dir = path.join(work, 'tiny-unet');
  if (!fs.existsSync(path.join(dir, 'tgate.json'))) run(['compile', TINY, '-o', dir, '--report', '--no-verify']);
  return dir;
}

export const GOLDEN_CASES: GoldenCase[] = [
  { file: 'inspect-tiny-unet.txt', produce: () => run(['inspect', TINY, '--height', '64', '--width', '64']) },
  { file: 'inspect-tiny-unet.json', produce: () => run(['inspect', TINY, '--json', '--height', '64', '--width', '64']) },
  {
    file: 'inspect-pixart-tiny.txt',
    produce: () => run(['inspect', PIXART, '--shape', 'hidden_states=1x4x32x32', '--shape', 'encoder_hidden_states=1x120x24']),
  },
  { file: 'diff-tiny-unet.txt', produce: (w) => run(['diff', compiled(w)]) },
  { file: 'diff-tiny-unet.json', produce: (w) => run(['diff', compiled(w), '--json']) },
  { file: 'diff-tiny-unet.md', produce: (w) => run(['diff', compiled(w), '--markdown']) },
  { file: 'diff-models.txt', produce: () => run(['diff', TINY, 'fixtures/models/tiny-unet-self-only.onnx']) },
  { file: 'compile-report-tiny-unet.md', produce: (w) => fs.readFileSync(path.join(compiled(w), 'report.md'), 'utf8') },
  { file: 'compile-report-tiny-unet.json', produce: (w) => fs.readFileSync(path.join(compiled(w), 'report.json'), 'utf8') },
];
