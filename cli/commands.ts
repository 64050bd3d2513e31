// The tgate subcommands: call the compiler/runtime with the parsed options, format results.
// Returns the text to print; main.ts owns the process (stdout, stderr, exit codes), and
// cli/program-commands.ts declares each command's options and help.
import { usageError, type ParsedArgs } from './args.js';
import { compile } from '../build/compile.js';
import { writeCompileReport } from './compile-report.js';
import { proveArtifacts } from '../runtime/prove.js';
import { benchCommand, memoryProbeCommand } from './bench-command.js';
import { compileDeepCacheBranch, compileJson, compileText, irDumpText, shapeFailuresNote } from './compile-format.js';
import { namesHint } from './suggest.js';
import { VARIANT_PIPELINE } from '../passes/variant-pipeline.js';
import type { AfterPass } from '../build/variants.js';
import { note, phases } from './reporter.js';
import { runGeneration } from './run-command.js';

export type { CommandIo, CommandOutput } from './command-io.js';
import type { CommandIo, CommandOutput } from './command-io.js';

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1)
    throw usageError(positionals.length === 0 ? `Missing ${what}.` : `Expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}.`);
  return positionals[0]!;
}

export async function runCompile(args: ParsedArgs, io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  const source = onePositional(positionals, 'model file or pipeline folder (tgate compile <model.onnx | pipeline folder> -o <dir>)');
  const outDir = values.output as string | undefined;
  if (!outDir) throw usageError('Missing the output folder: tgate compile <model.onnx | pipeline folder> -o <dir>.');
  const kinds = values.sites as string;
  if (kinds !== 'cross' && kinds !== 'all') throw usageError(`--sites must be all or cross, not "${kinds}".`);
  const afterPass = printIrAfter(values['print-ir-after'] as string | undefined, (text) => io.stderr.write(text));
  const deepcacheBranch = compileDeepCacheBranch(values);
  const started = performance.now();
  const progress = phases('compile');
  const r = await compile(source, {
    onPhase: progress.phase,
    outDir,
    force: !!values.force,
    prover: values['no-verify'] ? null : (req) => proveArtifacts(req),
    sites: { kinds, include: values.include as string[], exclude: values.exclude as string[] },
    report: values.report ? writeCompileReport : undefined,
    afterPass,
    deepcacheBranch,
  }).finally(progress.end);
  const seconds = (performance.now() - started) / 1000;
  const shapes = shapeFailuresNote(r.shapeFailures, !values['no-verify']);
  if (shapes) note(shapes, io.stderr);
  return { stdout: values.json ? compileJson(r, outDir, seconds) : compileText(r, source, outDir, seconds, !!values.report) };
}

/**
 * --print-ir-after PASS: the IR of each variant after that pass of the variant pipeline (or after
 * every pass: all), as compile-format.ts renders it. A variant that does not run the pass
 * (planning runs expose-outputs only) prints nothing for it.
 */
function printIrAfter(pass: string | undefined, write: (text: string) => void): AfterPass | undefined {
  if (pass === undefined) return undefined;
  const names: readonly string[] = VARIANT_PIPELINE;
  if (pass !== 'all' && !names.includes(pass))
    throw usageError(
      `--print-ir-after takes a pass of the variant pipeline or all, not "${pass}".`,
      namesHint(pass, [...names, 'all'], 'The passes in pipeline order, then all'),
    );
  const printed = new Set<string>();
  return (variant, record, graph) => {
    if (pass !== 'all' && record.pass !== pass) return;
    write(irDumpText(variant, record, graph, printed.has(variant)));
    printed.add(variant);
  };
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
export { runExport } from './export-command.js';
export { runDemo } from './demo-command.js';
export { runCalibrate } from './calibrate-command.js';
