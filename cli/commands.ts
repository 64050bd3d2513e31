// The tgate subcommands: parse arguments, call the compiler/runtime, format results. Returns the
// text to print; main.ts owns the process (stdout, stderr, exit codes).
import path from 'node:path';
import { parse, usageError } from './args.js';
import { compile, type CompileResult } from '../compiler/compile.js';
import { writeCompileReport } from './compile-report.js';
import { proveArtifacts } from '../runtime/prove.js';
import { benchCommand, memoryProbeCommand } from './bench-command.js';
import { bytesText, countText } from './format.js';
import { RUN_OPTIONS, runGeneration } from './run-command.js';

export interface CommandOutput {
  stdout: string;
}

export interface CommandIo {
  /** Progress and notes go here, so stdout stays machine-readable. */
  stderr: NodeJS.WriteStream;
  /** Whether stdout is a terminal that takes colours. */
  color?: boolean;
}

export const USAGE = `tgate: ahead-of-time TGATE for ONNX diffusion models

Usage:
  tgate compile <model.onnx> -o <dir> [--force] [--no-verify] [--json] [--report]
                [--sites all|cross] [--include GLOB]... [--exclude GLOB]...
  tgate compile <pipeline folder> -o <dir> [the same options]
      Write the graph variants (planning, reuse-self, fidelity, fidelity-reuse-self), the gated
      models that hold them as If branches, the shared weights and tgate.json into <dir>.
      A diffusers/optimum ONNX pipeline folder (model_index.json, unet/ or transformer/,
      text_encoder/, tokenizer/, vae_decoder/, scheduler/, ...; a Hugging Face cache snapshot
      too): <dir> keeps its layout, every file hard-linked, the denoiser's artifacts in
      <dir>/unet/ (or transformer/) and tgate.json at the top.
      --sites all (default) caches cross- and self-attention (TGATE v1 and v2 schedules), cross
      only v1; --include/--exclude narrow them by scope or id (* any characters, ? one).
      --report also writes report.md and report.json (costs and the diff of every variant).
  tgate inspect <model.onnx | dir> [--json] [--explain] [--height H --width W]
                [--shape NAME=AxBxC]... [--steps 25] [--gate-step G]
      Show inputs, outputs, op counts, the family, MACs (conv+linear, and with attention
      products) and parameters per call, site and block, the attention sites and their cache
      bytes per sample, and the MACs of baseline, v1 and v2 runs with the speed-up each bounds;
      --explain lists every softmax or attention op considered and what came of it.
  tgate diff <a.onnx> <b.onnx> | <dir> [--json | --markdown | --html] [-o FILE] [--shape ...]
      What changed: inputs/outputs, nodes by module, op counts, parameters, MACs per block,
      weights no longer referenced. A compiled folder: the source against every variant.
  tgate run <dir> [--steps 25] [--gate-step G] [--guidance S] [--scheduler ddim|euler|euler-ancestral|dpmpp-2m|pndm|lcm]
            [--tgate-version 1|2] [--sp-interval N] [--fi-interval N] [--warm-up N]
            [--scheduler-config FILE] [--latents FILE.npy | --height 512 --width 512 --batch 1 --seed 0]
            [--cond NAME=FILE.npy]... [--uncond NAME=FILE.npy]... [--image FILE.npy --strength 0.8]
            [--baseline] [--save-trajectory DIR] [-o FILE.npy] [--json]
            [--threads N] [--optimization extended] [--prepacking on|off] [--sessions gated|separate]
      Generate with a compiled folder on the official T-GATE schedule: CFG at batch 2B until the
      gate step (v2: self-attention reused between every sp_interval-th step after warm_up), then
      batch B with cached cross-attention. Gate step, intervals and guidance default to the
      model family's official values (SD: 10, 5, 1, 2, 7.5; SD-XL guidance 5; PixArt: 15, 3,
      guidance 4.5; LCM: 1, no reuse). Missing inputs are seeded random (the command says so).
  tgate generate <compiled pipeline> --prompt TEXT -o out.png [--negative-prompt TEXT] [--seed 0]
                 [--steps 25] [--guidance S] [--height H --width W] [--num-images N]
                 [--scheduler pndm|ddim|euler|euler-ancestral|dpmpp-2m|lcm]
                 [--baseline | --tgate-version 1|2] [--gate-step G] [--sp-interval N] [--fi-interval N]
                 [--warm-up N] [--image in.png --strength 0.8] [--output-type png|latent] [--json]
      Text to image with a pipeline folder compiled from a diffusers/optimum ONNX export: CLIP
      tokenizer and text encoder(s), the gated UNet with the folder's scheduler, the VAE decoder.
      A seed gives the initial noise diffusers gives on CPU. Several images: out-1.png, out-2.png...
  tgate bench <model.onnx | dir> [run options] [--runs 3] [--no-memory] [--no-verify] [--json]
      Baseline, TGATE v1 and v2 in one process: wall times, speed-ups and their bounds (from
      the measured step costs and from MACs), ms per step, runtime overhead, peak RSS.
  tgate demo [-o out/demo] [--prompt "a red circle on the left"] [--samples 8] [--steps 25]
      Compile the shipped text-to-image model (fixtures/models/shapes) and draw prompts with the
      baseline and TGATE v1/v2: a PNG grid, the attention convergence plot, and a report with
      speed-ups, prompt adherence (read back by the model's classifier) and pixel differences.
  tgate calibrate <dir | model.onnx> [--steps 25] [--samples 4] [--tolerance 0.05] [--text-model DIR]
                  [--dry-run]
      Measure the gate step: deviation from the baseline and predicted speed-up per candidate;
      records the earliest within tolerance as the folder's default gate step.
  tgate help | --help      This text.
  tgate --version          The tool's version.

Exit codes: 0 ok, 2 usage, 3 unreadable or unsafe input, 4 unsupported model,
5 output folder refused, 6 numerical proof failed, 70 internal error.`;


