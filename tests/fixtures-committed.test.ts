// The committed model files are exactly what their builders produce, so they can always be
// regenerated (npm run fixtures) and never drift from the code that documents them.
import fs from 'node:fs';
import path from 'node:path';
import { COMMITTED_MODELS, modelsDir } from '../fixtures/generate.js';

describe('committed fixture models', () => {
  it.each(Object.keys(COMMITTED_MODELS))('%s equals its builder output', (name) => {
    const committed = fs.readFileSync(path.join(modelsDir(), name));
    expect(Buffer.from(COMMITTED_MODELS[name]!()).equals(committed)).toBe(true);
  });
});
