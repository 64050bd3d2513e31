// Creating the missing folders above an output, one level at a time. Node's
// mkdirSync(p, {recursive: true}) never returns for some paths (measured: '/proc/nonexistent/x'
// loops forever in Node 20, and being synchronous it cannot even be interrupted), so tgate walks
// up to the nearest existing entry itself and creates each level with a plain mkdir, whose
// failure (ENOENT under /proc, EACCES, ENOTDIR, EROFS) is a normal error the caller reports.
import fs from 'node:fs';
import path from 'node:path';

export function makeFolders(dir: string): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st) {
      if (!st.isDirectory()) fs.mkdirSync(path.join(cur, missing[0] ?? '')); // throws ENOTDIR / EEXIST, naming the path
      break;
    }
    missing.unshift(path.basename(cur));
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const name of missing) {
    cur = path.join(cur, name);
    try {
      fs.mkdirSync(cur);
    } catch (e) {
      // Another process may create the same level at the same moment.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(cur).isDirectory()) throw e;
    }
  }
}
