// tgate inspect: a model or a compiled folder as text or JSON; and the schedule-cost table (every
// plan's MACs and bound) that compile and bench print too.
import fs from 'node:fs';
import { usageError, type ParsedArgs } from './args.js';
import type { ScheduleCost } from '../build/schedule-cost.js';
import { parseShapes } from '../build/schedule-cost.js';
import { inspectCompiled, inspectModel, type InspectOptions, type InspectReport } from '../build/inspect.js';
import { readManifest } from '../build/manifest.js';
import { vaeLatentFactor } from '../runtime/pipeline/latent-factor.js';
import { denoiserModelOf } from '../io/pipeline-folder.js';
import { bytesText, countText, shapeText, table } from './format.js';
import type { CommandOutput } from './command-io.js';
import { missPlacesText, type MatchMiss } from '../analyses/attention/miss.js';
import { deepCacheText } from './compile-format.js';

/** Every plan (baseline, TGATE v1 and v2, DeepCache alone and with TGATE): MACs in both conventions and the speed-up each bounds. */
export function scheduleCostText(s: ScheduleCost): string {
  const rows = s.plans.map((p) =>
    p.name === 'baseline'
      ? [p.description, countText(p.linearMacs), countText(p.allMacs), '1', '1']
      : [p.description, countText(p.linearMacs), countText(p.allMacs), `${p.boundLinear.toFixed(3)}x`, `${p.boundAll.toFixed(3)}x`],
  );
  return [
    `Schedule cost: ${s.steps} steps at batch ${s.batch}${s.cfg ? ' (CFG: 2x before the gate)' : ''}`,
    table(['run', 'MACs conv+linear', 'MACs all', 'bound conv+linear', 'bound all'], rows),
  ].join('\n');
}

/** One call of each graph variant (the shallow ones too): what a schedule's steps cost, the planning graph being the source's computation. */
export function variantCostText(c: InspectReport['cost']): string {
  const planning = c.variants.find((v) => v.name === 'planning');
  const share = (all: number) => (planning ? `${((100 * all) / (planning.linearMacs + planning.attentionMacs)).toFixed(1)} %` : '-');
  return [
    `MACs per variant (one call at batch ${c.call.batch})`,
    table(
      ['variant', 'MACs conv+linear', 'MACs all', 'params', 'of planning (all)'],
      c.variants.map((v) => [
        v.name,
        countText(v.linearMacs),
        countText(v.linearMacs + v.attentionMacs),
        countText(v.params),
        share(v.linearMacs + v.attentionMacs),
      ]),
    ),
  ].join('\n');
}

/** A compiled folder's DeepCache entry (the manifest's `deepcache`): null for a model file. */
type Deepcache = { line: string; entry: unknown } | null;

function inspectText(r: InspectReport, explain: boolean, deepcache: Deepcache): string {
  return [
    ...summaryLines(r),
    ...(deepcache ? [`deepcache: ${deepcache.line}`] : []),
    ...interfaceLines(r),
    ...callCostLines(r),
    ...siteLines(r),
    ...blockLines(r),
    ...candidateLines(r, explain),
    ...shapeLines(r),
  ].join('\n');
}

/** The file, its ONNX header and the family with its official TGATE defaults. */
function summaryLines(r: InspectReport): string[] {
  return [
    `${r.file}: ${r.kind === 'compiled' ? 'compiled folder; source ' : ''}ONNX IR ${r.irVersion}, opset ${r.opset}, ${r.producer || 'unknown producer'}, ${r.nodeCount} nodes`,
    `family: ${r.family.name} (${r.family.why}); official defaults: gate step ${r.schedule.gateStep}, sp_interval ${r.schedule.spInterval}, fi_interval ${r.schedule.fiInterval}, warm_up ${r.schedule.warmUp}, guidance ${r.schedule.guidance}`,
  ];
}

/** Inputs, outputs and the node count by op type. */
function interfaceLines(r: InspectReport): string[] {
  return [
    '',
    'Inputs',
    table(
      ['name', 'dtype', 'shape'],
      r.inputs.map((i) => [i.name, i.dtype, shapeText(i.shape)]),
    ),
    '',
    'Outputs',
    table(
      ['name', 'dtype', 'shape'],
      r.outputs.map((i) => [i.name, i.dtype, shapeText(i.shape)]),
    ),
    '',
    `Nodes by op type${r.kind === 'compiled' ? ' (planning graph)' : ''}`,
    table(
      ['op', 'count'],
      Object.entries(r.opCounts).map(([k, n]) => [k, n]),
    ),
  ];
}

/** The cost of one call at the sizes the dims were bound to. */
function callCostLines(r: InspectReport): string[] {
  const c = r.cost;
  const bound = Object.entries(c.binding.sizes)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [
    '',
    `One call at ${bound}: ${countText(c.call.linearMacs)} MACs conv+linear, ${countText(c.call.allMacs)} with attention products; ${countText(c.call.params)} parameters`,
  ];
}

function sizeText(b: number | null): string {
  return b === null ? '?' : bytesText(b);
}

