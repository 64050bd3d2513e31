// Runs one tgate command as a user would (a child process of dist/cli/main.js) with bounds: a
// V8 heap limit, a peak-RSS limit polled from /proc (native buffers and onnxruntime do not count
// against the heap limit), a wall-clock timeout, and an optional interrupt part-way.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Interrupt } from './case.js';
import { CLI } from '../helpers/paths.js';

export interface Limits {
  timeoutMs: number;
  /** Peak resident memory the command may use; above it the command is killed and it is a failure. */
  rssMiB: number;
  /** Passed to node as --max-old-space-size. */
  heapMiB: number;
}

export const DEFAULT_LIMITS: Limits = { timeoutMs: 20_000, rssMiB: 1024, heapMiB: 512 };

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by the harness: over time or over memory. */
  timedOut: boolean;
  overMemory: boolean;
  /** The signal the harness sent as the case's interrupt, if it was sent before the command ended. */
  interrupted: NodeJS.Signals | null;
  peakRssMiB: number;
  ms: number;
  stdout: string;
  stderr: string;
}

const CAPTURE = 1 << 20;

function peakRssKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Whether the process still runs (not ended, not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function nonEmpty(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

export function runTgate(
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; limits: Limits; identity: { uid: number; gid: number } | null; interrupt?: Interrupt; watch?: string[] },
): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    // Its own process group, so that the harness can stop it and anything it started.
    const child = spawn(process.execPath, [`--max-old-space-size=${opts.limits.heapMiB}`, CLI, ...args], {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.identity ?? {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (outBytes < CAPTURE) out.push(d);
      outBytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errBytes < CAPTURE) err.push(d);
      errBytes += d.length;
    });
    let timedOut = false;
    let overMemory = false;
    let interrupted: NodeJS.Signals | null = null;
    let peak = 0;
    let done = false;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    // The interrupt's clock starts when the work shows (an entry in a watched folder), or after
    // 3 s without that.
    let workSeen: number | null = null;
    const poll = setInterval(() => {
      peak = Math.max(peak, peakRssKiB(child.pid!));
      if (peak > opts.limits.rssMiB * 1024 && !overMemory) {
        overMemory = true;
        killGroup('SIGKILL');
      }
      const i = opts.interrupt;
      if (!i || interrupted || done) return;
      const now = performance.now();
      if (workSeen === null && ((opts.watch ?? []).some(nonEmpty) || now - started > 3000)) workSeen = now;
      if (workSeen !== null && now - workSeen >= i.afterMs) {
        interrupted = i.signal;
        // As a terminal's Ctrl-C does: the whole foreground process group.
        killGroup(i.signal);
      }
    }, 25);
    const timer = setTimeout(() => {
      // A late timer (the harness busy) must not call a command that already ended too slow.
      if (!alive(child.pid!)) return;
      timedOut = true;
      killGroup('SIGKILL');
    }, opts.limits.timeoutMs);
    child.on('error', (e) => {
      err.push(Buffer.from(`fuzz harness: spawn failed: ${e.message}\n`));
    });
    child.on('close', (status, signal) => {
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      // Whatever the command left running in its group (a stuck helper) goes too.
      killGroup('SIGKILL');
      const text = (bs: Buffer[], n: number) => Buffer.concat(bs).toString('utf8').slice(0, CAPTURE) + (n > CAPTURE ? `\n…(${n} bytes in all)` : '');
      resolve({
        status,
        signal,
        timedOut,
        overMemory,
        interrupted,
        peakRssMiB: Math.round(peak / 1024),
        ms: Math.round(performance.now() - started),
        stdout: text(out, outBytes),
        stderr: text(err, errBytes),
      });
    });
  });
}
