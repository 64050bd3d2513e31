// One writer per target: a lock file `.<name>.lock` beside it, created with O_EXCL and holding the
// owner's pid. A second tgate run that targets the same path while the first is at work is refused
// (E_OUTPUT_LOCKED) instead of silently replacing what the first one writes. A lock whose pid is
// gone (the owner was killed with SIGKILL) is stale and taken over.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../errors.js';
import { onInterrupt } from './cleanup.js';
import { isDeadOwner, ownPid } from './identity.js';
import { writeNewFile } from './new-file.js';

export function lockFileOf(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.lock`);
}

/** The pid a lock file holds; null when it is not a small regular file holding one. */
function holderOf(file: string): number | null {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > 64) return null;
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock of `target` (an absolute path whose parent exists); returns its release.
 * `shown` names the target in messages as the user gave it.
 */
export function lockTarget(target: string, shown: string): () => void {
  const file = lockFileOf(target);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeNewFile(file, `${ownPid()}\n`);
      const remove = () => fs.rmSync(file, { force: true });
      const unregister = onInterrupt(remove);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        unregister();
        remove();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = holderOf(file);
    if (holder !== null && isDeadOwner(holder)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    throw new TgateError(
      'E_OUTPUT_LOCKED',
      `${shown} is being written by another tgate run${holder !== null ? ` (pid ${holder})` : ''}: tgate refuses to write it at the same time.`,
      {
        subject: { file: shown },
        hint: `Wait for that run to finish, or choose another output path. If no tgate run is at work, remove the lock file ${file}.`,
      },
    );
  }
  throw new TgateError('E_OUTPUT_LOCKED', `${shown} is being written by other tgate runs that keep taking its lock ${file}.`, {
    subject: { file: shown },
    hint: 'Wait for them to finish, or choose another output path.',
  });
}
