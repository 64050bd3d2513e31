// compile: load -> find sites -> build the variants -> lay out weights -> write into a staging
// folder -> prove (optional) -> manifest -> move into place; a pipeline folder: the same for its
// denoiser, inside an output that keeps the source's layout (every file hard-linked). compile()
// only orchestrates: reading and the site plan are in compile-plan.ts, the pass pipeline in
// variants.ts, tgate.json's entries in compile-manifest.ts, the writing here.
import path from 'node:path';
import { collidingOutput, stageOutput, type Staging } from './artifacts.js';
import { costReport, type CostReport } from './cost-report.js';
import { TgateError } from '../base/errors.js';
import type { SiteFilter } from './site-selection.js';
import { encodeModel, type EncodeOptions } from '../io/encode.js';
import { encodeGatedModel, gatedCacheInput } from './gated-model.js';
import { buildVariant, variantsFor, type AfterPass, type BuiltVariant, type SiteKind, type SiteTarget, type VariantName } from './variants.js';
import type { WeightsLayout } from '../io/external-data.js';
import { pipelineFiles, type PipelineSource } from '../io/pipeline-folder.js';
import { whyNotTgateOutput } from '../base/output/tgate-output.js';
import { graphIo, graphTensors, MANIFEST_NAME, serializeManifest, type Manifest, type ManifestGated, type ManifestVariant } from './manifest.js';
import type { PassRecord } from '../passes/pass-manager.js';
import type { Prover } from './proof.js';
import type { ShapeRuleFailure } from '../analyses/shapes/infer.js';
import { planSites, readSource, type CompileSource, type SitePlan } from './compile-plan.js';
import { assembleManifest, manifestSites } from './compile-manifest.js';

/**
 * The gated models compile writes: each holds the variants one kind of schedule uses, so a
 * runtime opens only those (v1; v2 with fi_interval 1; v2 with fi_interval > 1).
 */
export const GATED_SETS: { file: string; variants: VariantName[] }[] = [
  { file: 'gated.onnx', variants: ['planning', 'fidelity'] },
  { file: 'gated-v2.onnx', variants: ['planning', 'reuse-self', 'fidelity'] },
  { file: 'gated-v2-fi.onnx', variants: ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] },
  // DeepCache alone (full and shallow steps), and with TGATE as the official combination runs it (no self-attention reuse).
  { file: 'gated-deepcache.onnx', variants: ['planning', 'shallow'] },
  { file: 'gated-tgate-deepcache.onnx', variants: ['planning', 'shallow', 'fidelity', 'shallow-fidelity'] },
];
/** The weights file written for sources whose weights are embedded. */
export const WEIGHTS_FILE = 'weights.onnx_data';
/** What --report writes beside the manifest (reserved always: no source file may take these names). */
export const REPORT_FILES = ['report.json', 'report.md'];

export interface CompileOptions {
  outDir: string;
  force?: boolean;
  /** Proves the artifacts; null skips the proof (recorded in the manifest). */
  prover: Prover | null;
  /** Which sites are cached: kinds (all by default) and globs on scope or id. */
  sites?: SiteFilter;
  /** DeepCache's branch id (default 0, the official default); null compiles no DeepCache variants. */
  deepcacheBranch?: number | null;
  /**
   * Writes extra files (the --report) after the manifest, before the move: it reads the staging
   * folder and writes only REPORT_FILES, through `write` (new files only).
   */
  report?: (stagingDir: string, result: CompileResult, write: (file: string, text: string) => void) => void | Promise<void>;
  /** Told each phase as it starts (the CLI shows it as progress on a terminal). */
  onPhase?: (phase: string) => void;
  /** Told after each pass of each variant's pipeline, with the graph as it left it (--print-ir-after). */
  afterPass?: AfterPass;
}

