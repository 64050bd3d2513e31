// compile: load -> find sites -> build planning and fidelity graphs -> lay out weights ->
// write into a staging folder -> prove (optional) -> manifest -> move into place.
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

function ioOf(g: Graph, which: 'inputs' | 'outputs'): ManifestIo[] {
  return g[which].map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: manifestShape(v.type?.shape ?? null) }));
}

export async function compile(sourcePath: string, opts: CompileOptions): Promise<CompileResult> {
  const src = loadSource(sourcePath);
  const sourceDir = path.dirname(path.resolve(sourcePath));
  const graphProto = src.proto.graph!;
  const externalFiles = checkExternalData(graphProto.initializer, sourceDir, sourcePath);

  const analysed = modelFromProto(src.proto);
  const report = findAttentionSites(analysed.graph);
  if (!report.sites.some((s) => s.kind === 'cross')) throw noCrossError(sourcePath, report);
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

  const stage = stageOutput(opts.outDir, [sourcePath, ...externalFiles.map((f) => f.path)], opts.force ?? false);
  try {
    let weights: CompileResult['weights'];
    let encodeOptions: EncodeOptions;
    if (externalFiles.length > 0) {
      // Shared as is: the graphs keep their relative locations, the files are linked beside them
      // (one file, or one per tensor as raw torch exports over 2 GB write them).
      const modes = externalFiles.map((f) => linkOrCopy(f.path, path.join(stage.dir, f.location)));
      weights = {
        file: externalFiles[0]!.location,
        files: externalFiles.map((f) => f.location),
        mode: modes.includes('copied') ? 'copied' : 'linked',
        bytes: externalFiles.reduce((a, f) => a + f.size, 0),
      };
      encodeOptions = {};
    } else {
      const layout = layoutWeights(graphProto.initializer.filter((t) => !externalRefOf(t)), WEIGHTS_FILE);
      writeWeights(path.join(stage.dir, WEIGHTS_FILE), layout);
      weights = { file: WEIGHTS_FILE, files: [WEIGHTS_FILE], mode: 'written', bytes: layout.size };
      encodeOptions = { initializer: (v) => externalized(v.initializer!, layout) };
    }
    const manifestVariants: ManifestVariant[] = variants.map((v) => {
      fs.writeFileSync(path.join(stage.dir, v.spec.file), encodeModel(v.model, encodeOptions));
      return {
        name: v.spec.name,
        file: v.spec.file,
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
      fs.writeFileSync(path.join(stage.dir, set.file), built.bytes);
      gated.push({ file: set.file, variants: built.variants.map((v) => ({ ...v, name: v.name as VariantName })) });
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
        sourcePath: path.resolve(sourcePath),
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
        file: path.basename(sourcePath),
        sha256: src.sha256,
        opset: defaultOpset(analysed),
        irVersion: Number(src.proto.irVersion),
        producer: `${src.proto.producerName} ${src.proto.producerVersion}`.trim(),
        inputs: ioOf(source, 'inputs').filter((i) => sourceInputs.some((v) => v.name === i.name)),
        outputs: ioOf(source, 'outputs'),
        nodes: source.nodes.length,
      },
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
    await opts.report?.(stage.dir, result);
    stage.commit();
    return result;
  } finally {
    stage.discard();
  }
}
