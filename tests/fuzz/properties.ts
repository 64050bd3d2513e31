// What must hold after every fuzz case, whatever the input: the properties of issue 12's "make the
// class impossible". Each violation names its kind; the report groups cases by kind and message.
import fs from 'node:fs';
import path from 'node:path';
import { EXIT } from '../../cli/exit-codes.js';
import { parseNpy } from '../../runtime/npy.js';
import type { Case } from './case.js';
import { PASSWD_LINE, SECRET } from './hostile.js';
import { exists, type ListingDiff } from './sandbox.js';
import type { RunResult } from './run.js';

export type ViolationKind =
  | 'exit-70'
  | 'exit-undocumented'
  | 'signal'
  | 'timeout'
  | 'memory'
  | 'valid-input-refused'
  | 'outside-changed'
  | 'outside-written'
  | 'tmp-left'
  | 'home-left'
  | 'output-on-failure'
  | 'leak'
  | 'control-chars'
  | 'nonfinite-output'
  /** The fuzz harness itself failed on the case (a bug in tests/fuzz, not in tgate). */
  | 'harness-error';

export interface Violation {
  kind: ViolationKind;
  detail: string;
}

/**
 * The documented exit codes, read from cli/exit-codes.ts (as built) when the test runs, so codes
 * added there are allowed here without an edit: every value but `internal` (70, a bug in tgate).
 */
export function allowedExitCodes(): Set<number> {
  return new Set(
    Object.entries(EXIT)
      .filter(([k]) => k !== 'internal')
      .map(([, v]) => v as number),
  );
}

const SIGNO: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };

/** Raw control characters a terminal acts on (ESC, BEL, CR, backspace, C1): text output must escape them. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export interface Observed {
  run: RunResult;
  diff: ListingDiff;
  sandbox: string;
  /** Whether the output path existed before the command. */
  outputExisted: boolean;
  /** Files under the output that the command wrote (new or changed; absolute paths). */
  outputWritten: string[];
  /** Files that appeared outside the sandbox (in /tmp, /var/tmp, /dev/shm), owned by the command's user. */
  stray: string[];
}