export interface CompileResult {
  outDir: string;
  manifest: Manifest;
  /** A pipeline folder's compile: the source files linked beside the artifacts (the weights apart). */
  pipeline?: { files: number; bytes: number; mode: 'linked' | 'copied' };
  /** Each variant's pass records, in pipeline order (passes/variant-pipeline.ts): name, changed, counts. */
  passes: Partial<Record<VariantName, PassRecord[]>>;
  weights: { file: string; files: string[]; mode: 'written' | 'linked' | 'copied'; bytes: number };
  /** MACs, parameters and the schedule bounds at the family's default sizes. */
  cost: CostReport;
  /** Nodes whose shape rule failed while planning (empty on every supported model): the CLI notes them. */
  shapeFailures: ShapeRuleFailure[];
}

/** A source file the output holds as a hard link (or a copy): its place there, relative to the top. */
interface LinkedFile {
  rel: string;
  path: string;
}

/**
 * Refuses, before anything is written, a source file whose place in the output is one of the
 * names tgate writes there (or a folder of one): writing that output would go through the link
 * into the user's file. The staging folder refuses it too (artifacts.ts), as a last line.
 */
function refuseCollisions(linked: LinkedFile[], outputs: string[], p: PipelineSource | null, modelPath: string): void {
  for (const f of linked) {
    const hit = collidingOutput(f.rel, outputs);
    if (hit === null) continue;
    const hint = `tgate's output names are: ${outputs.join(', ')}.`;
    if (p) {
      throw new TgateError(
        'E_BAD_PIPELINE',
        `${path.join(p.dir, f.rel)} takes the place of ${hit}, which tgate writes into the output: the folder looks compiled, or holds files of another tool.`,
        {
          subject: { file: path.join(p.dir, f.rel) },
          hint: `Compile the original exported pipeline folder; ${hint}`,
        },
      );
    }
    throw new TgateError(
      'E_EXTERNAL_DATA_UNSAFE',
      `External data "${f.rel}" of ${modelPath} takes the place of ${hit}, which tgate writes into the output folder; writing it would overwrite the weights through their link.`,
      {
        subject: { file: f.path },
        hint: `Rename the data file and save the model with that location (onnx.save_model(..., location="model.onnx_data")); ${hint}`,
      },
    );
  }
}

/** Where an external data file sits in the output, relative to the graphs (as the graphs name it). */
const externalRel = (location: string) => path.join(location).split(path.sep).join('/');

/** The weights file's bytes, tensor by tensor (never one big buffer), zero padding between. */
function* weightsBytes(layout: WeightsLayout): Generator<Uint8Array> {
  let pos = 0;
  for (const { offset, bytes } of layout.entries.values()) {
    if (offset > pos) yield new Uint8Array(offset - pos);
    yield bytes;
    pos = offset + bytes.length;
  }
}

/** Links the source files into the staging folder; returns the way each got there. */
function linkAll(stage: Staging, linked: LinkedFile[]): Map<string, 'linked' | 'copied'> {
  return new Map(linked.map((f) => [f.rel, stage.link(f.rel, f.path)]));
}

