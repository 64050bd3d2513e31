// Where things are for tests: the repo root, ../shared (absent on a user's fresh clone: tests
// that need it skip with a printed reason), and scratch folders that clean themselves up.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED = process.env.TGATE_SHARED ?? path.resolve(ROOT, '../shared');
export const FIXTURES = path.join(SHARED, 'fixtures');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

export function sharedAvailable(what: string): boolean {
  const ok = fs.existsSync(path.join(FIXTURES, 'sd15-tiny/model.onnx'));
  if (!ok) console.log(`SKIPPED ${what}: ${FIXTURES} is absent (it ships beside the repo in CI, not in a fresh clone).`);
  return ok;
}

export function scratch(prefix = 'tgate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Every file under a folder with its bytes' sha256, for byte-identity checks. */
export function folderDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = sha256(fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

export function sha256(b: Uint8Array): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}
