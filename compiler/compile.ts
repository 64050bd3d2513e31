// compile: load -> find sites -> build planning and fidelity graphs -> lay out weights ->
// write into a staging folder -> prove (optional) -> manifest -> move into place.
import fs from 'node:fs';
import path from 'node:path';
import { stageOutput, linkOrCopy } from './artifacts.js';
import { TgateError } from './errors.js';
import { chooseSites, type SiteFilter } from './site-selection.js';
import { modelFromProto } from './io/decode.js';
import { encodeModel, type EncodeOptions } from './io/encode.js';
import { encodeGatedModel, gatedCacheInput, gatedCacheOutput, USE_CACHE_INPUT } from './io/gated-model.js';
import { checkExternalData, externalized, externalRefOf, layoutWeights, writeWeights } from './io/external-data.js';
import { loadSource } from './io/load.js';
import { dtypeName } from './ir/dtype.js';
import type { Graph } from './ir/graph.js';
import { defaultOpset, type Model } from './ir/model.js';
import type { Dim, TensorType } from './ir/value.js';
import { MANIFEST_FORMAT, manifestShape, serializeManifest, type Manifest, type ManifestIo, type ManifestSite } from './manifest.js';
import { runPasses, type PassRecord } from './pipeline/pass-manager.js';
import type { Prover } from './proof.js';
import { findAttentionSites, type Site, type SiteReport } from '../passes/attention/find-sites.js';
import { cutAtValues } from '../passes/cut-at-values.js';
import { exposeOutputs } from '../passes/expose-outputs.js';
import { pruneUnusedInputs } from '../passes/prune-unused-inputs.js';

export const PLANNING_FILE = 'planning.onnx';
export const FIDELITY_FILE = 'fidelity.onnx';
export const GATED_FILE = 'gated.onnx';
export const MANIFEST_FILE = 'tgate.json';
/** The weights file written for sources whose weights are embedded. */
export const WEIGHTS_FILE = 'weights.onnx_data';

export interface CompileOptions {
  outDir: string;
  force?: boolean;
  /** Proves the artifacts; null skips the proof (recorded in the manifest). */
  prover: Prover | null;
  /** Which sites are cached: kinds (cross by default) and globs on scope or id. */
  sites?: SiteFilter;
}

export interface CompileResult {
  outDir: string;
  manifest: Manifest;
  passes: { planning: PassRecord[]; fidelity: PassRecord[] };
  weights: { file: string; files: string[]; mode: 'written' | 'linked' | 'copied'; bytes: number };
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

/** Completes a structural site type with named symbols where structure could not tell. */
function cachedType(site: Site): TensorType {
  const shape: Dim[] = (site.type.shape ?? [null, null, null]).map((d, i) => d ?? `${site.id}_dim${i}`);
  return { dtype: site.type.dtype || 1, shape };
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
  const targets = cachedSites.map((s) => ({ tensor: s.tensor, type: cachedType(s) }));

  const planning = modelFromProto(src.proto);
  const planningPasses = runPasses(planning.graph, [exposeOutputs(targets)]);
  const fidelity = modelFromProto(src.proto);
  const prune = pruneUnusedInputs();
  const fidelityPasses = runPasses(fidelity.graph, [cutAtValues(targets), prune]);
  const removed = prune.removed;
  // Taken now: building the gated model renames the variants' final outputs inside their IR.
  const io = {
    planning: { inputs: ioOf(planning.graph, 'inputs'), outputs: ioOf(planning.graph, 'outputs') },
    fidelity: { inputs: ioOf(fidelity.graph, 'inputs'), outputs: ioOf(fidelity.graph, 'outputs') },
  };
  const nodeCounts = { source: analysed.graph.nodes.length, planning: planning.graph.nodes.length, fidelity: fidelity.graph.nodes.length };

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
    const encode = (m: Model) => encodeModel(m, encodeOptions);
    const planningPath = path.join(stage.dir, PLANNING_FILE);
    const fidelityPath = path.join(stage.dir, FIDELITY_FILE);
    const gatedPath = path.join(stage.dir, GATED_FILE);
    fs.writeFileSync(planningPath, encode(planning));
    fs.writeFileSync(fidelityPath, encode(fidelity));
    // The variants' own files are written; the gated model may now consume their IR.
    fs.writeFileSync(gatedPath, encodeGatedModel(planning, fidelity, cachedSites.map((s) => ({ id: s.id, tensor: s.tensor })), encodeOptions));

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
        fidelityInput: cached ? s.tensor : null,
        gatedInput: cached ? gatedCacheInput(s.id) : null,
        gatedOutput: cached ? gatedCacheOutput(s.id) : null,
        dtype: dtypeName(t.dtype),
        shape: manifestShape(t.shape),
      };
    });
    const source = analysed.graph;
    let verification: Manifest['verification'] = { skipped: true };
    if (opts.prover) {
      const proof = await opts.prover({
        sourcePath: path.resolve(sourcePath),
        planningPath,
        fidelityPath,
        gatedPath,
        useCacheInput: USE_CACHE_INPUT,
        inputs: source.inputs.filter((v) => !v.initializer).map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: v.type?.shape ?? [] })),
        outputs: source.outputs.map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: v.type?.shape ?? [] })),
        fidelityDropsInputs: removed.slice(),
        cached: cachedSites.map((s) => ({ id: s.id, planningOutput: s.tensor, fidelityInput: s.tensor, gatedInput: gatedCacheInput(s.id), gatedOutput: gatedCacheOutput(s.id), shape: cachedType(s).shape! })),
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
      },
      graphs: { planning: PLANNING_FILE, fidelity: FIDELITY_FILE, gated: GATED_FILE },
      gated: { useCacheInput: USE_CACHE_INPUT },
      weights: weights.file,
      weightsFiles: weights.files,
      io,
      removedInputs: removed.slice(),
      nodeCounts,
      sites,
      verification,
    };
    fs.writeFileSync(path.join(stage.dir, MANIFEST_FILE), serializeManifest(manifest));
    stage.commit();
    return { outDir: opts.outDir, manifest, passes: { planning: planningPasses, fidelity: fidelityPasses }, weights };
  } finally {
    stage.discard();
  }
}
