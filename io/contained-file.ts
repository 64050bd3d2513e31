// THE way tgate opens a file that a compiled folder names (tgate.json itself, the variant and
// gated graphs, the weights, a compiled pipeline's components and configs). A compiled folder may
// come from anyone (downloaded, unpacked, edited), so nothing it says is trusted: every such path
// goes through containedFile/readContained, which
//   - refuses a name that is absolute or climbs out with ".." (before touching the disk),
//   - resolves symlinks and refuses a path that ends up outside the folder (a link inside the
//     folder that stays inside is fine),
//   - refuses anything but a regular file (a folder, a FIFO, a device, a socket) after lstat, and
//     again on the opened descriptor: the open uses O_NOFOLLOW | O_NONBLOCK, so a FIFO swapped in
//     between can neither redirect it nor block it,
//   - refuses a file larger than its kind may be, before reading a byte,
// and reads at most the size it checked. Errors name the file, never its contents.
// readRegularFile/regularFile apply the same file rules (not the folder rule) to paths a user
// names directly, such as a source pipeline's configs and tokenizer files.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError, type ErrorCode } from '../base/errors.js';
import { isInsideDir } from './links.js';

/** What a file is for: decides its size limit and how errors talk about it. */
export type ContainedKind = 'manifest' | 'graph' | 'weights' | 'config';

const MiB = 1024 * 1024;

/**
 * The largest file of each kind tgate accepts. A manifest lists names and shapes (tens to
 * hundreds of KiB, even for SD-XL); a graph is one protobuf message, which protobuf caps at 2 GiB (larger models keep
 * their weights in external data); config and tokenizer files are small JSON/text. Weights are
 * never read by tgate (onnxruntime maps them): their bound is the graphs' external-data ranges,
 * checked by checkExternalData.
 */
export const MAX_BYTES: Record<ContainedKind, number> = {
  manifest: 16 * MiB,
  graph: 2 * 1024 * MiB - 1,
  config: 64 * MiB,
  weights: Number.MAX_SAFE_INTEGER,
};

export interface ContainedFile {
  /** The resolved path (symlinks followed, inside the folder): what callers hand on. */
  path: string;
  size: number;
}

export interface ContainedOptions {
  kind: ContainedKind;
  /** What the file is, for messages: "planning variant", "weights file", "manifest". */
  what: string;
  /** Where the name came from, for messages: "variants[0].file"; absent for fixed names. */
  field?: string;
  /** The manifest the name came from (the error's subject when the name itself is bad). */
  manifest?: string;
}

const HINT = 'The compiled folder is damaged or was not written by tgate: recompile the model (tgate compile <model.onnx> -o <dir> --force).';

/** A string as messages may show it: quoted, control characters escaped, bounded. */
export function quoted(s: string, max = 80): string {
  const q = JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
  // JSON escapes C0 controls; C1 controls (U+0080-U+009F, e.g. CSI) and DEL reach terminals too.
  return q.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Why a name from a manifest cannot name a file inside the folder, or null when it can: names are
 * relative, '/'-separated, never climb with "..", never empty or NUL-bearing. compile writes only
 * such names ("planning.onnx", "unet/weights.onnx_data").
 */
export function unsafeNameReason(name: string): string | null {
  if (name === '') return 'it is empty';
  if (name.length > 4096) return 'it is longer than any path';
  if (name.includes('\0')) return 'it contains a NUL character';
  if (name.includes('\\')) return 'it contains a backslash (names are "/"-separated)';
  if (path.posix.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) return 'it is an absolute path';
  if (name.split('/').includes('..')) return 'it climbs out of the folder with ".."';
  if (name.split('/').every((s) => s === '' || s === '.')) return 'it names the folder itself';
  return null;
}

/** For files the user named directly (not through a compiled folder). */
const PLAIN_HINT = 'tgate reads regular files only (not folders, FIFOs or devices), of a size their kind can have: point it at the file itself.';

function refuseWith(code: ErrorCode, message: string, file: string, hint = HINT): TgateError {
  return new TgateError(code, message, {
    subject: { file },
    hint: code === 'E_UNSAFE_LINK' && hint === HINT ? 'Replace the symlink with the file itself (tgate compile writes none), or recompile the model.' : hint,
  });
}

/**
 * Checks that `name` (as a manifest or a fixed layout names it) is a regular file inside `root`
 * whose size is within its kind's limit; returns its resolved path and size. Reads nothing.
 */
export function containedFile(root: string, name: string, o: ContainedOptions): ContainedFile {
  const fd = openContained(root, name, o);
  try {
    return { path: fd.path, size: fd.size };
  } finally {
    fs.closeSync(fd.fd);
  }
}

/** containedFile, then its bytes: exactly the size checked, never more. */
export function readContained(root: string, name: string, o: ContainedOptions): ContainedFile & { bytes: Buffer } {
  return readOpen(openContained(root, name, o));
}

function openContained(root: string, name: string, o: ContainedOptions): ContainedFile & { fd: number } {
  const label = `${o.what} ${quoted(name)}${o.field ? ` (${o.field} in tgate.json)` : ''}`;
  const bad = unsafeNameReason(name);
  if (bad)
    throw new TgateError('E_BAD_MANIFEST', `The ${label} cannot name a file inside the compiled folder ${root}: ${bad}; tgate refuses to open it.`, {
      subject: { file: o.manifest ?? root },
      hint: HINT,
    });
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    throw refuseWith('E_FILE_MISSING', `The compiled folder ${root} does not exist.`, root);
  }
  const given = path.join(root, name);
  let real: string;
  try {
    real = fs.realpathSync(path.join(realRoot, name));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refuseWith('E_UNSAFE_LINK', `The ${label} is a symlink loop in ${root}.`, given);
    throw refuseWith(
      'E_FILE_MISSING',
      `The compiled folder ${root} has no ${label}${code === 'ENOENT' ? '' : ` (${code})`}: it is incomplete${isLink(given) ? ' (a symlink leading nowhere)' : ''}.`,
      given,
    );
  }
  if (!isInsideDir(real, realRoot) || real === realRoot) {
    throw refuseWith('E_UNSAFE_LINK', `The ${label} leads outside the compiled folder ${root} through a symlink; tgate refuses to follow it.`, given);
  }
  return openRegular(real, `${label} in ${root}`, o.kind, given, HINT);
}

