// Names of what tgate creates for a while beside a target (a staging folder, the old folder it
// replaces, a temporary file, a temporary folder under the system's temp folder):
// `<prefix><pid>-<random>`, e.g. `.out.tmp-4242-a1B2c3`. A run interrupted by SIGKILL (which no
// handler sees) leaves such names behind; the pid in them lets the next run that targets the same
// path remove exactly those of dead processes, and never the work of a live one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isDeadOwner, ownPid } from './identity.js';

const OWNED = /^(\d+)-[A-Za-z0-9]+$/;

/** A fresh name under `prefix` for this process (for a file; folders use ownedTempDir). */
export function ownedName(prefix: string): string {
  return `${prefix}${ownPid()}-${crypto.randomBytes(6).toString('hex')}`;
}

/** mkdtemp under `prefix` in `parent`, the name carrying this process's pid. */
export function ownedTempDir(parent: string, prefix: string): string {
  return fs.mkdtempSync(path.join(parent, `${prefix}${ownPid()}-`));
}

/** The pid an entry's name carries under `prefix`, or null when it is no such name. */
export function ownerOf(name: string, prefix: string): number | null {
  if (!name.startsWith(prefix)) return null;
  const m = OWNED.exec(name.slice(prefix.length));
  return m ? Number(m[1]) : null;
}

/** Removes the entries of `parent` named under `prefix` by processes that are gone; returns their names. */
export function removeDeadLeftovers(parent: string, prefix: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = ownerOf(name, prefix);
    if (pid === null || !isDeadOwner(pid)) continue;
    fs.rmSync(path.join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
