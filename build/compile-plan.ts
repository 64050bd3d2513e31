// compile's first phases: read the source (a model file, or a pipeline folder's denoiser) and
// decide what to cache: the attention sites, which of them are cached and at which type, and the
// family. Reads and analyses only; nothing is written.
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { findAttentionSites, type Site, type SiteReport } from '../analyses/attention/find-sites.js';
import { findDeepCacheCut, type DeepCacheCut } from '../analyses/deepcache/find-cut.js';
import { isDeepCacheMiss, type DeepCacheMiss } from '../analyses/deepcache/miss.js';
import { missPlacesText } from '../analyses/attention/miss.js';
import { cutType } from '../analyses/attention/site-shape.js';
import { familyOfGraph, type Family } from '../analyses/family.js';
import { inferShapes, type ShapeInference, type ShapeRuleFailure } from '../analyses/shapes/infer.js';
import { symToDim } from '../analyses/shapes/sym.js';
import type { ExternalFile } from '../io/external-data.js';
import { loadSource, type LoadedModel } from '../io/load.js';
import { isFolder, readPipeline, type PipelineSource } from '../io/pipeline-folder.js';
import { DTYPE } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';
import type { TensorType } from '../ir/value.js';
import { chooseSites, type SiteFilter } from './site-selection.js';
import type { SiteTarget } from './variants.js';

/** The source as compile reads it: the model file (a pipeline's denoiser) and the files beside it. */
export interface CompileSource {
  pipeline: PipelineSource | null;
  modelPath: string;
  /** A file's name as the manifest holds it: relative to the manifest's folder ("unet/..." in a pipeline). */
  named: (file: string) => string;
  /** The model with constants' external data made linkable (io/external-data.ts says why): each decode() a fresh IR copy. */
  loaded: LoadedModel;
  /** Checked by loadSource: every tensor's external data, wherever it lives in the model. */
  externalFiles: ExternalFile[];
}

/** What the analysis decided: the sites, which are cached, and the family. */
export interface SitePlan {
  analysed: Model;
  report: SiteReport;
  choices: ReturnType<typeof chooseSites>;
  cachedSites: Site[];
  cachedType: (s: Site) => TensorType;
  targets: SiteTarget[];
  family: Family;
  why: string;
  /** Nodes whose shape rule failed: a cut type there falls back on named dims (siteType). Empty on every supported model. */
  shapeFailures: ShapeRuleFailure[];
  /** DeepCache's cut for the requested branch (its target is the `deep` one in `targets`), why none was found, or null when not asked for. */
  deep: { cut: DeepCacheCut; id: string; type: TensorType } | { miss: DeepCacheMiss } | null;
  /** The branch id asked for (null: none). */
  deepBranch: number | null;
}

/** The site id of the deep feature (attention sites are cross.N and self.N). */
export const DEEP_SITE_ID = 'deep.0';

export function readSource(sourcePath: string, onPhase?: (phase: string) => void): CompileSource {
  // A folder is a pipeline: its denoiser is compiled as one model is, and every name the manifest
  // holds is relative to the manifest's folder (the pipeline's top), i.e. prefixed "unet/".
  const pipeline = isFolder(sourcePath) ? readPipeline(sourcePath) : null;
  const modelPath = pipeline ? pipeline.model : sourcePath;
  const named = (file: string) => (pipeline ? path.posix.join(pipeline.denoiser, file) : file);
  onPhase?.(`reading ${path.basename(modelPath)}`);
  // Constants with external data become initializers (io/external-data.ts says why).
  const loaded = loadSource(modelPath).withLinkableExternalData();
  return { pipeline, modelPath, named, loaded, externalFiles: loaded.externalFiles };
}

/**
 * The sites to cache. `deepcacheBranch`: find DeepCache's cut for that branch id too (null: do not);
 * a model without one (a DiT) compiles without it, the miss recorded.
 */
export function planSites(src: CompileSource, filter: SiteFilter | undefined, deepcacheBranch: number | null = 0): SitePlan {
  const analysed = src.loaded.decode();
  const report = findAttentionSites(analysed.graph);
  if (!report.sites.some((s) => s.kind === 'cross')) throw noCrossError(src.modelPath, report);
  const choices = chooseSites(report.sites, filter);
  const cachedSites = choices.filter((c) => c.cached).map((c) => c.site);
  const inferred = inferShapes(analysed.graph);
  const cachedType = (s: Site) => siteType(s, inferred);
  const targets: SiteTarget[] = cachedSites.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor, type: cachedType(s) }));
  const deep = deepcacheBranch === null ? null : planDeep(analysed, deepcacheBranch, inferred);
  if (deep && 'cut' in deep) targets.push({ id: deep.id, kind: 'deep', tensor: deep.cut.tensor, type: deep.type });
  const { family, why } = familyOfGraph(
    analysed.graph,
    report.sites.map((s) => s.type.shape?.[1] ?? null),
  );
  return { analysed, report, choices, cachedSites, cachedType, targets, family, why, shapeFailures: inferred.failures, deep, deepBranch: deepcacheBranch };
}

/** The deep cut and its type (the inferred shape where it names every dim, else the export's, completed with named symbols). */
export function planDeep(analysed: Model, branch: number, inferred: ShapeInference): NonNullable<SitePlan['deep']> {
  const cut = findDeepCacheCut(analysed.graph, branch);
  if (isDeepCacheMiss(cut) && cut.code === 'BRANCH_OUT_OF_RANGE') {
    throw new TgateError('E_USAGE', `--deepcache-branch ${branch}: ${cut.reason}`, {
      hint: 'Branch 0 (the official default) caches the most and runs the smallest shallow network; higher branches cache a shallower feature.',
    });
  }
  if (isDeepCacheMiss(cut)) return { miss: cut };
  const v = analysed.graph.value(cut.tensor);
  const facts = v ? inferred.facts.get(v) : undefined;
  const shape = facts?.shape?.map(symToDim);
  const type: TensorType =
    shape && shape.length === 4 && shape.every((d) => d !== null)
      ? { dtype: facts!.dtype || cut.type?.dtype || DTYPE.float32, shape }
      : { dtype: cut.type?.dtype || DTYPE.float32, shape: [0, 1, 2, 3].map((i) => cut.type?.shape?.[i] ?? `${DEEP_SITE_ID}_dim${i}`) };
  return { cut, id: DEEP_SITE_ID, type };
}

function noCrossError(file: string, report: SiteReport): TgateError {
  const lines = report.rejected.slice(0, 20).map((r) => `  - ${r.node} (${r.code}${missPlacesText(r, r.node)}): ${r.reason}`);
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
  if (shape && shape.length === rank && shape.every((d) => d !== null)) return { dtype: facts!.dtype || cut.dtype || DTYPE.float32, shape };
  return { dtype: cut.dtype || DTYPE.float32, shape: (cut.shape ?? [null, null, null]).map((d, i) => d ?? `${site.id}_dim${i}`) };
}
