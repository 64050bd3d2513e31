// What `tgate compile` prints: the summary text, the --json document, the pass records and IR
// dumps (--print-ir-after), and the note on failed shape rules. Rendering only; cli/commands.ts
// runs the compile.
import path from 'node:path';
import type { CompileResult } from '../build/compile.js';
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import type { PassRecord } from '../passes/pass-manager.js';
import { bytesText, countText } from './format.js';

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
  const cached = m.sites.filter((s) => s.cached).length;
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
    `  sites      ${cross} cross + ${m.sites.length - cross} self; ${cached} attention outputs cached (${m.sites.filter((s) => s.cached && s.kind === 'cross').length} cross, ${m.sites.filter((s) => s.cached && s.kind === 'self').length} self)`,
    ...m.variants.map((x) => {
      const takes = [x.cross === 'input' ? 'cross' : null, x.self === 'input' ? 'self' : null].filter(Boolean).join(' + ');
      const gives = x.outputs.length - 1;
      return `  ${x.name.padEnd(20)} ${x.file}: ${x.nodes} nodes (source ${m.source.nodes})${takes ? `, takes ${takes} caches` : ''}${gives ? `, ${gives} site outputs` : ''}${x.removedInputs.length ? `, input ${x.removedInputs.join(', ')} removed` : ''}`;
    }),
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
    ? `; ${s.steps} steps: speed-up bound v1 ${s.v1.boundLinear.toFixed(2)}x${s.v2 ? `, v2 ${s.v2.boundLinear.toFixed(2)}x` : ''} (conv+linear MACs)`
    : '';
  return `  cost       ${countText(c.call.linearMacs)} MACs conv+linear (${countText(c.call.allMacs)} all) per call at input dims ${sizes} (the latent's in latent cells, not pixels)${bounds}`;
}
