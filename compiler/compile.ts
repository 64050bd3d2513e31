// compile: load -> find sites -> build planning and fidelity graphs -> lay out weights ->
// write into a staging folder -> prove (optional) -> manifest -> move into place. A pipeline
// folder: the same for its denoiser, written inside the denoiser's folder of an output that keeps
// the source's layout (every component file hard-linked), with one manifest at the top.
import fs from 'node:fs';
import path from 'node:path';
import { stageOutput, linkOrCopy } from './artifacts.js';
import { costReport, type CostReport } from './cost/cost-report.js';
import { TgateError } from './errors.js';
import { chooseSites, type SiteFilter } from './site-selection.js';
import { modelFromProto } from './io/decode.js';
import { encodeModel, type EncodeOptions } from './io/encode.js';
import { encodeGatedModel, gatedCacheInput } from './io/gated-model.js';
import { familyOfGraph, FAMILY_DEFAULTS } from './family.js';
import { buildVariant, variantsFor, type BuiltVariant, type SiteTarget, type VariantName } from './variants.js';
import { checkExternalData, externalized, externalRefOf, layoutWeights, writeWeights } from './io/external-data.js';
import { loadSource } from './io/load.js';
import { isFolder, pipelineFiles, readPipeline, type PipelineSource } from './io/pipeline-folder.js';
import { dtypeName } from './ir/dtype.js';
import type { Graph } from './ir/graph.js';
import { defaultOpset } from './ir/model.js';
import type { TensorType } from './ir/value.js';
import { inferShapes, type ShapeInference } from './shapes/infer.js';
import { symToDim } from './shapes/sym.js';
import { MANIFEST_FORMAT, manifestShape, serializeManifest, type Manifest, type ManifestGated, type ManifestIo, type ManifestSite, type ManifestVariant } from './manifest.js';
import type { PassRecord } from './pipeline/pass-manager.js';
import type { Prover } from './proof.js';
import { findAttentionSites, type Site, type SiteReport } from '../passes/attention/find-sites.js';

/**
 * The gated models compile writes: each holds the variants one kind of schedule uses, so a
 * runtime opens only those (v1; v2 with fi_interval 1; v2 with fi_interval > 1).
 */
export const GATED_SETS: { file: string; variants: VariantName[] }[] = [
  { file: 'gated.onnx', variants: ['planning', 'fidelity'] },
  { file: 'gated-v2.onnx', variants: ['planning', 'reuse-self', 'fidelity'] },
  { file: 'gated-v2-fi.onnx', variants: ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] },
];
export const MANIFEST_FILE = 'tgate.json';
/** The weights file written for sources whose weights are embedded. */
export const WEIGHTS_FILE = 'weights.onnx_data';

export interface CompileOptions {
  outDir: string;
  force?: boolean;
  /** Proves the artifacts; null skips the proof (recorded in the manifest). */
  prover: Prover | null;
  /** Which sites are cached: kinds (all by default) and globs on scope or id. */
  sites?: SiteFilter;
  /** Writes extra files (the --report) into the staging folder, after the manifest, before the move. */
  report?: (stagingDir: string, result: CompileResult) => void | Promise<void>;
}

export interface CompileResult {
  outDir: string;
  manifest: Manifest;
  /** A pipeline folder's compile: the source files linked beside the artifacts (the weights apart). */
  pipeline?: { files: number; bytes: number; mode: 'linked' | 'copied' };
  passes: Partial<Record<VariantName, PassRecord[]>>;
  weights: { file: string; files: string[]; mode: 'written' | 'linked' | 'copied'; bytes: number };
  /** MACs, parameters and the schedule bounds at the family's default sizes. */
  cost: CostReport;
}

