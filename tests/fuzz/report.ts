// Fuzz results as text: every failure with a reproduction, grouped into categories (kind of
// violation, command, and the message with paths and numbers taken out), counts per command.
import type { Case, Mutation, OnnxOp } from './case.js';
import type { Outcome } from './execute.js';
import { show } from './hostile.js';
import type { Violation } from './properties.js';

export function describeMutation(m: Mutation): string {
  switch (m.kind) {
    case 'bytes':
      return `${m.file}: bytes ${m.ops.map((o) => `${o.op}@${o.at.toFixed(3)}${'value' in o ? `=${o.value}` : 'bit' in o ? `^bit${o.bit}` : 'count' in o ? `x${o.count}` : 'bytes' in o ? `+${o.bytes.length}B` : ''}`).join(', ')}`;
    case 'special':
      return `${m.file} replaced by ${m.make}`;
    case 'onnx':
      return `${m.file}: ${m.ops.map(describeOnnxOp).join('; ')}`;
    case 'json':
      return `${m.file} ${m.path ? `$.${m.path.join('.')}` : `node #${m.pick}`} ${m.remove ? 'removed' : `= ${clip(JSON.stringify(m.value) ?? 'undefined')}`}`;
    case 'text':
      return `${m.file} text = ${show(m.text)}`;
    case 'npy':
      return `${m.file}: npy ${m.ops
        .map((o) =>
          Object.entries(o)
            .map(([k, v]) => (k === 'op' ? v : `${k}=${JSON.stringify(v)}`))
            .join(' '),
        )
        .join(', ')}`;
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 60)}…(${s.length} chars)` : s;
}

function describeOnnxOp(o: OnnxOp): string {
  const { op, ...rest } = o;
  return `${op}(${Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? show(v) : JSON.stringify(v)}`)
    .join(', ')})`;
}

export function commandLine(c: Case): string {
  return `tgate ${c.args.map((a) => (/^[\w./=:-]+$/.test(a) ? a : show(a))).join(' ')}`;
}

/** One line that reruns the case and keeps its sandbox: node dist/bench/fuzz.js --replay '<json>'. */
export function replayLine(c: Case): string {
  return `node dist/bench/fuzz.js --replay '${JSON.stringify(c).replace(/'/g, "'\\''")}'`;
}