function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw usageError(positionals.length === 0 ? `Missing ${what}.` : `Expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}.`);
  return positionals[0]!;
}

export async function runCompile(args: string[]): Promise<CommandOutput> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    force: { type: 'boolean' },
    'no-verify': { type: 'boolean' },
    json: { type: 'boolean' },
    sites: { type: 'string', default: 'all' },
    include: { type: 'string', multiple: true, default: [] as string[] },
    exclude: { type: 'string', multiple: true, default: [] as string[] },
    report: { type: 'boolean' },
  });
  const source = onePositional(positionals, 'model file or pipeline folder (tgate compile <model.onnx | pipeline folder> -o <dir>)');
  const outDir = values.output as string | undefined;
  if (!outDir) throw usageError('Missing the output folder: tgate compile <model.onnx | pipeline folder> -o <dir>.');
  const kinds = values.sites as string;
  if (kinds !== 'cross' && kinds !== 'all') throw usageError(`--sites must be all or cross, not "${kinds}".`);
  const started = performance.now();
  const r = await compile(source, {
    outDir,
    force: !!values.force,
    prover: values['no-verify'] ? null : (req) => proveArtifacts(req),
    sites: { kinds, include: values.include as string[], exclude: values.exclude as string[] },
    report: values.report ? writeCompileReport : undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  const m = r.manifest;
  if (values.json) return { stdout: JSON.stringify({ outDir: path.resolve(outDir), seconds, weights: r.weights, manifest: m }, null, 2) };
  const cross = m.sites.filter((s) => s.kind === 'cross').length;
  const cached = m.sites.filter((s) => s.cached).length;
  const v = m.verification;
  const p = m.pipeline;
  const components = p ? Object.entries(p.components) : [];
  const lines = [
    p ? `compiled the pipeline ${source} (${p.className ?? 'no _class_name'}) -> ${outDir} in ${seconds.toFixed(1)} s` : `compiled ${source} -> ${outDir} in ${seconds.toFixed(1)} s`,
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
      : `  proof      planning bit-exact: ${v.planningBitExact ? 'yes' : 'no'}; gated bit-exact: ${v.gatedBitExact ? 'yes' : 'no'}; max abs error ${Object.entries(v.variantMaxAbsErrors).map(([n, e]) => `${n} ${e.toExponential(2)}`).join(', ')} (tolerance ${v.tolerance.toExponential(2)}); shapes confirmed`,
    costLine(r.cost),
    `  manifest   ${path.join(outDir, 'tgate.json')}${values.report ? `; report ${path.join(outDir, 'report.md')} and report.json` : ''}`,
  ];
  return { stdout: lines.join('\n') };
}

function costLine(c: CompileResult['cost']): string {
  const sizes = Object.entries(c.binding.sizes).map(([k, v]) => `${k}=${v}`).join(', ');
  const s = c.schedule;
  const bounds = s ? `; ${s.steps} steps: speed-up bound v1 ${s.v1.boundLinear.toFixed(2)}x${s.v2 ? `, v2 ${s.v2.boundLinear.toFixed(2)}x` : ''} (conv+linear MACs)` : '';
  return `  cost       ${countText(c.call.linearMacs)} MACs conv+linear (${countText(c.call.allMacs)} all) per call at ${sizes}${bounds}`;
}

export async function runRun(args: string[], io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = parse(args, { ...RUN_OPTIONS, baseline: { type: 'boolean' }, 'save-trajectory': { type: 'string' }, output: { type: 'string', short: 'o' }, json: { type: 'boolean' } });
  const dir = onePositional(positionals, 'compiled folder (tgate run <dir>)');
  return { stdout: await runGeneration(dir, values, io.stderr) };
}

export async function runBench(args: string[], io: CommandIo): Promise<CommandOutput> {
  const { values, positionals } = parse(args, {
    ...RUN_OPTIONS,
    height: { type: 'string', default: '256' },
    width: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    'no-memory': { type: 'boolean' },
    'no-verify': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const target = onePositional(positionals, 'model or compiled folder (tgate bench <model.onnx | dir>)');
  return { stdout: await benchCommand(target, values, io.stderr) };
}

/** Internal: what bench runs in a fresh process to measure one variant's peak RSS. */
export async function runMemoryProbe(args: string[]): Promise<CommandOutput> {
  const { values, positionals } = parse(args, { ...RUN_OPTIONS, mode: { type: 'string' } });
  return { stdout: await memoryProbeCommand(onePositional(positionals, 'compiled folder'), values) };
}


export { runInspect } from './inspect-command.js';
export { runDiff } from './diff-command.js';
export { runDemo } from './demo-command.js';
export { runCalibrate } from './calibrate-command.js';
