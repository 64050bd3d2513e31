// npm run goldens: rewrites tests/golden/ from the current build. Review the diff before committing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GOLDEN_CASES, GOLDEN_DIR } from './helpers/goldens.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-goldens-'));
try {
  fs.mkdirSync(GOLDEN_DIR, { recursive: true });
  for (const c of GOLDEN_CASES) {
    fs.writeFileSync(path.join(GOLDEN_DIR, c.file), c.produce(work));
    console.log(`wrote tests/golden/${c.file}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