function noCrossError(file: string, report: SiteReport): TgateError {
  const lines = report.rejected.slice(0, 20).map((r) => `  - ${r.node}: ${r.reason}`);
  const self = report.sites.length;
  return new TgateError(
    'E_NO_CROSS_ATTENTION',
    `${file} has no cross-attention to gate: ${report.candidates} softmax candidate(s) seen, ${self} matched as self-attention, ${report.rejected.length} rejected.` +
      (lines.length ? `\n${lines.join('\n')}` : ''),
    { subject: { file }, hint: 'TGATE needs a text-conditioned UNet or DiT export (keys/values read encoder_hidden_states). Run `tgate inspect --explain` to see every candidate.' },
  );
}

/**
 * The type of a cut tensor, for the new graph inputs and outputs: the symbolic shape inference's
 * where it names every dim, else the site analysis's, completed with named symbols.
 */
function siteType(site: Site, inferred: ShapeInference): TensorType {
  const facts = inferred.facts.get(site.match.output);
  const shape = facts?.shape?.map(symToDim);
  if (shape && shape.length === 3 && shape.every((d) => d !== null)) return { dtype: facts!.dtype || site.type.dtype || 1, shape };
  return { dtype: site.type.dtype || 1, shape: (site.type.shape ?? [null, null, null]).map((d, i) => d ?? `${site.id}_dim${i}`) };
}

/** The manifest's `pipeline` field: names relative to the manifest's folder. */
function pipelineEntry(p: PipelineSource): NonNullable<Manifest['pipeline']> {
  return {
    className: p.className,
    denoiser: p.denoiser,
    components: Object.fromEntries(p.components.map((c) => [c.name, { files: c.files.map((f) => f.rel) }])),
  };
}

function ioOf(g: Graph, which: 'inputs' | 'outputs'): ManifestIo[] {
  return g[which].map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: manifestShape(v.type?.shape ?? null) }));
}

/** The files tgate writes beside a pipeline's denoiser: the source's folder must not hold them. */
function refuseCollisions(p: PipelineSource, written: string[]): void {
  const taken = new Set(p.denoiserFiles.map((f) => f.rel));
  const clash = written.map((f) => `${p.denoiser}/${f}`).filter((f) => taken.has(f));
  if (clash.length) {
    throw new TgateError('E_BAD_PIPELINE', `${path.join(p.dir, p.denoiser)} already holds ${clash.join(', ')}, which tgate writes there: it looks compiled, or holds files of another tool.`, {
      subject: { file: path.join(p.dir, clash[0]!) },
      hint: 'Compile the original exported pipeline folder.',
    });
  }
}

/**
 * Hard-links a pipeline's source files into the staging folder at their relative places (copies
 * where a link is impossible; symlinks in a cache snapshot resolved to their blobs). Returns the
 * way each file got there.
 */
function linkPipeline(p: PipelineSource, stageDir: string): Map<string, 'linked' | 'copied'> {
  const modes = new Map<string, 'linked' | 'copied'>();
  for (const c of p.components) fs.mkdirSync(path.join(stageDir, c.name), { recursive: true });
  for (const f of pipelineFiles(p)) modes.set(f.rel, linkOrCopy(f.path, path.join(stageDir, ...f.rel.split('/'))));
  return modes;
}

