// What `tgate compile` prints: the summary text (each variant by the cuts it really takes and
// outputs, the DeepCache cut or why there is none), the --json document, the pass records and IR
// dumps (--print-ir-after), and the note on failed shape rules. Rendering, and the reading of
// --deepcache-branch / --no-deepcache; cli/commands.ts runs the compile.
import path from 'node:path';
import type { CompileResult } from '../build/compile.js';
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import type { PassRecord } from '../passes/pass-manager.js';
import type { Manifest, ManifestVariant } from '../build/manifest.js';
import { usageError } from './args.js';
import { bytesText, countText, shapeText } from './format.js';

/** compile's DeepCache branch: --deepcache-branch B (default 0), or null with --no-deepcache. */
export function compileDeepCacheBranch(values: Record<string, unknown>): number | null {
  const text = String(values['deepcache-branch'] ?? '0');
  if (values['no-deepcache']) {
    if (text !== '0') throw usageError('--no-deepcache writes no DeepCache variants; leave out --deepcache-branch.');
    return null;
  }
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n))
    throw usageError(
      `--deepcache-branch must be a whole number >= 0, not "${text}".`,
      "0 (the official default) caches the shallowest up-path boundary; DeepCache's cache_branch_id b names block b // 3, layer b % 3.",
    );
  return n;
}

/** The sites a variant takes (inputs) or gives (outputs), by kind: "1 cross attention cache + the deep feature". */
function cutsText(m: Manifest, x: ManifestVariant, role: 'input' | 'output'): string {
  const n = { cross: 0, self: 0, deep: 0 };
  for (const [id, r] of Object.entries(x.cuts)) {
    const kind = m.sites.find((s) => s.id === id)?.kind;
    if (r === role && kind) n[kind]++;
  }
  const attention = [n.cross ? `${n.cross} cross` : '', n.self ? `${n.self} self` : ''].filter(Boolean);
  return [
    attention.length ? `${attention.join(' + ')} attention ${role === 'input' ? 'cache' : 'output'}${n.cross + n.self === 1 ? '' : 's'}` : '',
    n.deep ? 'the deep feature' : '',
  ]
    .filter(Boolean)
    .join(' + ');
}

/** The DeepCache cut compiled (branch, tensor, shape, scope), why there is none, or that compile was told not to look. */
export function deepCacheText(m: Manifest): string {
  const d = m.deepcache;
  if (!d) return 'off (--no-deepcache)';
  if (!('site' in d)) return `no DeepCache cut for branch ${d.branch}: ${d.missing.code} ${d.missing.reason}`;
  const site = m.sites.find((s) => s.id === d.site);
  return `branch ${d.branch} of 0..${d.branches - 1} (block ${d.block}, layer ${d.layer}; up block ${d.upBlock}, layer ${d.upLayer}): cut ${d.tensor}${site ? ` ${shapeText(site.shape)}` : ''}${d.scope ? ` in ${d.scope}` : ''}`;
}

/** The --json document: the manifest, timings, weights and each variant's pass records. */
export function compileJson(r: CompileResult, outDir: string, seconds: number): string {
  const failures = r.shapeFailures.length ? { shapeFailures: r.shapeFailures } : {};
  return JSON.stringify({ outDir: path.resolve(outDir), seconds, weights: r.weights, manifest: r.manifest, passes: r.passes, ...failures }, null, 2);
}

/**
 * The note compile prints when a shape rule failed (null when none did): a cached tensor there
 * gets named dims where the inference would have computed them, and a failing rule is a tgate bug.
 */
export function shapeFailuresNote(failures: CompileResult['shapeFailures'], proved: boolean): string | null {
  if (!failures.length) return null;
  const f = failures[0]!;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more node${failures.length > 2 ? 's' : ''})` : '';
  return (
    `shape inference failed on ${f.opType} node ${f.node}${more}: ${f.message}. Its outputs' shapes are unknown, so a cached tensor past it may carry named dims ` +
    `instead of computed ones${proved ? ' (the proof still checked every shape)' : ' (--no-verify: no proof checked them)'}. Please report it with the model; \`tgate inspect\` lists every failure.`
  );
}

