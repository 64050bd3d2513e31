// The one way tgate puts bytes into a file it is building: a NEW file, created with O_EXCL ('wx').
// Opening an existing name fails instead of truncating it, so a write can never go through a hard
// link or a symlink that already sits at that name (a source file linked into a compile's output,
// a user's file) and destroy what it points at. Replacing a file is done by renaming a new one
// over it (atomic-file.ts), never by writing into it.
import fs from 'node:fs';

export type FileData = string | Uint8Array | Iterable<Uint8Array>;

export function writeNewFile(file: string, data: FileData): void {
  const fd = fs.openSync(file, 'wx');
  try {
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    }
  } finally {
    fs.closeSync(fd);
  }
}
