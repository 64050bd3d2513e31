// Who owns a temporary file: names that may outlive a process killed with SIGKILL carry its pid,
// so the next run can tell a leftover of a dead process from the work of a live one. The library
// never touches `process` (the CLI owns it): cli/signals.ts installs the real pid and liveness
// check. Without it (tgate used as a library) names carry pid 0, and nothing is ever judged stale,
// which errs on the side of keeping files.

export interface ProcessIdentity {
  pid: number;
  /** Whether a process with this id exists (EPERM counts as alive: it exists, it is not ours). */
  isAlive(pid: number): boolean;
}

let current: ProcessIdentity = { pid: 0, isAlive: () => true };

export function setProcessIdentity(identity: ProcessIdentity): void {
  current = identity;
}

export function ownPid(): number {
  return current.pid;
}

/** A pid recorded in a name or a lock whose process is gone: what it left may be removed. */
export function isDeadOwner(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0 && pid !== current.pid && !current.isAlive(pid);
}
