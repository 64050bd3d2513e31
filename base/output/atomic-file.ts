// Replacing one output file (diff -o, generate -o, run -o, a manifest update): the bytes go into a
// new temporary file beside it (`.<name>.tmp-<pid>-<random>`, O_EXCL), which is then renamed over
// the target. Readers see the old file or the new one, never half of one; a symlink at the target
// is replaced, never written through; the temporary file is removed on failure and on SIGINT/
// SIGTERM (cleanup.ts), and one left by a killed run is removed by the next write to that path.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../errors.js';
import { onInterrupt } from './cleanup.js';
import { ownedName, removeDeadLeftovers } from './leftovers.js';
import { writeNewFile, type FileData } from './new-file.js';
import { makeFolders } from './make-folders.js';

/** The prefix of a file's temporary siblings (kept short enough for any file system's name limit). */
export function tempPrefixOf(target: string): string {
  return `.${path.basename(target).slice(0, 200)}.tmp-`;
}

function unwritable(file: string, e: unknown): unknown {
  // Only a system call's failure (ENOSPC, EACCES, EROFS, ...): coded errors pass as they are.
  if (e instanceof TgateError || typeof (e as NodeJS.ErrnoException)?.syscall !== 'string') return e;
  return new TgateError('E_OUTPUT_UNWRITABLE', `Cannot write ${file}: ${(e as Error).message}.`, {
    subject: { file },
    hint: "Choose an output path in a folder you can write to (with space left), or fix the folder's permissions.",
    cause: e,
  });
}

export function replaceFile(file: string, data: FileData): void {
  const target = path.resolve(file);
  const parent = path.dirname(target);
  try {
    makeFolders(parent);
  } catch (e) {
    throw unwritable(file, e);
  }
  let existing: fs.Stats | null = null;
  try {
    existing = fs.lstatSync(target);
  } catch {
    // nothing there yet
  }
  if (existing?.isDirectory()) {
    throw new TgateError('E_OUTPUT_EXISTS', `${file} is a folder; tgate writes a file there and does not replace a folder.`, {
      subject: { file },
      hint: 'Give a file path with -o (e.g. inside that folder).',
    });
  }
  const prefix = tempPrefixOf(target);
  removeDeadLeftovers(parent, prefix);
  const tmp = path.join(parent, ownedName(prefix));
  const remove = () => fs.rmSync(tmp, { force: true });
  const unregister = onInterrupt(remove);
  try {
    writeNewFile(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    throw unwritable(file, e);
  } finally {
    remove();
    unregister();
  }
}