/** The attention sites found, one row each, and the caches TGATE holds for them. */
function siteLines(r: InspectReport): string[] {
  const cross = r.sites.filter((s) => s.kind === 'cross').length;
  const out = [
    '',
    `Attention sites: ${cross} cross + ${r.sites.length - cross} self (${r.softmaxCandidates} softmax/attention candidates, ${r.rejected.length} rejected)`,
  ];
  if (!r.sites.length) return out;
  const k = r.caches;
  out.push(
    table(
      ['id', 'kind', 'scope', 'cut tensor', 'tokens x channels', 'MACs', 'params', `cache/sample @${k.height}x${k.width}`],
      r.sites.map((s) => [
        s.id,
        s.kind,
        s.scope ?? '-',
        s.tensor,
        `${s.tokens} x ${s.channels}`,
        countText(s.linearMacs + s.attentionMacs),
        countText(s.params),
        sizeText(s.bytesPerSample),
      ]),
    ),
    '',
    `Caches per sample at ${k.height}x${k.width} px (latent ${k.latent[0]}x${k.latent[1]}): cross-attention ${sizeText(k.crossBytesPerSample)} (held from the gate step on); ` +
      `self-attention (TGATE v2) ${sizeText(k.selfBytesPerSampleWithCfg)} before the gate (the CFG pair: 2 x ${sizeText(k.selfBytesPerSample)}), ${sizeText(k.selfBytesPerSample)} after it.`,
  );
  return out;
}

/** The per-block cost table, the per-variant one, then every plan's cost. */
function blockLines(r: InspectReport): string[] {
  const c = r.cost;
  const out = [
    '',
    'MACs and parameters per block',
    table(
      ['scope', 'MACs conv+linear', 'MACs attention products', 'params'],
      c.blocks.map((b) => [b.scope, countText(b.linearMacs), countText(b.attentionMacs), countText(b.params)]),
    ),
  ];
  if (c.variants.length > 1) out.push('', variantCostText(c));
  if (c.schedule) out.push('', scheduleCostText(c.schedule));
  return out;
}

/**
 * With --explain every candidate and its outcome; without, the rejections only when no site was
 * found (the likely question then), else just their count.
 */
function candidateLines(r: InspectReport, explain: boolean): string[] {
  if (explain) {
    return [
      '',
      'Candidates considered (graph order)',
      table(
        ['node', 'op', 'outcome'],
        r.considered.map((x) => [x.node, x.op, x.miss ? missText(x.miss, x.node) : x.outcome]),
      ),
    ];
  }
  if (r.sites.length === 0 && r.rejected.length) {
    return [
      '',
      'Rejected candidates',
      table(
        ['node', 'code', 'reason'],
        r.rejected.map((x) => [x.node, x.code, x.reason]),
      ),
    ];
  }
  if (r.rejected.length) return [`(${r.rejected.length} candidates rejected: --explain lists why)`];
  return [];
}

/**
 * A miss as --explain shows it: the stable code first (what scripts and tests match), where it is
 * (the nodes and tensors besides the candidate), then the reason.
 */
function missText(m: MatchMiss, candidate: string): string {
  return `rejected ${m.code}${missPlacesText(m, candidate)}: ${m.reason}`;
}

/** Where shape inference gave up, when it did: rules that failed, ops it has no rule for. */
function shapeLines(r: InspectReport): string[] {
  const out: string[] = [];
  if (r.shapeFailures) {
    out.push(
      '',
      "Shape rules that failed (their outputs' shapes unknown; a tgate bug or an invalid graph)",
      table(
        ['node', 'op', 'error'],
        r.shapeFailures.map((f) => [f.node, f.opType, f.message]),
      ),
    );
  }
  if (r.unsupportedOps) {
    const ops = Object.entries(r.unsupportedOps).map(([op, n]) => `${op} (${n})`);
    out.push('', `Ops without a shape rule (their outputs' shapes unknown): ${ops.join(', ')}`);
  }
  return out;
}

export async function runInspect(args: ParsedArgs): Promise<CommandOutput> {
  const { values, positionals } = args;
  if (positionals.length !== 1)
    throw usageError(
      positionals.length
        ? `Expected one model or folder, got ${positionals.length}.`
        : 'Missing the model file or folder (tgate inspect <model.onnx | compiled dir | pipeline folder>).',
    );
  const target = positionals[0]!;
  const whole = (k: 'height' | 'width' | 'steps' | 'gate-step', multiple: number) => {
    if (values[k] === undefined) return undefined;
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n <= 0 || n % multiple !== 0)
      throw usageError(`--${k} must be a positive ${multiple > 1 ? `multiple of ${multiple} (image pixels)` : 'whole number'}, not "${values[k]}".`);
    return n;
  };
  // Image pixels; the latent factor comes from the model (inspect checks the sizes against it).
  const o: InspectOptions = {
    height: whole('height', 1),
    width: whole('width', 1),
    shapes: parseShapes(values.shape as string[]),
    steps: whole('steps', 1),
    gateStep: whole('gate-step', 1),
  };
  // A source pipeline folder is inspected as its denoiser's model, at its VAE's factor.
  const denoiser = denoiserModelOf(target);
  const folder = !denoiser && fs.existsSync(target) && fs.statSync(target).isDirectory();
  const vae = denoiser || (folder && readManifest(target).pipeline) ? vaeLatentFactor(target) : null;
  if (vae) o.latentFactor = vae;
  const r = denoiser ? inspectModel(denoiser, o) : folder ? inspectCompiled(target, o) : inspectModel(target, o);
  // A compiled folder says which DeepCache cut it holds (or why none): the manifest's entry.
  const m = folder ? readManifest(target) : null;
  const deepcache = m ? { line: deepCacheText(m), entry: m.deepcache } : null;
  if (values.json) return { stdout: JSON.stringify(deepcache ? { ...r, deepcache: deepcache.entry } : r, null, 2) };
  return { stdout: inspectText(r, !!values.explain, deepcache) };
}
