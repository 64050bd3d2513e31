// Interrupted runs leave nothing behind: on SIGINT (Ctrl-C), SIGTERM and SIGHUP the removals that
// the library registered (staging folders, temporary files and folders, lock files:
// base/output/cleanup.ts) run, then the process exits with 128 + the signal's number (130,
// 143, 129), as shells expect. At exit they run too (a process.exit elsewhere, an uncaught
// error). This is also where the library learns the process's pid and how to tell whether another
// pid is alive, which the names of its temporary files carry (base/output/identity.ts).
import os from 'node:os';
import { pendingCleanups, runPendingCleanups } from '../base/output/cleanup.js';
import { setProcessIdentity } from '../base/output/identity.js';

const HANDLED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let installed = false;

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  setProcessIdentity({ pid: process.pid, isAlive });
  for (const signal of HANDLED) {
    process.on(signal, () => {
      const unfinished = pendingCleanups();
      runPendingCleanups();
      process.stderr.write(`tgate: interrupted (${signal})${unfinished ? '; removed the unfinished output' : ''}.\n`);
      process.exit(128 + os.constants.signals[signal]);
    });
  }
  process.on('exit', runPendingCleanups);
}

// Imported by main.ts for this effect: the handlers are in place before any command runs.
installSignalHandlers();
