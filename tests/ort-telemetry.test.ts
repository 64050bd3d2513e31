// onnxruntime-node's telemetry writes a debug log into the temp folder and an event store under the
// home folder's cache (runtime/ort.ts). tgate turns it off: a compile (which proves its variants in
// onnxruntime) and a run leave the temp and home folders they were given empty.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT } from './helpers/paths.js';

function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

describe('onnxruntime writes nothing outside the named folders', () => {
  test('compile and run with a fresh HOME and TMPDIR leave both empty', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-telemetry-'));
    try {
      const home = path.join(work, 'home');
      const tmp = path.join(work, 'tmp');
      fs.mkdirSync(home);
      fs.mkdirSync(tmp);
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: path.join(home, '.cache') };
      delete env.ORT_DISABLE_TELEMETRY;
      const out = path.join(work, 'out');
      const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: 'utf8' });
      const c = run(['compile', 'fixtures/models/tiny-unet.onnx', '-o', out]);
      expect(c.stderr).toBe('');
      expect(c.status).toBe(0);
      const r = run(['run', out, '--steps', '3', '--height', '64', '--width', '64', '--json']);
      expect(r.status).toBe(0);
      expect(listing(tmp)).toEqual([]);
      expect(listing(home)).toEqual([]);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
