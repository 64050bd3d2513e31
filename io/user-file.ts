// THE way the runtime reads a file a user names on the command line or hands to the library
// (a .npy tensor, an img2img PNG, a --scheduler-config): such a path may be a typo for a folder,
// a FIFO, a device (/dev/zero), or a file far too large, and each of those must be a coded error
// (exit 3) naming the file, never a hang, an out-of-memory crash or "internal error". So:
//   - stat first (symlinks followed: the user chose this path), and refuse anything but a regular
//     file before opening it (opening a FIFO blocks, a device can have effects);
//   - refuse a file over the caller's size bound before reading a byte;
//   - open with O_NONBLOCK and check the descriptor again (nothing swapped in between), then read
//     at most the size checked.
// (A compiled folder's own files go through io/contained-file.ts, which also keeps them
// inside the folder.)
import fs from 'node:fs';
import { TgateError } from '../base/errors.js';

export interface UserFileOptions {
  /** What the file is, for messages: "tensor file", "image", "scheduler config". */
  what: string;
  /** The largest size accepted, in bytes. */
  maxBytes: number;
  /** What to give instead, for the hint. */
  hint: string;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function readUserFile(file: string, o: UserFileOptions): Buffer {
  if (typeof file !== 'string' || file === '') throw new TgateError('E_USAGE', `No ${o.what} given (an empty path).`, { hint: o.hint });
  const notRegular = (st: fs.Stats) =>
    new TgateError('E_NOT_REGULAR_FILE', `The ${o.what} ${file} is ${kindOf(st)}, not a file.`, { subject: { file }, hint: o.hint });
  const tooLarge = (size: number) =>
    new TgateError('E_FILE_TOO_LARGE', `The ${o.what} ${file} has ${size} bytes; tgate reads at most ${o.maxBytes} bytes for it.`, {
      subject: { file },
      hint: o.hint,
    });
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TgateError(
      'E_FILE_MISSING',
      `The ${o.what} ${file} ${code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code})`}.`,
      { subject: { file }, hint: o.hint, cause },
    );
  }
  if (!st.isFile()) throw notRegular(st);
  if (st.size > o.maxBytes) throw tooLarge(st.size);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0));
  } catch (cause) {
    throw new TgateError('E_FILE_MISSING', `The ${o.what} ${file} cannot be opened (${(cause as NodeJS.ErrnoException).code}).`, {
      subject: { file },
      hint: o.hint,
      cause,
    });
  }
  try {
    const now = fs.fstatSync(fd);
    if (!now.isFile()) throw notRegular(now);
    if (now.size > o.maxBytes) throw tooLarge(now.size);
    const buf = Buffer.allocUnsafe(now.size);
    let done = 0;
    while (done < now.size) {
      const n = fs.readSync(fd, buf, done, now.size - done, done);
      if (n === 0) break; // shrank since fstat: what is there
      done += n;
    }
    return done === now.size ? buf : buf.subarray(0, done);
  } catch (e) {
    if (e instanceof TgateError) throw e;
    throw new TgateError('E_FILE_MISSING', `The ${o.what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, {
      subject: { file },
      hint: o.hint,
      cause: e,
    });
  } finally {
    fs.closeSync(fd);
  }
}
