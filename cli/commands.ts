// The tgate subcommands: call the compiler/runtime with the parsed options, format results.
// Returns the text to print; main.ts owns the process (stdout, stderr, exit codes), and
// cli/program-commands.ts declares each command's options and help.
import path from 'node:path';
import { usageError, type ParsedArgs } from './args.js';
import { compile, type CompileResult } from '../build/compile.js';
import { writeCompileReport } from './compile-report.js';
import { proveArtifacts } from '../runtime/prove.js';
import { benchCommand, memoryProbeCommand } from './bench-command.js';
import { bytesText, countText } from './format.js';
import { phases } from './reporter.js';
import { runGeneration } from './run-command.js';

export type { CommandIo, CommandOutput } from './command-io.js';
import type { CommandIo, CommandOutput } from './command-io.js';

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1)
    throw usageError(positionals.length === 0 ? `Missing ${what}.` : `Expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}.`);
  return positionals[0]!;
}

export async function runCompile(args: ParsedArgs): Promise<CommandOutput> {
  const { values, positionals } = args;
  const source = onePositional(positionals, 'model file or pipeline folder (tgate compile <model.onnx | pipeline folder> -o <dir>)');
  const outDir = values.output as string | undefined;
  if (!outDir) throw usageError('Missing the output folder: tgate compile <model.onnx | pipeline folder> -o <dir>.');
  const kinds = values.sites as string;
  if (kinds !== 'cross' && kinds !== 'all') throw usageError(`--sites must be all or cross, not "${kinds}".`);
  const started = performance.now();
  const progress = phases('compile');
  const r = await compile(source, {
    onPhase: progress.phase,
    outDir,
    force: !!values.force,
    prover: values['no-verify'] ? null : (req) => proveArtifacts(req),
    sites: { kinds, include: values.include as string[], exclude: values.exclude as string[] },
    report: values.report ? writeCompileReport : undefined,
  }).finally(progress.end);
  const seconds = (performance.now() - started) / 1000;
  const m = r.manifest;
  if (values.json) return { stdout: JSON.stringify({ outDir: path.resolve(outDir), seconds, weights: r.weights, manifest: m }, null, 2) };
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
    `  manifest   ${path.join(outDir, 'tgate.json')}${values.report ? `; report ${path.join(outDir, 'report.md')} and report.json` : ''}`,
  ];
  return { stdout: lines.join('\n') };
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

export async function runRun(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  const dir = onePositional(positionals, 'compiled folder (tgate run <dir>)');
  return { stdout: await runGeneration(dir, values, io.stderr) };
}

export async function runBench(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  const target = onePositional(positionals, 'model or compiled folder (tgate bench <model.onnx | dir>)');
  return { stdout: await benchCommand(target, values, io.stderr) };
}

/** Internal: what bench runs in a fresh process to measure one variant's peak RSS. */
export async function runMemoryProbe(args: ParsedArgs): Promise<CommandOutput> {
  const { values, positionals } = args;
  return { stdout: await memoryProbeCommand(onePositional(positionals, 'compiled folder'), values) };
}

export { runInspect } from './inspect-command.js';
export { runDiff } from './diff-command.js';
export { runDemo } from './demo-command.js';
export { runCalibrate } from './calibrate-command.js';
