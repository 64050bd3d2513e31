// compile: load -> find sites -> build planning and fidelity graphs -> lay out weights ->
// write into a staging folder -> prove (optional) -> manifest -> move into place. A pipeline
// folder: the same for its denoiser, written inside the denoiser's folder of an output that keeps
// the source's layout (every component file hard-linked), with one manifest at the top.
import path from 'node:path';
import { collidingOutput, stageOutput, type Staging } from './artifacts.js';
import { costReport, type CostReport } from './cost-report.js';
import { TgateError } from '../base/errors.js';
import { chooseSites, type SiteFilter } from './site-selection.js';
import { modelFromProto } from '../io/decode.js';
import { encodeModel, type EncodeOptions } from '../io/encode.js';
import { encodeGatedModel, gatedCacheInput } from './gated-model.js';
import { familyOfGraph, FAMILY_DEFAULTS } from '../analyses/family.js';
import { buildVariant, variantsFor, type BuiltVariant, type SiteTarget, type VariantName } from './variants.js';
import { externalized, externalRefOf, withLinkableExternalData, layoutWeights, type WeightsLayout } from '../io/external-data.js';
import { loadSource } from '../io/load.js';
import { isFolder, pipelineFiles, readPipeline, type PipelineSource } from '../io/pipeline-folder.js';
import { whyNotTgateOutput } from '../base/output/tgate-output.js';
import { dtypeName } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { defaultOpset } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import { inferShapes, type ShapeInference } from '../analyses/shapes/infer.js';
import { symToDim } from '../analyses/shapes/sym.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  manifestShape,
  serializeManifest,
  type Manifest,
  type ManifestGated,
  type ManifestIo,
  type ManifestSite,
  type ManifestVariant,
} from './manifest.js';
import type { PassRecord } from '../passes/pass-manager.js';
import type { Prover } from './proof.js';
import { findAttentionSites, type Site, type SiteReport } from '../analyses/attention/find-sites.js';
import { cutType } from '../analyses/attention/site-shape.js';

/**
 * The gated models compile writes: each holds the variants one kind of schedule uses, so a
 * runtime opens only those (v1; v2 with fi_interval 1; v2 with fi_interval > 1).
 */
export const GATED_SETS: { file: string; variants: VariantName[] }[] = [
  { file: 'gated.onnx', variants: ['planning', 'fidelity'] },
  { file: 'gated-v2.onnx', variants: ['planning', 'reuse-self', 'fidelity'] },
  { file: 'gated-v2-fi.onnx', variants: ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'] },
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
  /**
   * Writes extra files (the --report) after the manifest, before the move: it reads the staging
   * folder and writes only REPORT_FILES, through `write` (new files only).
   */
  report?: (stagingDir: string, result: CompileResult, write: (file: string, text: string) => void) => void | Promise<void>;
  /** Told each phase as it starts (the CLI shows it as progress on a terminal). */
  onPhase?: (phase: string) => void;
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
    {
      subject: { file },
      hint: 'TGATE needs a text-conditioned UNet or DiT export (keys/values read encoder_hidden_states). Run `tgate inspect --explain` to see every candidate.',
    },
  );
}

/**
 * The type of a cut tensor, for the new graph inputs and outputs and the manifest: the symbolic
 * shape inference's where it names every dim (at the cut's own rank: 3, or 2 for a
 * [batch·tokens, channels] out-projection), else the site analysis's, completed with named symbols.
 */
