// compile's manifest entries, from the plan and what was written: the sites, the source, and
// tgate.json as a whole (graph inputs and outputs through manifest.ts's graphIo). Pure: the
// caller writes the manifest.
import path from 'node:path';
import { FAMILY_DEFAULTS } from '../analyses/family.js';
import type { PipelineSource } from '../io/pipeline-folder.js';
import { dtypeName } from '../ir/dtype.js';
import { defaultOpset } from '../ir/model.js';
import type { CompileSource, SitePlan } from './compile-plan.js';
import { gatedCacheInput } from './gated-model.js';
import { graphIo, MANIFEST_FORMAT, manifestShape, type Manifest, type ManifestSite } from './manifest.js';

export function manifestSites(plan: SitePlan): ManifestSite[] {
  const attention = plan.choices.map(({ site: s, cached, reason }): ManifestSite => {
    const t = cached ? plan.cachedType(s) : s.cut;
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
  return plan.deep && 'cut' in plan.deep ? [...attention, deepSite(plan.deep)] : attention;
}

/** DeepCache's deep feature as a site: output by the full variants, fed to the shallow ones. */
function deepSite({ cut, id, type }: Extract<NonNullable<SitePlan['deep']>, { cut: unknown }>): ManifestSite {
  return {
    id,
    kind: 'deep',
    scope: cut.scope,
    tensor: cut.tensor,
    cached: true,
    reason: `DeepCache branch ${cut.branch} (--deepcache-branch)`,
    note: null,
    planningOutput: cut.tensor,
    fidelityInput: null,
    reuseInput: null,
    gatedInput: gatedCacheInput(id),
    dtype: dtypeName(type.dtype),
    shape: manifestShape(type.shape),
  };
}

/** The manifest's `deepcache` entry: the cut and its evidence, or why the model has none. */
export function manifestDeepCache(plan: SitePlan): Manifest['deepcache'] {
  const d = plan.deep;
  if (d === null) return null;
  if ('miss' in d) return { branch: plan.deepBranch ?? 0, missing: { code: d.miss.code, reason: d.miss.reason } };
  const { branch, block, layer, upBlock, upLayer, branches, tensor, scope, evidence } = d.cut;
  return { branch, block, layer, upBlock, upLayer, branches, site: d.id, tensor, scope, evidence };
}

export function assembleManifest(
  src: CompileSource,
  plan: SitePlan,
  parts: Pick<Manifest, 'variants' | 'gated' | 'sites' | 'verification'> & { weights: { file: string; files: string[] } },
): Manifest {
  const source = plan.analysed.graph;
  const p = plan.analysed;
  return {
    format: MANIFEST_FORMAT,
    source: {
      file: src.named(path.basename(src.modelPath)),
      sha256: src.loaded.sha256,
      opset: defaultOpset(plan.analysed),
      irVersion: p.irVersion,
      producer: `${p.producerName} ${p.producerVersion}`.trim(),
      // What a caller feeds: the inputs that are not initializers.
      inputs: graphIo(source, 'inputs'),
      outputs: graphIo(source, 'outputs', { initializers: true }),
      nodes: source.nodes.length,
    },
    ...(src.pipeline ? { pipeline: pipelineEntry(src.pipeline) } : {}),
    family: { name: plan.family, why: plan.why },
    schedule: FAMILY_DEFAULTS[plan.family],
    variants: parts.variants,
    gated: parts.gated,
    weights: parts.weights.file,
    weightsFiles: parts.weights.files,
    sites: parts.sites,
    deepcache: manifestDeepCache(plan),
    verification: parts.verification,
  };
}

/** The manifest's `pipeline` field: names relative to the manifest's folder. */
function pipelineEntry(p: PipelineSource): NonNullable<Manifest['pipeline']> {
  return {
    className: p.className,
    denoiser: p.denoiser,
    components: Object.fromEntries(p.components.map((c) => [c.name, { files: c.files.map((f) => f.rel) }])),
  };
}