/**
 * A file tgate reads whose path the user gave (a source pipeline's config, a tokenizer file):
 * not confined to a folder, but the rest of the rules hold (a regular file, never a FIFO or a
 * device, at most its kind's size), and reads at most that size.
 */
export function readRegularFile(file: string, o: { kind: ContainedKind; what: string }): ContainedFile & { bytes: Buffer } {
  return readOpen(openRegular(resolved(file, o.what), `${o.what} ${file}`, o.kind, file, PLAIN_HINT));
}

/** readRegularFile's checks without the read: for a path handed to onnxruntime. Returns the resolved path. */
export function regularFile(file: string, o: { kind: ContainedKind; what: string }): ContainedFile {
  const f = openRegular(resolved(file, o.what), `${o.what} ${file}`, o.kind, file, PLAIN_HINT);
  fs.closeSync(f.fd);
  return { path: f.path, size: f.size };
}

function resolved(file: string, what: string): string {
  try {
    return fs.realpathSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw refuseWith(
      code === 'ELOOP' ? 'E_UNSAFE_LINK' : 'E_FILE_MISSING',
      `The ${what} ${file} ${code === 'ELOOP' ? 'is a symlink loop' : code === 'ENOENT' ? 'does not exist' : `cannot be found (${code})`}.`,
      file,
      PLAIN_HINT,
    );
  }
}

/** lstat, then open without following links or blocking, then fstat the descriptor: the checks of a regular file of bounded size. */
function openRegular(real: string, label: string, kind: ContainedKind, given: string, hint: string): ContainedFile & { fd: number } {
  const refuse = (code: ErrorCode, message: string, file: string) => refuseWith(code, message, file, hint);
  const notRegular = (st: fs.Stats) => refuse('E_NOT_REGULAR_FILE', `The ${label} is ${kindOf(st)}, not a regular file.`, given);
  let before: fs.Stats;
  try {
    before = fs.lstatSync(real);
  } catch (cause) {
    throw refuse('E_FILE_MISSING', `The ${label} vanished while tgate opened it (${(cause as NodeJS.ErrnoException).code}).`, given);
  }
  // Refused before opening: opening a device or a FIFO can block or have effects.
  if (!before.isFile()) throw notRegular(before);
  let fd: number;
  try {
    fd = fs.openSync(real, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refuse('E_UNSAFE_LINK', `The ${label} became a symlink while tgate opened it.`, given);
    throw refuse('E_FILE_MISSING', `The ${label} cannot be opened (${code}).`, given);
  }
  try {
    const st = fs.fstatSync(fd);
    // The descriptor is what gets read: it must be the file lstat saw (nothing swapped in between).
    if (!st.isFile()) throw notRegular(st);
    if (st.ino !== before.ino || st.dev !== before.dev) throw refuse('E_UNSAFE_LINK', `The ${label} was replaced while tgate opened it.`, given);
    const max = MAX_BYTES[kind];
    if (st.size > max) {
      throw refuse(
        'E_FILE_TOO_LARGE',
        `The ${label} has ${st.size} bytes; a ${kind} file may have at most ${max} bytes${kind === 'graph' ? " (protobuf's limit)" : ''}.`,
        given,
      );
    }
    return { fd, path: real, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads an open file's checked size (never more), then closes it. */
function readOpen(f: ContainedFile & { fd: number }): ContainedFile & { bytes: Buffer } {
  try {
    const buf = Buffer.allocUnsafe(f.size);
    let done = 0;
    while (done < f.size) {
      const n = fs.readSync(f.fd, buf, done, f.size - done, done);
      if (n === 0) break; // shrank since fstat: what is there
      done += n;
    }
    return { path: f.path, size: done, bytes: done === f.size ? buf : buf.subarray(0, done) };
  } finally {
    fs.closeSync(f.fd);
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a file';
}
