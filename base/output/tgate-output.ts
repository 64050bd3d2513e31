// What `compile --force` may replace: only a folder tgate wrote, recognised by its manifest
// (tgate.json, a regular file whose "format" is "tgate/<n>"). Any other folder (the current
// folder, a folder of the user's files) is refused even with --force: tgate never deletes what it
// did not write. The manifest is lstat'ed and size-checked before it is read (a FIFO or a huge
// file named tgate.json must not hang or exhaust the check).
import fs from 'node:fs';
import path from 'node:path';

/** The manifest's name (manifest.ts's MANIFEST_NAME; this layer is below it). */
const MANIFEST = 'tgate.json';
const MAX_MANIFEST_BYTES = 64 << 20;

/** null when `dir` holds a tgate manifest; else why it is not a tgate output. */
export function whyNotTgateOutput(dir: string): string | null {
  const file = path.join(dir, MANIFEST);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return `it holds no ${MANIFEST}, so tgate did not write it`;
  }
  if (!st.isFile()) return `its ${MANIFEST} is not a regular file`;
  if (st.size > MAX_MANIFEST_BYTES) return `its ${MANIFEST} is ${st.size} bytes, too large for a tgate manifest`;
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    const format = m !== null && typeof m === 'object' ? (m as { format?: unknown }).format : undefined;
    if (typeof format === 'string' && /^tgate\/\d+$/.test(format)) return null;
  } catch {
    // not JSON: said below
  }
  return `its ${MANIFEST} is not a tgate manifest (no "format": "tgate/<n>")`;
}