export async function compile(sourcePath: string, opts: CompileOptions): Promise<CompileResult> {
  // A folder is a pipeline: its denoiser is compiled as one model is, and every name the manifest
  // holds is relative to the manifest's folder (the pipeline's top), i.e. prefixed "unet/".
  const pipeline = isFolder(sourcePath) ? readPipeline(sourcePath) : null;
  const modelPath = pipeline ? pipeline.model : sourcePath;
  const named = (file: string) => (pipeline ? path.posix.join(pipeline.denoiser, file) : file);
  const src = loadSource(modelPath);
  const sourceDir = path.dirname(path.resolve(modelPath));
  const graphProto = src.proto.graph!;
  const externalFiles = checkExternalData(graphProto.initializer, sourceDir, modelPath);

  const analysed = modelFromProto(src.proto);
  const report = findAttentionSites(analysed.graph);
  if (!report.sites.some((s) => s.kind === 'cross')) throw noCrossError(modelPath, report);
  const choices = chooseSites(report.sites, opts.sites);
  const cachedSites = choices.filter((c) => c.cached).map((c) => c.site);
  const inferred = inferShapes(analysed.graph);
  const cachedType = (s: Site) => siteType(s, inferred);
  const targets: SiteTarget[] = cachedSites.map((s) => ({ kind: s.kind, tensor: s.tensor, type: cachedType(s) }));
  const variants: BuiltVariant[] = variantsFor(targets).map((spec) => buildVariant(src.proto, spec, targets));
  const variant = (name: VariantName) => variants.find((v) => v.spec.name === name)!;
  const selfCached = targets.some((t) => t.kind === 'self');
  const source = analysed.graph;
  const sourceInputs = source.inputs.filter((v) => !v.initializer);
  const { family, why } = familyOfGraph(source, report.sites.map((s) => s.type.shape?.[1] ?? null));

  if (pipeline) refuseCollisions(pipeline, [...variants.map((v) => v.spec.file), ...GATED_SETS.map((g) => g.file), ...(externalFiles.length ? [] : [WEIGHTS_FILE])]);
  const sourceFiles = pipeline ? pipelineFiles(pipeline).map((f) => f.path) : [];
  const stage = stageOutput(opts.outDir, [modelPath, ...externalFiles.map((f) => f.path), ...sourceFiles], opts.force ?? false, pipeline ? [pipeline.dir] : []);
  try {
    // Where the graphs and the weights go: the output, or a pipeline's denoiser folder in it.
    const artifactDir = pipeline ? path.join(stage.dir, pipeline.denoiser) : stage.dir;
    const linked = pipeline ? linkPipeline(pipeline, stage.dir) : new Map<string, 'linked' | 'copied'>();
    let weights: CompileResult['weights'];
    let encodeOptions: EncodeOptions;
    if (externalFiles.length > 0) {
      // Shared as is: the graphs keep their relative locations, the files are linked beside them
      // (one file, or one per tensor as raw torch exports over 2 GB write them). A pipeline's are
      // linked already, with the rest of its denoiser's folder.
      const modes = externalFiles.map((f) => linked.get(named(f.location)) ?? linkOrCopy(f.path, path.join(artifactDir, f.location)));
      weights = {
        file: named(externalFiles[0]!.location),
        files: externalFiles.map((f) => named(f.location)),
        mode: modes.includes('copied') ? 'copied' : 'linked',
        bytes: externalFiles.reduce((a, f) => a + f.size, 0),
      };
      encodeOptions = {};
    } else {
      const layout = layoutWeights(graphProto.initializer.filter((t) => !externalRefOf(t)), WEIGHTS_FILE);
      fs.mkdirSync(artifactDir, { recursive: true });
      writeWeights(path.join(artifactDir, WEIGHTS_FILE), layout);
      weights = { file: named(WEIGHTS_FILE), files: [named(WEIGHTS_FILE)], mode: 'written', bytes: layout.size };
      encodeOptions = { initializer: (v) => externalized(v.initializer!, layout) };
    }
    const manifestVariants: ManifestVariant[] = variants.map((v) => {
      fs.writeFileSync(path.join(artifactDir, v.spec.file), encodeModel(v.model, encodeOptions));
      return {
        name: v.spec.name,
        file: named(v.spec.file),
        cross: v.spec.cross,
        self: selfCached ? v.spec.self : null,
        usedFor: v.spec.usedFor,
        inputs: ioOf(v.model.graph, 'inputs'),
        outputs: ioOf(v.model.graph, 'outputs'),
        removedInputs: v.removedInputs,
        nodes: v.model.graph.nodes.length,
      };
    });
    const gatedCaches = cachedSites.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor }));
    const gated: ManifestGated[] = [];
    for (const set of GATED_SETS) {
      if (!set.variants.every((n) => variants.some((v) => v.spec.name === n))) continue;
      const branches = set.variants.map((n) => ({ name: n, model: variant(n).model, cross: variant(n).spec.cross, self: variant(n).spec.self }));
      const built = encodeGatedModel(branches, gatedCaches, encodeOptions);
      fs.writeFileSync(path.join(artifactDir, set.file), built.bytes);
      gated.push({ file: named(set.file), variants: built.variants.map((v) => ({ ...v, name: v.name as VariantName })) });
    }

    const sites: ManifestSite[] = choices.map(({ site: s, cached, reason }) => {
      const t = cached ? cachedType(s) : s.type;
      return {
        id: s.id,
        kind: s.kind,
        scope: s.scope,
        tensor: s.tensor,
        cached,
        reason,
        note: s.note,
        planningOutput: cached ? s.tensor : null,
        fidelityInput: cached && s.kind === 'cross' ? s.tensor : null,
        reuseInput: cached && s.kind === 'self' ? s.tensor : null,
        gatedInput: cached ? gatedCacheInput(s.id) : null,
        dtype: dtypeName(t.dtype),
        shape: manifestShape(t.shape),
      };
    });
    let verification: Manifest['verification'] = { skipped: true };
    if (opts.prover) {
      const proof = await opts.prover({
        sourcePath: path.resolve(modelPath),
        dir: stage.dir,
        variants: manifestVariants.map((v) => ({ name: v.name, file: v.file, cross: v.cross, self: v.self ?? 'output', removedInputs: v.removedInputs })),
        gated,
        inputs: sourceInputs.map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: v.type?.shape ?? [] })),
        outputs: source.outputs.map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: v.type?.shape ?? [] })),
        cached: cachedSites.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor, gatedInput: gatedCacheInput(s.id), shape: cachedType(s).shape! })),
      });
      verification = { skipped: false, ...proof };
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      source: {
        file: named(path.basename(modelPath)),
        sha256: src.sha256,
        opset: defaultOpset(analysed),
        irVersion: Number(src.proto.irVersion),
        producer: `${src.proto.producerName} ${src.proto.producerVersion}`.trim(),
        inputs: ioOf(source, 'inputs').filter((i) => sourceInputs.some((v) => v.name === i.name)),
        outputs: ioOf(source, 'outputs'),
        nodes: source.nodes.length,
      },
      ...(pipeline ? { pipeline: pipelineEntry(pipeline) } : {}),
      family: { name: family, why },
      schedule: FAMILY_DEFAULTS[family],
      variants: manifestVariants,
      gated,
      weights: weights.file,
      weightsFiles: weights.files,
      sites,
      verification,
    };
    fs.writeFileSync(path.join(stage.dir, MANIFEST_FILE), serializeManifest(manifest));
    const passes = Object.fromEntries(variants.map((v) => [v.spec.name, v.passes]));
    const cost = costReport({
      source: variant('planning').model.graph,
      variants: Object.fromEntries(variants.map((v) => [v.spec.name, v.model.graph])),
      inputs: manifest.source.inputs,
      family,
      defaults: manifest.schedule,
      sites: sites.map((x) => ({ id: x.id, kind: x.kind, scope: x.scope, tensor: x.tensor, cached: x.cached })),
    });
    const result: CompileResult = { outDir: opts.outDir, manifest, passes, weights, cost };
    if (pipeline) {
      const others = pipelineFiles(pipeline).filter((f) => !weights.files.includes(f.rel));
      result.pipeline = { files: others.length, bytes: others.reduce((a, f) => a + f.size, 0), mode: others.some((f) => linked.get(f.rel) === 'copied') ? 'copied' : 'linked' };
    }
    await opts.report?.(stage.dir, result);
    stage.commit();
    return result;
  } finally {
    stage.discard();
  }
}
