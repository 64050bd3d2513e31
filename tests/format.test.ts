// Every TypeScript file is as the formatter writes it (prettier, .prettierrc.json: 160 columns),
// so a diff shows changes, not reflowed lines. `npm run format` fixes what this finds.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { ROOT } from './helpers/paths.js';
import { tsSourceFiles } from './helpers/source-files.js';

const FOLDERS = ['base', 'ir', 'io', 'analyses', 'passes', 'build', 'runtime', 'cli', 'bench', 'fixtures', 'tests'];

function tsFiles(): string[] {
  return tsSourceFiles(FOLDERS);
}

describe('format', () => {
  it('every .ts file is formatted (npm run format)', async () => {
    const files = tsFiles();
    expect(files.length).toBeGreaterThan(200);
    const unformatted: string[] = [];
    for (const f of files) {
      const file = path.join(ROOT, f);
      const options = { ...(await prettier.resolveConfig(file)), filepath: file };
      expect(options.printWidth).toBe(160);
      if (!(await prettier.check(fs.readFileSync(file, 'utf8'), options))) unformatted.push(f);
    }
    expect(unformatted).toEqual([]);
  }, 120_000);
});
