// A gated model: several graph variants in one file, so one onnxruntime session (one arena, one
// copy of pre-packed weights) serves every step of a schedule. Each variant is the then-branch
// of its own If node, switched by a bool input `tgate.run.<variant>`; the runtime sets exactly
// one. The else-branches give empty tensors, so a variant that does not run costs next to
// nothing. The If nodes sit side by side, not nested: measured on sd15-small, a variant nested
// two If levels deep no longer reproduced its graph bit for bit and took +270 MiB of RSS (the
// weights two scopes up are not treated as the kernels' constants), while one level keeps both.
// The outer graph holds every initializer (by reference into the shared weights file) and the
// inputs of all variants. Branch-internal names never shadow outer ones: the outer graph only
// adds `tgate.` names.
import { TgateError } from '../base/errors.js';
import { DTYPE } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';
import type { TensorType, Value } from '../ir/value.js';
import type { EncodeOptions } from '../io/encode.js';
import { encodeGatedModelPlan, type GatedIfPlan, type GatedModelPlan } from '../io/gated-model-proto.js';
import type { SiteRole } from './variants.js';

export const gatedCacheInput = (id: string) => `tgate.cache.${id}`;

export interface GatedCache {
  id: string;
  kind: 'cross' | 'self';
  /** The cut tensor: an output of the variants that compute it, an input of the others. */
  tensor: string;
}

export interface GatedBranch {
  name: string;
  model: Model;
  cross: SiteRole;
  self: SiteRole;
}

const roleOf = (b: GatedBranch, c: GatedCache): SiteRole => (c.kind === 'cross' ? b.cross : b.self);

export const runFlag = (variant: string) => `tgate.run.${variant}`;
export const gatedOutputName = (variant: string, output: string) => `tgate.${variant}.${output}`;
export const gatedSiteOutput = (variant: string, id: string) => `tgate.${variant}.cache_out.${id}`;

/** Where a variant's results come out of a gated model. */
export interface GatedVariantIo {
  name: string;
  flag: string;
  output: string;
  /** Site id -> output name, for the sites this variant computes. */
  siteOutputs: Record<string, string>;
}

const unknownType = (what: string, tensor: string) =>
  new TgateError('E_INTERNAL', `The gated model needs the element type of ${what} "${tensor}", and no variant graph gives one.`, {
    subject: { tensor },
    hint: 'This is a bug in tgate; please report it with the model.',
  });

/** A value's element type as its variant graph declares it (never a guess). */
function dtypeOf(v: Value): number {
  if (!v.type?.dtype) throw unknownType('the variant output', v.name);
  return v.type.dtype;
}

/**
 * The variant as an If: its graph as the then-branch, giving every output of the variant (the
 * source's, then the sites it computes) and reading fed sites from the outer cache inputs.
 */
function ifPlan(b: GatedBranch, caches: GatedCache[]): GatedIfPlan {
  const g = b.model.graph;
  const out = g.outputs[0]!;
  const outName = gatedOutputName(b.name, out.name);
  // A fed site reads the outer graph's cache input directly: no Identity, no copy.
  const renames: [string, string][] = [
    [out.name, outName],
    ...caches.filter((c) => roleOf(b, c) === 'input').map((c): [string, string] => [c.tensor, gatedCacheInput(c.id)]),
  ];
  const computed = new Map(caches.filter((c) => roleOf(b, c) === 'output').map((c) => [c.tensor, c]));
  const outputs = g.outputs.map((v, i) => {
    if (i === 0) return { inner: outName, outer: outName, dtype: dtypeOf(v) };
    // A site the variant computes comes out under its site name; a further source output under its own.
    const site = computed.get(v.name);
    return { inner: v.name, outer: site ? gatedSiteOutput(b.name, site.id) : gatedOutputName(b.name, v.name), dtype: dtypeOf(v) };
  });
  const graphName = `tgate_${b.name.replace(/-/g, '_')}`;
  return { node: `tgate/${b.name}`, flag: runFlag(b.name), body: g, renames, thenName: graphName, elseName: `${graphName}_idle`, outputs };
}

/** Plans a gated model over the variants of one source (io/gated-model-proto.ts encodes and checks it). */
export function planGatedModel(branches: GatedBranch[], caches: GatedCache[]): { plan: GatedModelPlan; variants: GatedVariantIo[] } {
  const base = branches.find((b) => b.cross === 'output' && b.self === 'output') ?? branches[0]!;
  // The cache input's type: the cut tensor's in the first variant that types it (the check then
  // holds every variant fed from it to the same element type).
  const valueType = (c: GatedCache): TensorType => {
    for (const b of branches) {
      const v = b.model.graph.value(c.tensor);
      if (v?.type?.dtype) return v.type;
    }
    throw unknownType('the cached site', c.tensor);
  };
  const ifs = branches.map((b) => ifPlan(b, caches));
  const io: GatedVariantIo[] = branches.map((b, i) => ({
    name: b.name,
    flag: runFlag(b.name),
    output: ifs[i]!.outputs[0]!.outer,
    siteOutputs: Object.fromEntries(caches.filter((c) => roleOf(b, c) === 'output').map((c) => [c.id, gatedSiteOutput(b.name, c.id)])),
  }));
  const fedSomewhere = caches.filter((c) => branches.some((b) => roleOf(b, c) === 'input'));
  const extraInputs = [
    ...fedSomewhere.map((c) => ({ name: gatedCacheInput(c.id), type: valueType(c) })),
    ...branches.map((b) => ({ name: runFlag(b.name), type: { dtype: DTYPE.bool, shape: [] } })),
  ];
  return { plan: { base: base.model, name: 'tgate_gated', ifs, extraInputs }, variants: io };
}

/** Builds a gated model over the variants of one source. The variants' IR is left as it was. */
export function encodeGatedModel(branches: GatedBranch[], caches: GatedCache[], opts: EncodeOptions = {}): { bytes: Uint8Array; variants: GatedVariantIo[] } {
  const { plan, variants } = planGatedModel(branches, caches);
  return { bytes: encodeGatedModelPlan(plan, opts), variants };
}