export function check(c: Case, o: Observed): Violation[] {
  const v: Violation[] = [];
  const r = o.run;
  const add = (kind: ViolationKind, detail: string) => v.push({ kind, detail });
  const killedByUs = r.timedOut || r.overMemory;
  if (r.timedOut) add('timeout', `still running after ${r.ms} ms (peak RSS ${r.peakRssMiB} MiB)`);
  if (r.overMemory) add('memory', `peak RSS ${r.peakRssMiB} MiB after ${r.ms} ms`);
  const interrupted = r.interrupted;
  const endedByInterrupt = interrupted !== null && (r.signal === interrupted || r.status === 128 + SIGNO[interrupted]!);
  if (!killedByUs && !endedByInterrupt) {
    if (r.signal) add('signal', `killed by ${r.signal}: ${lastLines(r.stderr)}`);
    else if (r.status === EXIT.internal) add('exit-70', internalErrorLine(r.stderr));
    else if (r.status === null || !allowedExitCodes().has(r.status)) add('exit-undocumented', `exit ${r.status}: ${lastLines(r.stderr)}`);
    else if (c.expect === 'ok' && r.status !== 0) add('valid-input-refused', `exit ${r.status}: ${firstLine(r.stderr)}`);
  }

  // Files: nothing outside the output changes; nothing is left in TMPDIR or HOME.
  const inside = (rel: string, dir: string) => rel === dir || rel.startsWith(dir + path.sep);
  const ancestorOfOutput = (rel: string) => c.output !== null && inside(path.normalize(c.output), rel);
  const changed = [...o.diff.removed.map((p) => `deleted ${p}`), ...o.diff.changed.map((p) => `changed ${p}`)].filter((s) => !/ (tmp|home)(\/|$)/.test(s));
  if (changed.length) add('outside-changed', list(changed));
  if (!killedByUs) {
    const addsInto = c.addsInto === undefined ? null : path.normalize(c.addsInto);
    const added = [
      ...o.diff.added.filter(
        (p) => !inside(p, 'tmp') && !inside(p, 'home') && !ancestorOfOutput(p) && !(addsInto !== null && (addsInto === '.' || inside(p, addsInto))),
      ),
      ...o.stray.map((p) => `${p} (outside the sandbox)`),
    ];
    if (added.length) add('outside-written', list(added));
    const tmp = o.diff.added.filter((p) => inside(p, 'tmp'));
    if (tmp.length) add('tmp-left', list(tmp));
    const home = o.diff.added.filter((p) => inside(p, 'home'));
    if (home.length) add('home-left', list(home));
    // A failed command leaves no output. An interrupted one may have committed it just before the
    // signal came: a complete output (a folder with its manifest or report, a non-empty file) is
    // fine then; the staging it worked in is what the checks above look for.
    const out = c.output === null ? null : path.join(o.sandbox, c.output);
    if (out !== null && !o.outputExisted && exists(out)) {
      if (endedByInterrupt ? !complete(out) : r.status !== 0)
        add('output-on-failure', `${c.output} exists${endedByInterrupt ? ' (incomplete)' : ''} after ${endedByInterrupt ? interrupted : `exit ${r.status}`}`);
    }
  }

  // Secrets: neither the sandbox's secret nor /etc/passwd in messages or anything written.
  const written = [...o.outputWritten, ...o.diff.added.map((p) => path.join(o.sandbox, p)).filter(isFile)];
  const leaks = [['stdout', r.stdout], ['stderr', r.stderr], ...written.map((f) => [path.relative(o.sandbox, f), readSome(f)])].filter(
    ([, text]) => text!.includes(SECRET) || PASSWD_LINE.test(text!),
  );
  if (leaks.length) add('leak', `secret or /etc/passwd content in ${leaks.map(([w]) => w).join(', ')}`);

  const ctl = [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ].filter(([, t]) => CONTROL.test(t!));
  if (ctl.length) add('control-chars', ctl.map(([w, t]) => `${w}: ${JSON.stringify(around(t!, CONTROL))}`).join('; '));

  // Exit 0 must be a right answer: the latents a generation writes are finite.
  if (r.status === 0 && (c.args[0] === 'run' || c.args[0] === 'generate')) {
    for (const f of o.outputWritten.filter((f) => f.endsWith('.npy'))) {
      try {
        const a = parseNpy(fs.readFileSync(f), f);
        const bad = Array.from(a.data as Float32Array).findIndex((x) => typeof x === 'number' && !Number.isFinite(x));
        if (bad >= 0) add('nonfinite-output', `${path.relative(o.sandbox, f)}[${bad}] is ${(a.data as Float32Array)[bad]}`);
      } catch (e) {
        add('nonfinite-output', `${path.relative(o.sandbox, f)} unreadable: ${(e as Error).message}`);
      }
    }
  }
  return v;
}

/** A committed output: a folder holding tgate.json or report.md, or a non-empty file. */
function complete(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? ['tgate.json', 'report.md'].some((f) => exists(path.join(p, f))) : st.size > 0;
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}

function readSome(f: string): string {
  try {
    const fd = fs.openSync(f, 'r');
    const b = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 64 << 20));
    fs.readSync(fd, b, 0, b.length, 0);
    fs.closeSync(fd);
    return b.toString('latin1');
  } catch {
    return '';
  }
}

function list(xs: string[]): string {
  return xs.slice(0, 4).join(', ') + (xs.length > 4 ? ` (+${xs.length - 4})` : '');
}

function around(t: string, re: RegExp): string {
  const i = t.search(re);
  return t.slice(Math.max(0, i - 30), i + 30);
}

export function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim()) ?? '').slice(0, 300);
}

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-2).join(' | ').slice(0, 300);
}

/** The line that says what went wrong in an internal error: its message, then where it was thrown. */
function internalErrorLine(stderr: string): string {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.includes('internal error'));
  if (i < 0) return firstLine(stderr);
  const at = lines.slice(i + 1).find((l) => /^\s+at /.test(l) && l.includes('/dist/'));
  return `${lines[i]!.replace(/^tgate: internal error: /, '').slice(0, 200)}${at ? ` ${at.trim().replace(/\(.*\/dist\//, '(dist/')}` : ''}`;
}
