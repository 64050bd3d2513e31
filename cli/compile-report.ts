// compile --report: report.json and report.md beside the artifacts, for CI pipelines to post: what
// the compile produced, what one call of each variant and a run of each plan cost (MACs, parameters,
// the speed-up bounds of TGATE v1/v2, DeepCache alone and with TGATE), cache sizes, each variant's
// pass records, and the diff of the source against every variant. Deterministic: no timings or absolute paths, so the same source gives the same bytes.
import type { CompileResult } from '../build/compile.js';
import type { ScheduleCost } from '../build/schedule-cost.js';
import { bytesText, countText } from './format.js';
import { passRecordText } from './compile-format.js';
import { diffFolder } from '../build/diff-folder.js';
import { diffMarkdown } from './diff-format.js';

export { REPORT_FILES } from '../build/compile.js';

function scheduleMarkdown(s: ScheduleCost): string {
  const row = (label: string, r: { linearMacs: number; allMacs: number; boundLinear: number; boundAll: number }) =>
    `| ${label} | ${countText(r.linearMacs)} | ${countText(r.allMacs)} | ${r.boundLinear.toFixed(3)}x | ${r.boundAll.toFixed(3)}x |`;
  return [
    `| run (${s.steps} steps, batch ${s.batch}${s.cfg ? ', CFG' : ''}) | MACs conv+linear | MACs all | bound conv+linear | bound all |`,
    '|---|---|---|---|---|',
    ...s.plans.map((p) => row(p.description, p)),
  ].join('\n');
}

/** Reads the staged artifacts in `dir`; writes through compile's `write` (new files, declared names only). */
export function writeCompileReport(dir: string, r: CompileResult, write: (file: string, text: string) => void): void {
  const m = r.manifest;
  const c = r.cost;
  const diffs = diffFolder(dir, {});
  const json = {
    source: m.source,
    family: m.family,
    schedule: m.schedule,
    variants: m.variants.map((v) => ({ name: v.name, file: v.file, cross: v.cross, self: v.self, nodes: v.nodes, removedInputs: v.removedInputs })),
    gated: m.gated.map((g) => ({ file: g.file, variants: g.variants.map((v) => v.name) })),
    passes: r.passes,
    verification: m.verification,
    cost: c,
    diffs,
  };
  write('report.json', JSON.stringify(json, null, 2) + '\n');
  const sizes = Object.entries(c.binding.sizes)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
  const md = [
    `## tgate compile: \`${m.source.file}\``,
    '',
    `Family **${m.family.name}** (${m.family.why}). ${m.sites.filter((s) => s.cached && s.kind === 'cross').length} cross- and ${m.sites.filter((s) => s.cached && s.kind === 'self').length} self-attention sites cached; proof: ${m.verification.skipped ? 'skipped' : `planning bit-exact, gated bit-exact, max error ${Math.max(0, ...Object.values(m.verification.variantMaxAbsErrors)).toExponential(1)}`}.`,
    '',
    '| variant | file | nodes | MACs conv+linear | MACs all | parameters |',
    '|---|---|---|---|---|---|',
    ...m.variants.map((v) => {
      const x = c.variants.find((y) => y.name === v.name)!;
      return `| ${v.name} | \`${v.file}\` | ${v.nodes} | ${countText(x.linearMacs)} | ${countText(x.linearMacs + x.attentionMacs)} | ${countText(x.params)} |`;
    }),
    '',
    `One call at ${sizes}: ${countText(c.call.linearMacs)} MACs conv+linear, ${countText(c.call.allMacs)} with attention products.`,
    `Caches per sample: cross-attention ${bytesText(c.caches.crossBytesPerSample)}, self-attention ${bytesText(c.caches.selfBytesPerSample)} (${bytesText(c.caches.selfBytesPerSampleWithCfg)} for the CFG pair before the gate).`,
    '',
    '#### Passes',
    '',
    '| variant | passes (in order) |',
    '|---|---|',
    ...m.variants.map((v) => `| ${v.name} | ${(r.passes[v.name] ?? []).map(passRecordText).join('; ')} |`),
    '',
    ...(c.schedule ? ['#### Schedule cost', '', scheduleMarkdown(c.schedule), ''] : []),
    ...diffs.map(diffMarkdown),
  ].join('\n');
  write('report.md', md + '\n');
}