export async function compile(sourcePath: string, opts: CompileOptions): Promise<CompileResult> {
  const src = readSource(sourcePath, opts.onPhase);
  opts.onPhase?.('finding the attention sites');
  const plan = planSites(src, opts.sites, opts.deepcacheBranch === undefined ? 0 : opts.deepcacheBranch);
  opts.onPhase?.('building the variants');
  const variants: BuiltVariant[] = variantsFor(plan.targets).map((spec) => buildVariant(() => src.loaded.decode(), spec, plan.targets, opts.afterPass));
  const { stage, linkedFiles } = openStage(src, variants, opts);
  try {
    const linked = linkAll(stage, linkedFiles);
    const { weights, encodeOptions } = writeWeights(stage, src, linked);
    const manifestVariants = writeVariants(stage, src.named, variants, encodeOptions, plan.targets, opts.onPhase);
    const gated = writeGated(stage, src.named, variants, plan.targets, encodeOptions, opts.onPhase);
    const sites = manifestSites(plan);
    const verification = await proveStaged(opts, stage, src.modelPath, plan, manifestVariants, gated);
    const manifest = assembleManifest(src, plan, { variants: manifestVariants, gated, weights, sites, verification });
    stage.write(MANIFEST_NAME, serializeManifest(manifest));
    const passes = Object.fromEntries(variants.map((v) => [v.spec.name, v.passes]));
    opts.onPhase?.('costing');
    const cost = costReport({
      source: variants.find((v) => v.spec.name === 'planning')!.model.graph,
      variants: Object.fromEntries(variants.map((v) => [v.spec.name, v.model.graph])),
      inputs: manifest.source.inputs,
      family: plan.family,
      defaults: manifest.schedule,
      sites: sites.flatMap((x) => (x.kind === 'deep' ? [] : [{ id: x.id, kind: x.kind, scope: x.scope, tensor: x.tensor, cached: x.cached }])),
    });
    const result: CompileResult = { outDir: opts.outDir, manifest, passes, weights, cost, shapeFailures: plan.shapeFailures };
    if (src.pipeline) result.pipeline = pipelineSummary(src.pipeline, weights, linked);
    await opts.report?.(stage.dir, result, (file, text) => {
      if (!REPORT_FILES.includes(file)) throw new TgateError('E_INTERNAL', `The report may write ${REPORT_FILES.join(' and ')}, not ${file}.`);
      stage.write(file, text);
    });
    stage.commit();
    return result;
  } finally {
    stage.discard();
  }
}

/**
 * The staging folder, refusing first any source file whose place in the output is a name tgate
 * writes. Every file the output gets: the ones tgate writes (new files, under these names only)
 * and the source files linked beside them (a pipeline's every file; a model's external data),
 * which must never share a name with the first (item 1 of issue 12: writes went through such links).
 */
function openStage(src: CompileSource, variants: BuiltVariant[], opts: CompileOptions): { stage: Staging; linkedFiles: LinkedFile[] } {
  const { pipeline, modelPath, externalFiles, named } = src;
  const outputs = [
    ...[...variants.map((v) => v.spec.file), ...GATED_SETS.map((g) => g.file), ...(externalFiles.length ? [] : [WEIGHTS_FILE])].map(named),
    MANIFEST_NAME,
    ...REPORT_FILES,
  ];
  // External data keeps its location relative to the graphs (path.join as the link is placed).
  const linkedFiles: LinkedFile[] = pipeline
    ? pipelineFiles(pipeline).map((f) => ({ rel: f.rel, path: f.path }))
    : externalFiles.map((f) => ({ rel: externalRel(f.location), path: f.path }));
  refuseCollisions(linkedFiles, outputs, pipeline, modelPath);
  const sourceFiles = pipeline ? pipelineFiles(pipeline).map((f) => f.path) : [];
  const stage = stageOutput(opts.outDir, {
    force: opts.force ?? false,
    outputs,
    replaceable: whyNotTgateOutput,
    protectedFiles: [modelPath, ...externalFiles.map((f) => f.path), ...sourceFiles],
    protectedDirs: pipeline ? [pipeline.dir] : [],
  });
  return { stage, linkedFiles };
}

/**
 * External weights are shared as they are: the graphs keep their relative locations, the files
 * are linked beside them (one file, or one per tensor as raw torch exports over 2 GB write them);
 * a pipeline's with the rest of its denoiser's folder. Embedded weights are written once into
 * WEIGHTS_FILE, and every variant refers to them there.
 */
function writeWeights(
  stage: Staging,
  src: CompileSource,
  linked: Map<string, 'linked' | 'copied'>,
): { weights: CompileResult['weights']; encodeOptions: EncodeOptions } {
  const { externalFiles, named } = src;
  if (externalFiles.length > 0) {
    const modes = externalFiles.map((f) => linked.get(named(externalRel(f.location))) ?? 'linked');
    return {
      weights: {
        file: named(externalFiles[0]!.location),
        files: externalFiles.map((f) => named(f.location)),
        mode: modes.includes('copied') ? 'copied' : 'linked',
        bytes: externalFiles.reduce((a, f) => a + f.size, 0),
      },
      encodeOptions: {},
    };
  }
  const layout = src.loaded.inlineWeights(WEIGHTS_FILE);
  stage.write(named(WEIGHTS_FILE), weightsBytes(layout));
  return {
    weights: { file: named(WEIGHTS_FILE), files: [named(WEIGHTS_FILE)], mode: 'written', bytes: layout.size },
    encodeOptions: { weights: layout },
  };
}

