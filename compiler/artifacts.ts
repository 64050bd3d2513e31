// The output folder is built in a temporary sibling and renamed into place at the end, so a
// failed compile leaves nothing behind and an existing folder is replaced only on success.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from './errors.js';
import { isInsideDir } from './io/load.js';

export interface Staging {
  /** The temporary folder to write into. */
  dir: string;
  /** Moves the staged folder to its final place (replacing an old one only with force). */
  commit(): void;
  /** Removes the staged folder; safe to call after commit. */
  discard(): void;
}

function realish(p: string): string {
  // The output folder may not exist yet: resolve its nearest existing ancestor.
  const missing: string[] = [];
  let cur = path.resolve(p);
  while (!fs.existsSync(cur)) {
    missing.unshift(path.basename(cur));
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return path.join(fs.realpathSync(cur), ...missing);
}

/**
 * Refuses output folders that would clobber the source, or hold files, unless forced.
 * `protectedDirs` (a source pipeline folder) may neither hold the output nor lie inside it.
 */
export function stageOutput(outDir: string, protectedFiles: string[], force: boolean, protectedDirs: string[] = []): Staging {
  const target = realish(outDir);
  for (const d of protectedDirs) {
    const real = fs.realpathSync(d);
    if (isInsideDir(target, real) || isInsideDir(real, target)) {
      const inside = isInsideDir(target, real);
      throw new TgateError('E_OUTPUT_OVERLAPS_SOURCE', inside ? `The output folder ${outDir} is inside the source folder ${d}; writing there would change the source.` : `The output folder ${outDir} contains the source folder ${d}; writing there would overwrite or delete the source.`, {
        subject: { file: d },
        hint: 'Choose an output folder outside the pipeline folder, e.g. -o out/<name>.',
      });
    }
  }
  for (const f of protectedFiles) {
    if (isInsideDir(fs.realpathSync(f), target)) {
      throw new TgateError('E_OUTPUT_OVERLAPS_SOURCE', `The output folder ${outDir} contains the source file ${f}; writing there would overwrite or delete the source.`, {
        subject: { file: f },
        hint: 'Choose an output folder that does not hold the model, e.g. -o out/<name>.',
      });
    }
  }
  if (fs.existsSync(target)) {
    const st = fs.statSync(target);
    if (!st.isDirectory()) {
      throw new TgateError('E_OUTPUT_EXISTS', `The output path ${outDir} exists and is not a folder.`, { subject: { file: outDir }, hint: 'Choose another -o path.' });
    }
    if (fs.readdirSync(target).length > 0 && !force) {
      throw new TgateError('E_OUTPUT_EXISTS', `The output folder ${outDir} exists and is not empty.`, {
        subject: { file: outDir },
        hint: 'Pass --force to replace it, or choose another -o folder.',
      });
    }
  }
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`));
  // mkdtemp makes the folder private (0700); the artifacts are meant to be shared like any build output.
  fs.chmodSync(dir, 0o755);
  let committed = false;
  return {
    dir,
    commit() {
      if (fs.existsSync(target)) {
        const old = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.old-`));
        fs.renameSync(target, path.join(old, 'previous'));
        fs.renameSync(dir, target);
        fs.rmSync(old, { recursive: true, force: true });
      } else {
        fs.renameSync(dir, target);
      }
      committed = true;
    },
    discard() {
      if (!committed) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Hard-links a file into place, copying only where a link is impossible (another device). A
 * symlink is resolved first (link(2) would link the symlink itself): the output never holds one.
 * Callers check symlinks against the rule first (symlinkVerdict in io/load.ts).
 */
export function linkOrCopy(from: string, to: string): 'linked' | 'copied' {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  from = fs.realpathSync(from);
  try {
    fs.linkSync(from, to);
    return 'linked';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
    fs.copyFileSync(from, to);
    return 'copied';
  }
}
