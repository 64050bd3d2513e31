// npm run fuzz [-- --runs 300 --seed 7 --groups model,manifest --concurrency 2 --keep --minimize]
// The long run of the property-based fuzz test (tests/fuzz.test.ts runs a bounded number of cases
// on every `npm test`): fast-check draws mutated models, compiled folders, .npy files, scheduler
// configs, pipelines and output targets; every case runs a tgate command in its own sandbox and
// must pass every property (tests/fuzz/properties.ts). Prints the seed, counts per command, every
// failure with a reproduction, and one category per kind of failure.
//   --replay '<case json>'  runs one case again and keeps its sandbox for a look.
//   --timeout MS            per-case timeout (default 20000).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ARBITRARIES, BASELINES } from '../tests/fuzz/arbitraries.js';
import type { Case, Group } from '../tests/fuzz/case.js';
import { executeAll, executeCase, type ExecOptions, type Outcome } from '../tests/fuzz/execute.js';
import { categoryOf, formatOutcome, formatSummary, summarize } from '../tests/fuzz/report.js';
import { DEFAULT_LIMITS } from '../tests/fuzz/run.js';
import { makeBase } from '../tests/fuzz/sandbox.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.TGATE_FUZZ_RUNS ?? '300' },
    seed: { type: 'string', default: process.env.TGATE_FUZZ_SEED ?? String(Date.now() % 1_000_000) },
    groups: { type: 'string', default: Object.keys(ARBITRARIES).join(',') },
    concurrency: { type: 'string', default: '2' },
    timeout: { type: 'string', default: String(DEFAULT_LIMITS.timeoutMs) },
    keep: { type: 'boolean' },
    minimize: { type: 'boolean' },
    baselines: { type: 'boolean' },
    replay: { type: 'string' },
  },
});

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-fuzz-'));
fs.chmodSync(work, 0o755);
const root = path.join(work, 'cases');
fs.mkdirSync(root, { mode: 0o755 });
fs.chmodSync(root, 0o755);
const opts: ExecOptions = {
  base: makeBase(path.join(work, 'base')),
  root,
  limits: { ...DEFAULT_LIMITS, timeoutMs: Number(values.timeout) },
  keep: values.keep ? 'failures' : 'none',
};

if (values.replay) {
  const c = JSON.parse(values.replay) as Case;
  const o = await executeCase(c, { ...opts, keep: 'all' });
  console.log(formatOutcome(o));
  console.log(`\nstdout:\n${o.run.stdout.slice(0, 4000)}\nstderr:\n${o.run.stderr.slice(0, 4000)}`);
  process.exit(o.violations.length ? 1 : 0);
}

const seed = Number(values.seed);
const runs = Number(values.runs);
const groups = String(values.groups).split(',') as Group[];
const perGroup = Math.max(1, Math.round(runs / groups.length));
const cases: Case[] = [...(values.baselines ? BASELINES : []), ...groups.flatMap((g, k) => fc.sample(ARBITRARIES[g], { seed: seed + k, numRuns: perGroup }))];
console.log(
  `tgate fuzz: seed ${seed}, ${cases.length} cases (${perGroup} per group: ${groups.join(', ')}), concurrency ${values.concurrency}, timeout ${values.timeout} ms, work ${work}`,
);
const started = performance.now();
let done = 0;
const { outcomes } = await executeAll(cases, {
  ...opts,
  concurrency: Number(values.concurrency),
  onOutcome: (o) => {
    done++;
    if (o.violations.length) console.log(`\n[${done}/${cases.length}] FAIL\n${formatOutcome(o)}`);
    else if (done % 25 === 0) console.log(`[${done}/${cases.length}] ${((performance.now() - started) / 1000).toFixed(0)} s`);
  },
});

/** Drops mutations (and ops within one) while the same category of failure stays: a smaller reproduction. */
async function minimize(o: Outcome, category: string): Promise<Outcome> {
  let best = o;
  for (let tries = 0; tries < 12; tries++) {
    const c = best.case;
    const smaller: Case[] = [
      ...c.mutations.map((_, i) => ({ ...c, mutations: c.mutations.filter((__, j) => j !== i) })),
      ...c.mutations.flatMap((m, i) =>
        m.kind === 'onnx' && m.ops.length > 1
          ? m.ops.map((_, k) => ({ ...c, mutations: c.mutations.map((x, j) => (j === i ? { ...m, ops: m.ops.filter((__, q) => q !== k) } : x)) }))
          : [],
      ),
    ];
    let improved = false;
    for (const s of smaller) {
      const r = await executeCase(s, opts);
      if (r.violations.some((v) => categoryOf(r, v) === category)) {
        best = r;
        improved = true;
        break;
      }
    }
    if (!improved) break;
  }
  return best;
}

const summary = summarize(outcomes);
if (values.minimize) {
  for (const [k, os] of summary.categories) {
    const m = await minimize(os[0]!, k);
    summary.categories.set(k, [m, ...os]);
  }
}
console.log(`\n${formatSummary(summary, `tgate fuzz: seed ${seed}, ${((performance.now() - started) / 1000).toFixed(0)} s`)}`);
if (!values.keep) fs.rmSync(work, { recursive: true, force: true });
process.exitCode = summary.failing ? 1 : 0;