/** One pass record as a line: `cut-at-values: inputsAdded 2` (or `no change`). */
export function passRecordText(p: PassRecord): string {
  const counts = Object.entries(p.result.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return `${p.pass}: ${p.result.changed ? counts || 'changed' : 'no change'}`;
}

/**
 * One variant's IR after one pass (--print-ir-after): a header with the pass record, then the
 * graph as ir/print.ts prints it, or "(unchanged)" when the pass changed nothing and the same
 * graph was already printed for this variant (with `all`, after the pass before).
 */
export function irDumpText(variant: string, record: PassRecord, graph: Graph, alreadyPrinted: boolean): string {
  const body = record.result.changed || !alreadyPrinted ? printGraph(graph, { title: variant }) : '(unchanged)\n';
  return `--- IR of ${variant} after ${passRecordText(record)}\n${body}`;
}

export function compileText(r: CompileResult, source: string, outDir: string, seconds: number, report: boolean): string {
  const m = r.manifest;
  const cross = m.sites.filter((s) => s.kind === 'cross').length;
  const self = m.sites.filter((s) => s.kind === 'self').length;
  const cached = m.sites.filter((s) => s.cached && s.kind !== 'deep').length;
  const v = m.verification;
  const p = m.pipeline;
  const components = p ? Object.entries(p.components) : [];
  const lines = [
    p
      ? `compiled the pipeline ${source} (${p.className ?? 'no _class_name'}) -> ${outDir} in ${seconds.toFixed(1)} s`
      : `compiled ${source} -> ${outDir} in ${seconds.toFixed(1)} s`,
    ...(p && r.pipeline
      ? [
          `  denoiser   ${m.source.file}: compiled into ${path.join(outDir, p.denoiser)}/`,
          `  linked     ${components.length ? components.map(([name, c]) => `${name} (${c.files.length} file${c.files.length === 1 ? '' : 's'})`).join(', ') : 'no other component'}; ${r.pipeline.files} source files in all (${bytesText(r.pipeline.bytes)}, ${r.pipeline.mode === 'linked' ? 'hard-linked' : 'some copied: another device'})`,
        ]
      : []),
    `  sites      ${cross} cross + ${self} self; ${cached} attention outputs cached (${m.sites.filter((s) => s.cached && s.kind === 'cross').length} cross, ${m.sites.filter((s) => s.cached && s.kind === 'self').length} self)`,
    ...m.variants.map((x) => {
      const takes = cutsText(m, x, 'input');
      const gives = cutsText(m, x, 'output');
      return `  ${x.name.padEnd(20)} ${x.file}: ${x.nodes} nodes (source ${m.source.nodes})${takes ? `, takes ${takes}` : ''}${gives ? `, gives ${gives}` : ''}${x.removedInputs.length ? `, input ${x.removedInputs.join(', ')} removed` : ''}`;
    }),
    `  deepcache  ${deepCacheText(m)}`,
    `  gated      ${m.gated.map((g) => `${g.file} (${g.variants.map((x) => x.name).join(' + ')})`).join('; ')}`,
    `  family     ${m.family.name}: ${m.family.why}; defaults gate step ${m.schedule.gateStep}, sp_interval ${m.schedule.spInterval}, fi_interval ${m.schedule.fiInterval}, warm_up ${m.schedule.warmUp}`,
    `  weights    ${m.weights} (${bytesText(r.weights.bytes)}, ${r.weights.mode})`,
    v.skipped
      ? '  proof      skipped (--no-verify)'
      : `  proof      planning bit-exact: ${v.planningBitExact ? 'yes' : 'no'}; gated bit-exact: ${v.gatedBitExact ? 'yes' : 'no'}; max abs error ${Object.entries(
          v.variantMaxAbsErrors,
        )
          .map(([n, e]) => `${n} ${e.toExponential(2)}`)
          .join(', ')} (tolerance ${v.tolerance.toExponential(2)}); shapes confirmed`,
    costLine(r.cost),
    `  manifest   ${path.join(outDir, 'tgate.json')}${report ? `; report ${path.join(outDir, 'report.md')} and report.json` : ''}`,
  ];
  return lines.join('\n');
}

function costLine(c: CompileResult['cost']): string {
  const sizes = Object.entries(c.binding.sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const s = c.schedule;
  const bounds = s
    ? `; ${s.steps} steps: speed-up bound v1 ${s.v1.boundLinear.toFixed(2)}x${s.v2 ? `, v2 ${s.v2.boundLinear.toFixed(2)}x` : ''}${s.plans
        .filter((p) => p.deepcache)
        .map((p) => `, ${p.name} ${p.boundLinear.toFixed(2)}x`)
        .join('')} (conv+linear MACs)`
    : '';
  return `  cost       ${countText(c.call.linearMacs)} MACs conv+linear (${countText(c.call.allMacs)} all) per call at input dims ${sizes} (the latent's in latent cells, not pixels)${bounds}`;
}
