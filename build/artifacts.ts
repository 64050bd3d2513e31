// An output folder (compile's, the demo's) is built in a hidden staging sibling,
// `.<name>.tmp-<pid>-<random>`, and renamed into place at the end: a failed or interrupted run
// leaves nothing behind, and an existing folder is replaced only on success. The rules that keep
// users' files safe all live here:
// - the target is locked while the run works on it (base/output/lock.ts): a second run is refused;
// - an existing non-empty folder is replaced only with force, and only when it is an output of
//   the same kind (a tgate manifest: base/output/tgate-output.ts); never a folder that holds the
//   source, or the current folder;
// - every file written into the staging folder is one of the names declared up front, created
//   new (O_EXCL, base/output/new-file.ts), and no linked source file may take one of those names: a
//   write can never land on a hard link to a user's file;
// - the staging folder (and the old folder during a replacement) is removed on failure and on
//   SIGINT/SIGTERM (base/output/cleanup.ts); those of runs killed with SIGKILL carry their pid and are
//   removed by the next run that targets the same path (base/output/leftovers.ts).
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { isInsideDir } from '../io/links.js';
import { onInterrupt } from '../base/output/cleanup.js';
import { ownedTempDir, removeDeadLeftovers } from '../base/output/leftovers.js';
import { lockTarget } from '../base/output/lock.js';
import { writeNewFile, type FileData } from '../base/output/new-file.js';
import { makeFolders } from '../base/output/make-folders.js';

export interface StageOptions {
  /** Replace an existing non-empty folder (only one `replaceable` accepts). */
  force: boolean;
  /** Every file this output writes, relative to its top with '/': write() takes only these, link() none of them. */
  outputs: string[];
  /** null when an existing folder is an earlier output of this kind (force may replace it), else why not. */
  replaceable: (dir: string) => string | null;
  /** Source files the output folder must not hold. */
  protectedFiles?: string[];
  /** Source folders the output folder may neither lie in nor hold. */
  protectedDirs?: string[];
  /** The option that replaces an output, for messages ('--force'); null when `force` is the command's rule, not an option. */
  forceOption?: string | null;
  /** What an earlier output is called in messages ('tgate output'). */
  kind?: string;
}

