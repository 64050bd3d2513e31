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
import { encodeGatedModelPlan, type GatedEntry, type GatedIfPlan, type GatedModelPlan } from '../io/gated-model-proto.js';
import type { SiteKind, SiteRole } from './variants.js';

export const gatedCacheInput = (id: string) => `tgate.cache.${id}`;

export interface GatedCache {
  id: string;
  kind: SiteKind;
  /** The cut tensor: an output of the variants that compute it, an input of the others. */
  tensor: string;
}

export interface GatedBranch {
  name: string;
  model: Model;
  /** The variant's cut decisions by site id (variants.ts); a site it does not hold is absent. */
  cuts: Readonly<Record<string, SiteRole>>;
}

const roleOf = (b: GatedBranch, c: GatedCache): SiteRole | undefined => b.cuts[c.id];

export const runFlag = (variant: string) => `tgate.run.${variant}`;
export const gatedOutputName = (variant: string, output: string) => `tgate.${variant}.${output}`;
export const gatedSiteOutput = (variant: string, id: string) => `tgate.${variant}.cache_out.${id}`;

/**
 * Where a variant's results come out of a gated model: the manifest's entry (its fields are in
 * io/gated-model-proto.ts, whose check ties them to the built If). Only the first source output
 * is named there; the others follow gatedSourceOutputs' rule, so the manifests of single-output
 * sources stay as they were.
 */
export type GatedVariantIo = GatedEntry;

/**
 * The one rule for the names a variant's source outputs come out under in a gated model, in the
 * source's order: the first under the entry's `output`, each further one as `tgate.<variant>.<name>`.
 * The planner names the If outputs with it, the runner fetches and the prover compares by it.
 */
export function gatedSourceOutputs(entry: Pick<GatedVariantIo, 'name' | 'output'>, sourceOutputs: readonly string[]): string[] {
  return sourceOutputs.map((o, i) => (i === 0 ? entry.output : gatedOutputName(entry.name, o)));
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
 * source's, then the sites it computes) and reading fed sites from the outer cache inputs; and
 * its manifest entry, read from the If's planned outputs.
 */
function ifPlan(b: GatedBranch, caches: GatedCache[]): { plan: GatedIfPlan; entry: GatedVariantIo } {
  const g = b.model.graph;
  const computed = new Map(caches.filter((c) => roleOf(b, c) === 'output').map((c) => [c.tensor, c]));
  // The variant's outputs other than the sites it computes are the source's, in the source's order.
  const sourceOuts = g.outputs.filter((v) => !computed.has(v.name)).map((v) => v.name);
  const first = sourceOuts[0];
  if (first === undefined || g.outputs[0]!.name !== first)
    throw new TgateError('E_INTERNAL', `The ${b.name} variant graph does not give a source output first.`, {
      hint: 'This is a bug in tgate; please report it with the model.',
    });
  const outer = gatedSourceOutputs({ name: b.name, output: gatedOutputName(b.name, first) }, sourceOuts);
  const sourceOuter = new Map(sourceOuts.map((o, i) => [o, outer[i]!]));
  // The first output is renamed inside the branch too (the outer graph only adds `tgate.` names);
  // a fed site reads the outer graph's cache input directly: no Identity, no copy.
  const renames: [string, string][] = [
    [first, outer[0]!],
    ...caches.filter((c) => roleOf(b, c) === 'input').map((c): [string, string] => [c.tensor, gatedCacheInput(c.id)]),
  ];
  const outputs = g.outputs.map((v, i) => {
    if (i === 0) return { inner: outer[0]!, outer: outer[0]!, dtype: dtypeOf(v) };
    // A site the variant computes comes out under its site name; a further source output by the rule.
    const site = computed.get(v.name);
    return { inner: v.name, outer: site ? gatedSiteOutput(b.name, site.id) : sourceOuter.get(v.name)!, dtype: dtypeOf(v) };
  });
  const outerOf = (tensor: string) => outputs.find((o, i) => i > 0 && o.inner === tensor)?.outer;
  const siteOutputs: Record<string, string> = {};
  for (const c of computed.values()) {
    const name = outerOf(c.tensor);
    if (!name) throw unknownType(`the ${b.name} variant's output for site ${c.id}`, c.tensor);
    siteOutputs[c.id] = name;
  }
  const graphName = `tgate_${b.name.replace(/-/g, '_')}`;
  const flag = runFlag(b.name);
  return {
    plan: { node: `tgate/${b.name}`, flag, body: g, renames, thenName: graphName, elseName: `${graphName}_idle`, outputs },
    entry: { name: b.name, flag, output: outputs[0]!.outer, siteOutputs },
  };
}

/** Plans a gated model over the variants of one source (io/gated-model-proto.ts encodes and checks it). */
export function planGatedModel(branches: GatedBranch[], caches: GatedCache[]): { plan: GatedModelPlan; variants: GatedVariantIo[] } {
  const base = branches.find((b) => !Object.values(b.cuts).includes('input')) ?? branches[0]!;
  // The cache input's type: the cut tensor's in the first variant that types it (the check then
  // holds every variant fed from it to the same element type).
  const valueType = (c: GatedCache): TensorType => {
    for (const b of branches) {
      const v = b.model.graph.value(c.tensor);
      if (v?.type?.dtype) return v.type;
    }
    throw unknownType('the cached site', c.tensor);
  };
  const planned = branches.map((b) => ifPlan(b, caches));
  const variants = planned.map((p) => p.entry);
  const fedSomewhere = caches.filter((c) => branches.some((b) => roleOf(b, c) === 'input'));
  const extraInputs = [
    ...fedSomewhere.map((c) => ({ name: gatedCacheInput(c.id), type: valueType(c) })),
    ...branches.map((b) => ({ name: runFlag(b.name), type: { dtype: DTYPE.bool, shape: [] } })),
  ];
  return { plan: { base: base.model, name: 'tgate_gated', ifs: planned.map((p) => p.plan), entries: variants, extraInputs }, variants };
}

/** Builds a gated model over the variants of one source. The variants' IR is left as it was. */
export function encodeGatedModel(branches: GatedBranch[], caches: GatedCache[], opts: EncodeOptions = {}): { bytes: Uint8Array; variants: GatedVariantIo[] } {
  const { plan, variants } = planGatedModel(branches, caches);
  return { bytes: encodeGatedModelPlan(plan, opts), variants };
}