function siteType(site: Site, inferred: ShapeInference): TensorType {
  const facts = inferred.facts.get(site.match.output);
  const shape = facts?.shape?.map(symToDim);
  // The inference knows the rank where structure only guessed it (a reshape to a computed shape).
  const rank = shape?.length ?? site.cut.shape?.length ?? 3;
  const cut = rank === site.cut.shape?.length ? site.cut : cutType(site.type, rank);
  if (shape && shape.length === rank && shape.every((d) => d !== null)) return { dtype: facts!.dtype || cut.dtype || 1, shape };
  return { dtype: cut.dtype || 1, shape: (cut.shape ?? [null, null, null]).map((d, i) => d ?? `${site.id}_dim${i}`) };
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
  // A folder is a pipeline: its denoiser is compiled as one model is, and every name the manifest
  // holds is relative to the manifest's folder (the pipeline's top), i.e. prefixed "unet/".
  const pipeline = isFolder(sourcePath) ? readPipeline(sourcePath) : null;
  const modelPath = pipeline ? pipeline.model : sourcePath;
  const named = (file: string) => (pipeline ? path.posix.join(pipeline.denoiser, file) : file);
  opts.onPhase?.(`reading ${path.basename(modelPath)}`);
  const src = loadSource(modelPath);
  // Checked by loadSource: every tensor's external data, wherever it lives in the model.
  const externalFiles = src.externalFiles;
  // Constants with external data become initializers (io/external-data.ts says why).
  const proto = withLinkableExternalData(src.proto, modelPath);
  const graphProto = proto.graph!;

  opts.onPhase?.('finding the attention sites');
  const analysed = modelFromProto(proto);
  const report = findAttentionSites(analysed.graph);
  if (!report.sites.some((s) => s.kind === 'cross')) throw noCrossError(modelPath, report);
  const choices = chooseSites(report.sites, opts.sites);
  const cachedSites = choices.filter((c) => c.cached).map((c) => c.site);
  const inferred = inferShapes(analysed.graph);
  const cachedType = (s: Site) => siteType(s, inferred);
  const targets: SiteTarget[] = cachedSites.map((s) => ({ kind: s.kind, tensor: s.tensor, type: cachedType(s) }));
  opts.onPhase?.('building the variants');
  const variants: BuiltVariant[] = variantsFor(targets).map((spec) => buildVariant(proto, spec, targets));
  const variant = (name: VariantName) => variants.find((v) => v.spec.name === name)!;
  const selfCached = targets.some((t) => t.kind === 'self');
  const source = analysed.graph;
  const sourceInputs = source.inputs.filter((v) => !v.initializer);
  const { family, why } = familyOfGraph(
    source,
    report.sites.map((s) => s.type.shape?.[1] ?? null),
  );

  // Every file the output gets: the ones tgate writes (new files, under these names only) and the
  // source files linked beside them (a pipeline's every file; a model's external data), which
  // must never share a name with the first (item 1 of issue 12: writes went through such links).
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
  try {
    const linked = linkAll(stage, linkedFiles);
    let weights: CompileResult['weights'];
    let encodeOptions: EncodeOptions;
    if (externalFiles.length > 0) {
      // Shared as is: the graphs keep their relative locations, the files are linked beside them
      // (one file, or one per tensor as raw torch exports over 2 GB write them); a pipeline's with
      // the rest of its denoiser's folder.
      const modes = externalFiles.map((f) => linked.get(named(externalRel(f.location))) ?? 'linked');
      weights = {
        file: named(externalFiles[0]!.location),
        files: externalFiles.map((f) => named(f.location)),
        mode: modes.includes('copied') ? 'copied' : 'linked',
        bytes: externalFiles.reduce((a, f) => a + f.size, 0),
      };
      encodeOptions = {};
    } else {
      const layout = layoutWeights(
        graphProto.initializer.filter((t) => !externalRefOf(t)),
        WEIGHTS_FILE,
      );
      stage.write(named(WEIGHTS_FILE), weightsBytes(layout));
      weights = { file: named(WEIGHTS_FILE), files: [named(WEIGHTS_FILE)], mode: 'written', bytes: layout.size };
      encodeOptions = { initializer: (v) => externalized(v.initializer!, layout) };
    }
    const manifestVariants: ManifestVariant[] = variants.map((v) => {
      opts.onPhase?.(`writing ${v.spec.file}`);
      stage.write(named(v.spec.file), encodeModel(v.model, encodeOptions));
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
      opts.onPhase?.(`writing ${set.file}`);
      const built = encodeGatedModel(branches, gatedCaches, encodeOptions);
      stage.write(named(set.file), built.bytes);
      gated.push({ file: named(set.file), variants: built.variants.map((v) => ({ ...v, name: v.name as VariantName })) });
    }

    const sites: ManifestSite[] = choices.map(({ site: s, cached, reason }) => {
      const t = cached ? cachedType(s) : s.cut;
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
      opts.onPhase?.('proving the variants with onnxruntime');
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
    stage.write(MANIFEST_NAME, serializeManifest(manifest));
    const passes = Object.fromEntries(variants.map((v) => [v.spec.name, v.passes]));
    opts.onPhase?.('costing');
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
      result.pipeline = {
        files: others.length,
        bytes: others.reduce((a, f) => a + f.size, 0),
        mode: others.some((f) => linked.get(f.rel) === 'copied') ? 'copied' : 'linked',
      };
    }
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
