// The text, JSON and Markdown that people and CI pipelines read, byte for byte against the
// reviewed goldens in tests/golden/ (regenerate with `npm run goldens` and review the diff).
import fs from 'node:fs';
import path from 'node:path';
import { GOLDEN_CASES, GOLDEN_DIR } from './helpers/goldens.js';
import { scratch } from './helpers/paths.js';

describe('golden outputs', () => {
  const work = scratch();
  it.each(GOLDEN_CASES.map((c) => [c.file, c] as const))('%s', (_file, c) => {
    const want = fs.readFileSync(path.join(GOLDEN_DIR, c.file), 'utf8');
    expect(c.produce(work)).toBe(want);
  });
});
