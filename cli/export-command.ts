// tgate export triton: a compiled folder (or compiled pipeline) as a Triton Inference Server model
// repository (build/triton/export.ts), proved in process under Triton's implicit-state semantics
// (runtime/stateful-proof.ts) before it is moved into place.
import path from 'node:path';
import { usageError, type ParsedArgs } from './args.js';
import { exportTriton, type TritonExportResult } from '../build/triton/export.js';
import { INSTANCE_GROUP_KINDS, type InstanceGroupKind } from '../build/triton/model-config.js';
import { proveStateful } from '../runtime/stateful-proof.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { phases } from './reporter.js';

const TARGETS = ['triton'];
const USAGE = 'tgate export triton <compiled folder> -o <repository> [--name NAME] [--instances N] [--instance-kind auto|gpu|cpu]';

function positiveInteger(v: unknown, option: string, max: number): number {
  const n = Number(v);
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw usageError(`${option} takes an integer from 1 to ${max}, not "${String(v)}".`, USAGE);
  return n;
}

export async function runExport(args: ParsedArgs, _io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = args;
  const [target, source, ...rest] = positionals;
  if (target === undefined || !TARGETS.includes(target))
    throw usageError(target === undefined ? 'Missing the export target.' : `Unknown export target "${target}"; the targets: ${TARGETS.join(', ')}.`, USAGE);
  if (source === undefined) throw usageError('Missing the compiled folder to export.', USAGE);
  if (rest.length) throw usageError(`Expected one compiled folder, got ${rest.length + 1}: ${[source, ...rest].join(' ')}.`, USAGE);
  const outDir = values.output as string | undefined;
  if (!outDir) throw usageError('Missing the repository folder: -o <repository>.', USAGE);
  const kind = `KIND_${String(values['instance-kind']).toUpperCase()}`;
  if (!(INSTANCE_GROUP_KINDS as readonly string[]).includes(kind))
    throw usageError(`--instance-kind takes auto, gpu or cpu, not "${String(values['instance-kind'])}".`, USAGE);
  const progress = phases('export');
  const started = performance.now();
  const r = await exportTriton(source, {
    outDir,
    force: !!values.force,
    ...(values.name !== undefined ? { name: values.name as string } : {}),
    instances: { kind: kind as InstanceGroupKind, count: positiveInteger(values.instances, '--instances', 1024) },
    idleSeconds: positiveInteger(values['sequence-idle-seconds'], '--sequence-idle-seconds', 86400),
    prover: values['no-verify'] ? null : proveStateful,
  }).finally(progress.end);
  const seconds = (performance.now() - started) / 1000;
  return { stdout: values.json ? JSON.stringify({ ...r, seconds }, null, 2) : exportText(r, source, seconds, kind) };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function exportText(r: TritonExportResult, source: string, seconds: number, kind: string): string {
  const lines = [`exported ${source} -> ${r.repo} (Triton model repository) in ${seconds.toFixed(1)} s`];
  for (const m of r.record.models) {
    const files = r.files.filter((f) => f.rel.startsWith(`${m.name}/`));
    const bytes = files.reduce((a, f) => a + f.bytes, 0);
    lines.push(
      `  ${m.name.padEnd(24)} ${m.stateful ? `stateful gated ${m.role}: ${Object.keys(r.record.stateful.runFlags).length} variants, ${r.record.stateful.states.length} states` : `plain ${m.role}`} (${mib(bytes)}, ${files.filter((f) => f.how !== 'written').length} linked)`,
    );
  }
  lines.push(`  tree`);
  for (const f of r.files) lines.push(`    ${f.rel}${f.how === 'written' ? '' : ` (${f.how})`}`);
  if (r.proof)
    lines.push(
      `  proof      implicit-state run = in-process run, bit for bit: ${r.proof.plans.map((p) => `${p.name} ${p.bitExact ? 'yes' : `NO (max |diff| ${p.maxAbsDiff})`}`).join(', ')}`,
    );
  else lines.push('  proof      skipped (--no-verify)');
  // Quoted for a shell (a path with spaces), and GPUs only where the instances may use them.
  const mount = `'${path.resolve(r.repo).replace(/'/g, `'\\''`)}:/models'`;
  lines.push(
    `  serve      docker run --rm${kind === 'KIND_CPU' ? '' : ' --gpus all'} -p8000:8000 -p8001:8001 -p8002:8002 -v ${mount} nvcr.io/nvidia/tritonserver:24.08-py3 tritonserver --model-repository=/models`,
  );
  return lines.join('\n');
}