/** A violation's message without what varies between cases (paths, numbers, pids). */
function normalize(s: string): string {
  return (
    s
      .replace(/\/tmp\/[^\s'"`),]*/g, '<path>')
      // mkdtemp suffixes and pids in temp names (.c.tmp-123-AbC12x, tgate-bench-0-x1Y2z3).
      .replace(/(tmp|bench|calibrate|demo|diff)-[\w-]*/g, '$1-*')
      .replace(/in\/[^\s'"`),]*/g, '<in>')
      .replace(/\d+(\.\d+)?/g, 'N')
      .slice(0, 160)
  );
}

/** The key cases are grouped by: the kind of violation, the command, and (for errors) the message. */
export function categoryOf(o: Outcome, v: Violation): string {
  const cmd = o.case.args[0];
  const detail =
    v.kind === 'exit-70' || v.kind === 'exit-undocumented' || v.kind === 'signal' || v.kind === 'valid-input-refused'
      ? normalize(v.detail)
      : v.kind === 'outside-changed' || v.kind === 'outside-written' || v.kind === 'tmp-left'
        ? normalize(v.detail).replace(/<path>|N/g, '')
        : '';
  return `${v.kind} | ${o.case.group} | ${cmd}${detail ? ` | ${detail}` : ''}`;
}

/** Which part of issue 12 a violation most likely belongs to (a guess for the report; read the case). */
export function likelyItem(o: Outcome, v: Violation): string {
  const c = o.case;
  const muts = c.mutations.map(describeMutation).join(' ');
  const cmd = c.args[0];
  switch (v.kind) {
    case 'leak':
      return /external|onnx/.test(muts) ? '4 (external data)' : '2 (manifest paths)';
    case 'outside-changed':
    case 'outside-written':
      if (c.interrupt) return '5 (interrupted work)';
      if (c.group === 'output' || c.args.includes('--force')) return '3 (--force / -o)';
      if (/external/.test(muts)) return '1 (writes through links)';
      return '1/3 (files outside the output)';
    case 'tmp-left':
      return c.interrupt || cmd === 'bench' || cmd === 'calibrate' ? '5 (leftovers)' : '5/6 (temp files)';
    case 'home-left':
      return '6 (writes under HOME)';
    case 'output-on-failure':
      return '5/9 (output left on failure)';
    case 'control-chars':
      return '12 (control characters)';
    case 'nonfinite-output':
      return '7/8 (NaN/Inf with exit 0)';
    case 'valid-input-refused':
      return '4 (valid external data / Constant)';
    case 'harness-error':
      return 'none: a bug in tests/fuzz';
    case 'timeout':
    case 'memory':
      if (/fifo|zero|huge-sparse|passwd/.test(muts + c.args.join(' '))) return '2 (unbounded read of a named file)';
      if (/cycle/.test(muts)) return '10 (cycles)';
      if (/\*\?/.test(c.args.join(' '))) return '11 (glob backtracking)';
      return '10 (bounded work)';
    case 'exit-70':
    case 'exit-undocumented':
    case 'signal':
      if (c.group === 'manifest' || c.group === 'pipeline') return '2/9 (damaged compiled folder)';
      if (c.group === 'npy' || c.group === 'output') return '9 (input errors end as exit 70)';
      if (c.group === 'scheduler') return '7/9 (values out of range)';
      if (/cycle/.test(muts)) return '10 (cycles)';
      if (/duplicate/.test(muts)) return '9 (duplicate names)';
      return '9/10 (model input errors)';
  }
}

export function formatOutcome(o: Outcome): string {
  const c = o.case;
  const r = o.run;
  return [
    `  ${commandLine(c)}${c.interrupt ? `   [${c.interrupt.signal} after ${c.interrupt.afterMs} ms${c.interrupt.rerun ? ', then run again' : ''}]` : ''}`,
    ...c.mutations.map((m) => `    mutation: ${describeMutation(m)}`),
    `    result: ${r.signal ? `signal ${r.signal}` : `exit ${r.status}`} in ${r.ms} ms, peak RSS ${r.peakRssMiB} MiB${r.timedOut ? ' (timed out)' : ''}${r.overMemory ? ' (over memory)' : ''}`,
    ...o.violations.map((v) => `    VIOLATION ${v.kind}: ${v.detail}   [issue 12 item ${likelyItem(o, v)}]`),
    ...(o.kept ? [`    sandbox kept: ${o.kept}`] : []),
    `    replay: ${replayLine(c)}`,
  ].join('\n');
}

export interface Summary {
  cases: number;
  failing: number;
  perCommand: Map<string, { cases: number; failing: number }>;
  categories: Map<string, Outcome[]>;
}

export function summarize(outcomes: Outcome[]): Summary {
  const perCommand = new Map<string, { cases: number; failing: number }>();
  const categories = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    const key = `${o.case.group}/${o.case.args[0]}`;
    const e = perCommand.get(key) ?? { cases: 0, failing: 0 };
    e.cases++;
    if (o.violations.length) e.failing++;
    perCommand.set(key, e);
    for (const v of o.violations) {
      const k = categoryOf(o, v);
      categories.set(k, [...(categories.get(k) ?? []), o]);
    }
  }
  return { cases: outcomes.length, failing: outcomes.filter((o) => o.violations.length).length, perCommand, categories };
}

/** The report: counts per command, then each category with its smallest case as the reproduction. */
export function formatSummary(s: Summary, header: string): string {
  const lines = [header, `cases: ${s.cases}, failing: ${s.failing}, categories: ${s.categories.size}`, 'per group/command (cases, failing):'];
  for (const [k, e] of [...s.perCommand].sort()) lines.push(`  ${k.padEnd(22)} ${String(e.cases).padStart(5)} ${String(e.failing).padStart(5)}`);
  for (const [k, os] of [...s.categories].sort()) {
    const smallest = [...os].sort((a, b) => size(a.case) - size(b.case))[0]!;
    lines.push('', `CATEGORY ${k}  (${os.length} case${os.length === 1 ? '' : 's'})`, formatOutcome(smallest));
  }
  return lines.join('\n');
}

function size(c: Case): number {
  return JSON.stringify(c).length;
}