export interface Staging {
  /** The staging folder: read it freely; write only through write() and link(). */
  dir: string;
  /** Creates one of the declared output files (never an existing file: O_EXCL). */
  write(rel: string, data: FileData): void;
  /** Hard-links (or copies) a source file to `rel`, which must not be an output name. */
  link(rel: string, from: string): 'linked' | 'copied';
  /** Moves the staged folder to its final place (replacing the old one) and releases the lock. */
  commit(): void;
  /** Removes the staged folder unless committed, and releases the lock; safe to call twice. */
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

/** Output names compare case-insensitively (a case-insensitive file system would merge them). */
const key = (rel: string) =>
  path.posix
    .normalize(rel.split(/[\\/]+/).join('/'))
    .replace(/^\.\/|\/$/g, '')
    .toLowerCase();

/**
 * The output name a file placed at `rel` would collide with: the same name, a folder that holds an
 * output, or an output that is a folder holding it. null when it is clear of every output.
 */
export function collidingOutput(rel: string, outputs: string[]): string | null {
  const r = key(rel);
  for (const o of outputs) {
    const k = key(o);
    if (r === k || r.startsWith(`${k}/`) || k.startsWith(`${r}/`)) return o;
  }
  return null;
}

/** The current folder, resolved; null when it no longer exists. */
function currentFolder(): string | null {
  try {
    return fs.realpathSync('.');
  } catch {
    return null;
  }
}

/** An errno error from creating something beside the target, as the coded error it is. */
function unwritable(outDir: string, e: unknown): unknown {
  // Only a system call's failure (ENOSPC, EACCES, EROFS, ...): coded errors pass as they are.
  if (e instanceof TgateError || typeof (e as NodeJS.ErrnoException)?.syscall !== 'string') return e;
  return new TgateError('E_OUTPUT_UNWRITABLE', `Cannot write ${outDir}: ${(e as Error).message}.`, {
    subject: { file: outDir },
    hint: 'Choose an output folder in a place you can write to (with space left).',
    cause: e,
  });
}

function refuseOverlaps(outDir: string, target: string, opts: StageOptions): void {
  for (const d of opts.protectedDirs ?? []) {
    const real = fs.realpathSync(d);
    if (isInsideDir(target, real) || isInsideDir(real, target)) {
      const inside = isInsideDir(target, real);
      throw new TgateError(
        'E_OUTPUT_OVERLAPS_SOURCE',
        inside
          ? `The output folder ${outDir} is inside the source folder ${d}; writing there would change the source.`
          : `The output folder ${outDir} contains the source folder ${d}; writing there would overwrite or delete the source.`,
        {
          subject: { file: d },
          hint: 'Choose an output folder outside the pipeline folder, e.g. -o out/<name>.',
        },
      );
    }
  }
  for (const f of opts.protectedFiles ?? []) {
    if (isInsideDir(fs.realpathSync(f), target)) {
      throw new TgateError(
        'E_OUTPUT_OVERLAPS_SOURCE',
        `The output folder ${outDir} contains the source file ${f}; writing there would overwrite or delete the source.`,
        {
          subject: { file: f },
          hint: 'Choose an output folder that does not hold the model, e.g. -o out/<name>.',
        },
      );
    }
  }
}

/** Refuses a target that is not a folder, a non-empty folder without force, and anything force may not replace. */
function checkTarget(outDir: string, target: string, opts: StageOptions): void {
  const force = opts.forceOption === undefined ? '--force' : opts.forceOption;
  const kind = opts.kind ?? 'tgate output';
  // Replacing a folder renames it away: never the folder the user works in, nor one that holds it.
  const cwd = currentFolder();
  if (cwd !== null && isInsideDir(cwd, target)) {
    throw new TgateError(
      'E_OUTPUT_EXISTS',
      `The output folder ${outDir} is ${cwd === target ? 'the current folder' : `a folder that holds the current folder ${cwd}`}; tgate builds its output beside the target and moves it into place, which would replace it.`,
      {
        subject: { file: outDir },
        hint: 'Name a new folder for the output, e.g. -o out/<name>.',
      },
    );
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return;
  }
  if (!st.isDirectory()) {
    throw new TgateError('E_OUTPUT_EXISTS', `The output path ${outDir} exists and is not a folder.`, {
      subject: { file: outDir },
      hint: 'Choose another -o path.',
    });
  }
  if (fs.readdirSync(target).length === 0) return;
  const why = opts.replaceable(target);
  if (why !== null) {
    throw new TgateError(
      'E_OUTPUT_EXISTS',
      `The output folder ${outDir} exists, is not empty and is not an earlier ${kind}: ${why}. tgate never replaces it${opts.force && force ? `, even with ${force}` : ''}.`,
      {
        subject: { file: outDir },
        hint: 'Choose a new or empty output folder, e.g. -o out/<name>.',
      },
    );
  }
  if (!opts.force) {
    throw new TgateError('E_OUTPUT_EXISTS', `The output folder ${outDir} exists and is not empty (an earlier ${kind}).`, {
      subject: { file: outDir },
      hint: force ? `Pass ${force} to replace it, or choose another -o folder.` : 'Choose another -o folder.',
    });
  }
}

/**
 * Checks the output folder, takes its lock and creates the staging folder. Throws before anything
 * is written when the target is refused.
 */
export function stageOutput(outDir: string, opts: StageOptions): Staging {
  const target = realish(outDir);
  refuseOverlaps(outDir, target, opts);
  checkTarget(outDir, target, opts);
  const parent = path.dirname(target);
  const base = path.basename(target);
  let unlock: () => void;
  try {
    makeFolders(parent);
    unlock = lockTarget(target, outDir);
  } catch (e) {
    throw unwritable(outDir, e);
  }
  const undo: (() => void)[] = [unlock];
  const cleanup = () => {
    for (const f of undo.splice(0).reverse()) f();
  };
  let dir: string;
  try {
    // Under the lock: the target may have changed since the first check (another run finished).
    checkTarget(outDir, target, opts);
    for (const kind of ['tmp', 'old']) removeDeadLeftovers(parent, `.${base}.${kind}-`);
    dir = ownedTempDir(parent, `.${base}.tmp-`);
  } catch (e) {
    cleanup();
    throw unwritable(outDir, e);
  }
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  undo.push(onInterrupt(removeDir));
  // mkdtemp makes the folder private (0700); the artifacts are meant to be shared like any build output.
  fs.chmodSync(dir, 0o755);
  const outputs = new Set(opts.outputs.map(key));
  const place = (rel: string) => {
    const to = path.join(dir, ...rel.split('/'));
    makeFolders(path.dirname(to));
    return to;
  };
  let committed = false;
  return {
    dir,
    write(rel, data) {
      if (!outputs.has(key(rel)))
        throw new TgateError('E_INTERNAL', `${rel} is not one of the declared output files of ${outDir}; nothing may be written there.`);
      writeNewFile(place(rel), data);
    },
    link(rel, from) {
      const hit = collidingOutput(rel, opts.outputs);
      if (hit !== null)
        throw new TgateError('E_INTERNAL', `The source file ${from} would be linked at ${rel}, where tgate writes ${hit}; its check before staging missed it.`);
      return linkOrCopy(from, place(rel));
    },
    commit() {
      checkTarget(outDir, target, opts);
      if (fs.existsSync(target)) {
        // Swap with two renames; the old folder goes out of the way first (and is removed after).
        const old = ownedTempDir(parent, `.${base}.old-`);
        const removeOld = () => fs.rmSync(old, { recursive: true, force: true });
        const unregister = onInterrupt(removeOld);
        fs.renameSync(target, path.join(old, 'previous'));
        fs.renameSync(dir, target);
        removeOld();
        unregister();
      } else {
        fs.renameSync(dir, target);
      }
      committed = true;
      cleanup();
    },
    discard() {
      if (!committed) removeDir();
      cleanup();
    },
  };
}

/**
 * Hard-links a file into place, copying only where a link is impossible (another device). A
 * symlink is resolved first (link(2) would link the symlink itself): the output never holds one.
 * Neither a link nor a copy replaces an existing file. Callers check symlinks against the rule
 * first (symlinkVerdict in io/load.ts).
 */
function linkOrCopy(from: string, to: string): 'linked' | 'copied' {
  from = fs.realpathSync(from);
  try {
    fs.linkSync(from, to);
    return 'linked';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    return 'copied';
  }
}
