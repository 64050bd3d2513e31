// Runs fuzz cases end to end: a sandbox per case, the mutations, the command (as `nobody` when
// the harness is root), the before/after listings and the properties. Two at a time by default,
// one per core of the machines the suite runs on.
import fs from 'node:fs';
import path from 'node:path';
import type { Case } from './case.js';
import { ensureSpecials, resolveToken, SPECIAL } from './hostile.js';
import { applyMutations } from './mutate.js';
import { check, type Violation } from './properties.js';
import { DEFAULT_LIMITS, runTgate, type Limits, type RunResult } from './run.js';
import { chownTree, childIdentity, diffListings, exists, listSandbox, makeSandbox, signature, type Base } from './sandbox.js';

export interface Outcome {
  case: Case;
  run: RunResult;
  violations: Violation[];
  /** Mutations that found nothing to act on (the case ran anyway). */
  notes: string[];
  /** The sandbox, when kept for a look. */
  kept: string | null;
}

export interface ExecOptions {
  base: Base;
  /** Where case folders go (one per case, removed afterwards unless kept). */
  root: string;
  limits?: Limits;
  /** Keep the sandbox of every failing case (bench --keep), or of every case (replay). */
  keep?: 'failures' | 'all' | 'none';
}

let counter = 0;

/** Special files an argument names (in/fz-fifo, NAME=in/fz-link-zero) are made where it points. */
function argSpecials(args: string[], sandbox: string): void {
  for (const a of args) {
    for (const name of Object.values(SPECIAL)) {
      const i = a.indexOf(name);
      if (i < 0) continue;
      let prefix = a.slice(0, i);
      prefix = prefix.slice(prefix.lastIndexOf('=') + 1);
      const dir = path.resolve(sandbox, prefix || '.');
      if (dir === sandbox || dir.startsWith(sandbox + path.sep)) ensureSpecials(name, dir, sandbox);
    }
  }
}

/** The environment a user's shell would give, with HOME and TMPDIR private to the sandbox. */
function childEnv(sandbox: string): NodeJS.ProcessEnv {
  const tmp = path.join(sandbox, 'tmp');
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: path.join(sandbox, 'home'), TMPDIR: tmp, TMP: tmp, TEMP: tmp };
}

export async function executeCase(c: Case, opts: ExecOptions): Promise<Outcome> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const caseDir = fs.mkdtempSync(path.join(opts.root, `case-${++counter}-`));
  const needsPipeline = [...c.args, ...c.mutations.map((m) => m.file)].some((s) => s.startsWith('in/p'));
  const sandbox = makeSandbox(opts.base, caseDir, needsPipeline);
  const notes = applyMutations(sandbox, c.mutations);
  const args = c.args.map((a) => resolveToken(a, sandbox));
  argSpecials(args, sandbox);
  const identity = childIdentity();
  chownTree(sandbox, identity);
  const before = listSandbox(sandbox, c.output);
  const outputPath = c.output === null ? null : path.join(sandbox, c.output);
  let outputExisted = outputPath !== null && exists(outputPath);
  const outputBefore = outputPath === null ? new Map() : listOutput(outputPath);
  const strayBefore = strayFiles(identity);
  const env = childEnv(sandbox);
  const watch = [path.join(sandbox, 'out'), path.join(sandbox, 'tmp')];
  let run = await runTgate(args, { cwd: sandbox, env, limits, identity, interrupt: c.interrupt, watch });
  // A killed compile's leftovers must be cleaned by the next run that targets the same path.
  // (A SIGKILL after the output was committed leaves it complete: the rerun may then refuse it.)
  if (c.interrupt?.rerun && run.interrupted) {
    outputExisted = outputPath !== null && exists(outputPath);
    run = await runTgate(args, { cwd: sandbox, env, limits, identity });
  }
  const after = listSandbox(sandbox, c.output);
  const outputAfter = outputPath === null ? new Map() : listOutput(outputPath);
  const outputWritten = [...outputAfter.keys()]
    .filter((k) => outputAfter.get(k)!.startsWith('file') && outputBefore.get(k) !== outputAfter.get(k))
    .map((k) => path.join(outputPath!, k));
  const stray = [...strayFiles(identity)].filter((p) => !strayBefore.has(p));
  // What the command left outside the sandbox is reported, then removed (it is ours to clean).
  for (const p of stray) fs.rmSync(p, { recursive: true, force: true });
  const violations = check(c, { run, diff: diffListings(before, after), sandbox, outputExisted, outputWritten, stray });
  const keep = opts.keep === 'all' || (opts.keep === 'failures' && violations.length > 0);
  if (!keep) fs.rmSync(caseDir, { recursive: true, force: true });
  return { case: c, run, violations, notes, kept: keep ? sandbox : null };
}

/** The output's files (relative to it; '' for an output that is one file). */
function listOutput(p: string): Map<string, string> {
  const sig = signature(p);
  if (sig === null) return new Map();
  return sig.startsWith('dir') ? listSandbox(p, null) : new Map([['', sig]]);
}

/**
 * Entries of the shared temp folders owned by the command's user: with the harness root and the
 * commands `nobody`, anything of nobody's there was written outside the sandbox (an ignored
 * TMPDIR). Without a separate user this check has nothing to tell them apart by, and is skipped.
 * With two cases at a time, a stray file is reported by whichever case looks first.
 */
function strayFiles(identity: { uid: number } | null): Set<string> {
  const out = new Set<string>();
  if (!identity) return out;
  for (const dir of ['/tmp', '/var/tmp', '/dev/shm']) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        if (fs.lstatSync(path.join(dir, n)).uid === identity.uid) out.add(path.join(dir, n));
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return out;
}

/** Runs the cases `concurrency` at a time; stops starting new ones after `budgetMs` (reported). */
export async function executeAll(
  cases: Case[],
  opts: ExecOptions & { concurrency?: number; budgetMs?: number; onOutcome?: (o: Outcome, i: number) => void },
): Promise<{ outcomes: Outcome[]; skipped: number }> {
  const outcomes: Outcome[] = new Array(cases.length);
  const started = performance.now();
  let next = 0;
  let skipped = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      if (opts.budgetMs !== undefined && performance.now() - started > opts.budgetMs) {
        skipped++;
        continue;
      }
      let o: Outcome;
      try {
        o = await executeCase(cases[i]!, opts);
      } catch (e) {
        // A bug in the harness, not in tgate: reported as such, and the run goes on.
        const run: RunResult = {
          status: null,
          signal: null,
          timedOut: false,
          overMemory: false,
          interrupted: null,
          peakRssMiB: 0,
          ms: 0,
          stdout: '',
          stderr: '',
        };
        o = { case: cases[i]!, run, violations: [{ kind: 'harness-error', detail: (e as Error).stack ?? String(e) }], notes: [], kept: null };
      }
      outcomes[i] = o;
      opts.onOutcome?.(o, i);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
  return { outcomes: outcomes.filter(Boolean), skipped };
}
