// Work in progress that must not outlive an interrupted run: staging folders, temporary files,
// lock files. Whoever creates one registers how to remove it and unregisters once it is committed
// or removed; cli/signals.ts runs what is left on SIGINT/SIGTERM/SIGHUP (and at exit) before the
// process ends. Actions are synchronous because a signal handler exits right after them.

type Action = () => void;

const pending = new Set<Action>();

/** Registers a removal to run if the process is interrupted; returns the function that unregisters it. */
export function onInterrupt(action: Action): () => void {
  pending.add(action);
  return () => {
    pending.delete(action);
  };
}

/** Runs every registered removal, newest first (a staging folder before the lock that guards it); never throws. */
export function runPendingCleanups(): void {
  for (const action of [...pending].reverse()) {
    pending.delete(action);
    try {
      action();
    } catch {
      // Best effort: the process is ending; a leftover is recognisable by its name (leftovers.ts).
    }
  }
}

/** How many removals are registered (for tests: none once a command has returned). */
export function pendingCleanups(): number {
  return pending.size;
}
