// The fuzz test's sandboxes: one folder per case holding copies of tiny valid inputs, a secret file
// next to them, private HOME and TMPDIR, and an empty out/. Listings of a sandbox before and after
// a command show every file written, changed or deleted, wherever it is.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { encodeNpy } from '../../runtime/npy.js';
import { SECRET } from './hostile.js';
import { CLI, ROOT } from '../helpers/paths.js';

/** Valid inputs made once per run; every sandbox starts from copies of them. */
export interface Base {
  dir: string;
  /** The compiled shapes pipeline. */
  pipeline: string;
}

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SHAPES = path.join(ROOT, 'fixtures/models/shapes');

/** The valid scheduler config the scheduler mutations start from (the shapes pipeline's, DDIM). */
export const SCHEDULER_CONFIG = path.join(SHAPES, 'scheduler/scheduler_config.json');

function compileOnce(source: string, out: string): void {
  const r = spawnSync(process.execPath, [CLI, 'compile', source, '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fuzz: compiling the valid fixture ${source} failed (exit ${r.status}):\n${r.stderr}`);
}

function npy(dims: number[], seed: number): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.8);
  return encodeNpy({ dtype: 'float32', shape: dims, data });
}

export function makeBase(dir: string): Base {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(TINY, path.join(dir, 'model.onnx'));
  compileOnce(path.join(dir, 'model.onnx'), path.join(dir, 'c'));
  // The tiny UNet: latents [B, 4, H/8, W/8], text [B, sequence, 12] (77 tokens, as the seeded
  // stand-in for a conditioning not given has).
  fs.writeFileSync(path.join(dir, 'x.npy'), npy([1, 4, 4, 4], 1));
  fs.writeFileSync(path.join(dir, 'cond.npy'), npy([1, 77, 12], 2));
  fs.copyFileSync(SCHEDULER_CONFIG, path.join(dir, 'sched.json'));
  // A copy first: compile hard-links a pipeline's files, and no sandbox may reach the repo's.
  // Made here, up front: a 2-3 s compile in the middle of a run would hold up the timers of the
  // cases running meanwhile.
  fs.cpSync(SHAPES, path.join(dir, 'shapes-src'), { recursive: true });
  compileOnce(path.join(dir, 'shapes-src'), path.join(dir, 'p'));
  return { dir, pipeline: path.join(dir, 'p') };
}

/** Who runs the commands: as root, the unprivileged `nobody`, so a hostile path cannot reach far. */
export function childIdentity(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  return { uid: 65534, gid: 65534 };
}

/**
 * A fresh sandbox: in/ (model.onnx, orig.onnx, c/, x.npy, cond.npy, sched.json and, when asked,
 * p/), secret.bin, home/, tmp/ and out/. Copies, never links: a command that writes through a
 * link must only ever damage the sandbox.
 */
export function makeSandbox(base: Base, dir: string, withPipeline: boolean): string {
  const s = path.join(dir, 's');
  const inDir = path.join(s, 'in');
  fs.mkdirSync(inDir, { recursive: true });
  for (const f of ['model.onnx', 'x.npy', 'cond.npy', 'sched.json']) fs.copyFileSync(path.join(base.dir, f), path.join(inDir, f));
  fs.copyFileSync(path.join(base.dir, 'model.onnx'), path.join(inDir, 'orig.onnx'));
  fs.cpSync(path.join(base.dir, 'c'), path.join(inDir, 'c'), { recursive: true });
  if (withPipeline) fs.cpSync(base.pipeline, path.join(inDir, 'p'), { recursive: true, dereference: true });
  fs.writeFileSync(path.join(s, 'secret.bin'), `${SECRET}\n`);
  for (const d of ['home', 'tmp', 'out']) fs.mkdirSync(path.join(s, d));
  return s;
}

/** Hands the sandbox to the child's user (it must be able to write out/, home/ and tmp/). */
export function chownTree(dir: string, id: { uid: number; gid: number } | null): void {
  if (!id) return;
  const walk = (p: string) => {
    fs.lchownSync(p, id.uid, id.gid);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  // The case folder above the sandbox too: `-o ..` must be refused for its own reasons, not EACCES.
  fs.lchownSync(path.dirname(dir), id.uid, id.gid);
}

/** Path (relative to the sandbox) -> what it is: type, mode, size, mtime and a digest of small files. */
export type Listing = Map<string, string>;

export function listSandbox(root: string, exclude: string | null): Listing {
  const out: Listing = new Map();
  const skip = exclude === null ? null : path.resolve(root, exclude);
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = path.join(dir, name);
      if (skip !== null && p === skip) continue;
      const sig = signature(p);
      if (sig === null) continue;
      out.set(path.relative(root, p), sig);
      if (sig.startsWith('dir')) walk(p);
    }
  };
  walk(root);
  return out;
}

/** What one entry is, without following a symlink: type, mode, size, mtime, a digest of small files. */
export function signature(p: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return null;
  }
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isDirectory()) return `dir ${mode}`;
  if (st.isSymbolicLink()) return `link -> ${fs.readlinkSync(p)}`;
  if (st.isFIFO()) return `fifo ${mode}`;
  if (st.isFile()) return `file ${mode} ${st.size} B, mtime ${st.mtimeMs}${st.size <= 4 << 20 ? `, sha256 ${digest(p)}` : ''}`;
  return `other ${mode}`;
}

function digest(p: string): string {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 16);
  } catch {
    return 'unreadable';
  }
}

export interface ListingDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export function diffListings(before: Listing, after: Listing): ListingDiff {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k) && !before.get(k)!.startsWith('dir'));
  return { added, removed, changed };
}

/** Whether anything (a dangling symlink too) is at `p`. */
export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