function writeVariants(
  stage: Staging,
  named: (file: string) => string,
  variants: BuiltVariant[],
  encodeOptions: EncodeOptions,
  targets: SiteTarget[],
  onPhase: CompileOptions['onPhase'],
): ManifestVariant[] {
  const has = (k: SiteKind) => targets.some((t) => t.kind === k);
  return variants.map((v) => {
    onPhase?.(`writing ${v.spec.file}`);
    stage.write(named(v.spec.file), encodeModel(v.model, encodeOptions));
    return {
      name: v.spec.name,
      file: named(v.spec.file),
      cross: v.spec.cross,
      self: has('self') ? v.spec.self : null,
      deep: has('deep') ? v.spec.deep : null,
      cuts: v.cuts,
      usedFor: v.spec.usedFor,
      inputs: graphIo(v.model.graph, 'inputs', { initializers: true }),
      outputs: graphIo(v.model.graph, 'outputs', { initializers: true }),
      removedInputs: v.removedInputs,
      nodes: v.model.graph.nodes.length,
    };
  });
}

/** Each gated model whose variants were all built: the variants as branches of one If. */
function writeGated(
  stage: Staging,
  named: (file: string) => string,
  variants: BuiltVariant[],
  targets: SiteTarget[],
  encodeOptions: EncodeOptions,
  onPhase: CompileOptions['onPhase'],
): ManifestGated[] {
  const variant = (name: VariantName) => variants.find((v) => v.spec.name === name)!;
  const gatedCaches = targets.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor }));
  const gated: ManifestGated[] = [];
  for (const set of GATED_SETS) {
    if (!set.variants.every((n) => variants.some((v) => v.spec.name === n))) continue;
    const branches = set.variants.map((n) => ({ name: n, model: variant(n).model, cuts: variant(n).cuts }));
    onPhase?.(`writing ${set.file}`);
    const built = encodeGatedModel(branches, gatedCaches, encodeOptions);
    stage.write(named(set.file), built.bytes);
    gated.push({ file: named(set.file), variants: built.variants.map((v) => ({ ...v, name: v.name as VariantName })) });
  }
  return gated;
}

/** Runs the prover over the staged artifacts, or records that the proof was skipped. */
async function proveStaged(
  opts: CompileOptions,
  stage: Staging,
  modelPath: string,
  plan: SitePlan,
  variants: ManifestVariant[],
  gated: ManifestGated[],
): Promise<Manifest['verification']> {
  if (!opts.prover) return { skipped: true };
  opts.onPhase?.('proving the variants with onnxruntime');
  const source = plan.analysed.graph;
  const proof = await opts.prover({
    sourcePath: path.resolve(modelPath),
    dir: stage.dir,
    variants: variants.map((v) => ({ name: v.name, file: v.file, cuts: v.cuts, removedInputs: v.removedInputs })),
    gated,
    inputs: graphTensors(source, 'inputs'),
    outputs: graphTensors(source, 'outputs', { initializers: true }),
    cached: plan.targets.map((t) => ({ id: t.id, kind: t.kind, tensor: t.tensor, gatedInput: gatedCacheInput(t.id), shape: t.type.shape! })),
  });
  return { skipped: false, ...proof };
}

/** A pipeline compile's linked files, the weights apart. */
function pipelineSummary(
  p: PipelineSource,
  weights: CompileResult['weights'],
  linked: Map<string, 'linked' | 'copied'>,
): NonNullable<CompileResult['pipeline']> {
  const others = pipelineFiles(p).filter((f) => !weights.files.includes(f.rel));
  return {
    files: others.length,
    bytes: others.reduce((a, f) => a + f.size, 0),
    mode: others.some((f) => linked.get(f.rel) === 'copied') ? 'copied' : 'linked',
  };
}
