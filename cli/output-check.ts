// Output paths are checked BEFORE the work that fills them: a generation can take minutes, and an
// `-o` that names a folder, a path under a file, a folder tgate cannot write, or an empty string
// must be refused at once, not after the work (and not as an internal error from the final
// write). Every command that writes a user-named path (run -o and --save-trajectory, generate -o,
// diff -o, calibrate's manifest update) calls one of these first; the write itself then goes
// through base/output/atomic-file.ts, which maps a failure that still happens (a full disk,
// a folder removed meanwhile) to E_OUTPUT_UNWRITABLE.
//   - '' is a usage error (exit 2): it is no path, and `-o ''` must not mean "no output";
//   - an existing folder, FIFO, device or socket at the path is E_OUTPUT_EXISTS (exit 5);
//   - with a kind, an existing file must be one of that kind (a PNG, a .npy): a model or a
//     document named by mistake is never replaced (E_OUTPUT_EXISTS);
//   - the nearest existing folder above the path (missing folders are created when writing)
//     must be a folder tgate can write and enter (E_OUTPUT_UNWRITABLE, exit 5).
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';

const MAGIC: Record<'png' | 'npy', { bytes: number[]; what: string }> = {
  png: { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image' },
  npy: { bytes: [0x93, 0x4e, 0x55, 0x4d], what: 'a .npy file' },
};

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return st.isFile() ? 'a file' : 'not a regular file';
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function startsWith(file: string, magic: number[]): boolean {
  const head = Buffer.alloc(magic.length);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return false;
  }
  try {
    const n = fs.readSync(fd, head, 0, magic.length, 0);
    return n === magic.length && magic.every((b, i) => head[i] === b);
  } finally {
    fs.closeSync(fd);
  }
}

function nonEmpty(p: unknown, option: string, what: string, example: string): string {
  if (typeof p !== 'string' || p === '') {
    throw new TgateError('E_USAGE', `${option} needs ${what}, not ${p === '' ? 'an empty string' : String(p)}.`, {
      hint: `Give ${option} ${what}, e.g. ${option} ${example}.`,
    });
  }
  return p;
}

/** The nearest existing folder above `target` must be one tgate can write into. */
function checkParent(target: string, option: string, given: string): void {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const st = lstat(dir);
    if (st) {
      let real: fs.Stats;
      try {
        real = fs.statSync(dir);
      } catch {
        real = st;
      }
      if (!real.isDirectory()) {
        throw new TgateError('E_OUTPUT_UNWRITABLE', `${option} ${given}: ${dir} is ${kindOf(real)}, so nothing can be written under it.`, {
          subject: { file: given },
          hint: `Choose ${option} in an existing folder.`,
        });
      }
      try {
        fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch (cause) {
        throw new TgateError('E_OUTPUT_UNWRITABLE', `${option} ${given}: the folder ${dir} is not writable (${(cause as NodeJS.ErrnoException).code}).`, {
          subject: { file: given },
          hint: `Choose ${option} in a folder you can write to.`,
          cause,
        });
      }
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Checks the file an option names before any work: see the top of this file. `kind`: what the
 * command writes there, so an existing file of another kind is refused rather than replaced.
 */
export function checkOutputFile(file: unknown, option: string, kind?: 'png' | 'npy'): string {
  const given = nonEmpty(file, option, 'a file path', kind === 'png' ? 'out.png' : kind === 'npy' ? 'out.npy' : 'out.txt');
  const st = lstat(given);
  if (st && !st.isSymbolicLink() && !st.isFile()) {
    throw new TgateError('E_OUTPUT_EXISTS', `${option} ${given} is ${kindOf(st)}; tgate writes a file there and does not replace ${kindOf(st)}.`, {
      subject: { file: given },
      hint: st.isDirectory()
        ? `Give a file path (e.g. ${path.join(given, kind === 'png' ? 'out.png' : kind === 'npy' ? 'out.npy' : 'out.txt')}).`
        : `Choose another path with ${option}.`,
    });
  }
  if (st?.isSymbolicLink()) {
    // A symlink is replaced by the new file, never written through; one to a folder reads as a folder.
    const target = (() => {
      try {
        return fs.statSync(given);
      } catch {
        return null;
      }
    })();
    if (target?.isDirectory())
      throw new TgateError('E_OUTPUT_EXISTS', `${option} ${given} is a link to a folder; tgate writes a file there.`, {
        subject: { file: given },
        hint: `Give a file path with ${option}.`,
      });
  } else if (st && kind && !startsWith(given, MAGIC[kind].bytes)) {
    throw new TgateError('E_OUTPUT_EXISTS', `${option} ${given} exists and is not ${MAGIC[kind].what}; tgate does not overwrite it.`, {
      subject: { file: given },
      hint: `Choose another output path with ${option}.`,
    });
  }
  checkParent(given, option, given);
  return given;
}

/** Checks a folder an option names for output files (created if missing) before any work. */
export function checkOutputFolder(dir: unknown, option: string): string {
  const given = nonEmpty(dir, option, 'a folder path', 'out/steps');
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(given);
  } catch {
    st = lstat(given);
  }
  if (st && !st.isDirectory()) {
    throw new TgateError('E_OUTPUT_EXISTS', `${option} ${given} is ${st.isFile() ? 'a file' : kindOf(st)}; it names the folder tgate writes into.`, {
      subject: { file: given },
      hint: `Give ${option} a folder (it is created if missing).`,
    });
  }
  if (st) {
    try {
      fs.accessSync(given, fs.constants.W_OK | fs.constants.X_OK);
    } catch (cause) {
      throw new TgateError('E_OUTPUT_UNWRITABLE', `${option} ${given} is not writable (${(cause as NodeJS.ErrnoException).code}).`, {
        subject: { file: given },
        hint: `Choose ${option} in a folder you can write to.`,
        cause,
      });
    }
  } else {
    checkParent(given, option, given);
  }
  return given;
}
