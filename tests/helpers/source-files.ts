// The repository's own TypeScript sources, for tests that read code as text (the layering and
// format checks): repo-relative posix paths, sorted, index.ts first among equals.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.js';

export function tsSourceFiles(folders: readonly string[]): string[] {
  const out: string[] = ['index.ts'];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const f of folders) walk(f);
  return out.sort();
}
