// A private working folder under the system's temp folder (bench and calibrate compile a model
// there): `tgate-<label>-<pid>-<random>`, removed when the work ends, fails or is interrupted;
// the leftovers of runs killed with SIGKILL are removed by the next run with the same label.
import fs from 'node:fs';
import os from 'node:os';
import { onInterrupt } from './cleanup.js';
import { ownedTempDir, removeDeadLeftovers } from './leftovers.js';

export interface TemporaryFolder {
  dir: string;
  /** Removes the folder and everything in it; safe to call twice. */
  remove(): void;
}

export function temporaryFolder(label: string): TemporaryFolder {
  const parent = os.tmpdir();
  const prefix = `tgate-${label}-`;
  removeDeadLeftovers(parent, prefix);
  const dir = ownedTempDir(parent, prefix);
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  const unregister = onInterrupt(remove);
  return {
    dir,
    remove() {
      unregister();
      remove();
    },
  };
}

/** Runs `work` in a temporary folder that is removed afterwards, whatever happens. */
export async function withTemporaryFolder<T>(label: string, work: (dir: string) => Promise<T>): Promise<T> {
  const tmp = temporaryFolder(label);
  try {
    return await work(tmp.dir);
  } finally {
    tmp.remove();
  }
}
