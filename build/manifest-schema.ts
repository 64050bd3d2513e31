// The schema of tgate.json (format tgate/3): the single source of truth for what a manifest may
// hold. The Manifest types are inferred from it, and readManifest checks every manifest against it
// before anything reads a field, so a value of the wrong type (guidance "high", which once turned
// CFG off silently) or a name that escapes the folder is refused with the field named, never
// acted on. Key order here follows what compile writes, for readers; the bytes compile writes
// come from the objects it builds, not from this schema.
import { z } from 'zod';
import { unsafeNameReason } from '../io/contained-file.js';
import type { Family, ScheduleDefaults } from '../analyses/family.js';
import type { ProofReport } from './proof.js';
import type { SiteKind, SiteRole, VariantName } from './variants.js';

/**
 * tgate/3: sites are cuts of three kinds (cross, self, deep: DeepCache's feature), each variant
 * records its cut decision for every site it holds (`cuts`), shallow variants, `deepcache`.
 * (tgate/2: graph variants for the v2 schedule and several gated models.)
 */
export const MANIFEST_FORMAT = 'tgate/3';

const VARIANT_NAMES = ['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self', 'shallow', 'shallow-fidelity'] as const satisfies readonly VariantName[];
const SITE_KINDS = ['cross', 'self', 'deep'] as const satisfies readonly SiteKind[];
const FAMILIES = ['sd', 'sdxl', 'pixart', 'lcm'] as const satisfies readonly Family[];
const ROLES = ['output', 'input'] as const satisfies readonly SiteRole[];

const whole = (min: number) => {
  const expected = `expected a whole number ≥ ${min}`;
  return z.number({ error: expected }).refine((n) => Number.isSafeInteger(n) && n >= min, { error: expected });
};
const finite = (min: number) => {
  const expected = `expected a number ≥ ${min}`;
  return z.number({ error: expected }).refine((n) => Number.isFinite(n) && n >= min, { error: expected });
};
const text = z.string();
/** A file name inside the compiled folder: relative, no "..". containedFile enforces it again when the file is opened. */
const fileName = z.string({ error: 'expected a file name' }).superRefine((s, ctx) => {
  const why = unsafeNameReason(s);
  if (why) ctx.addIssue({ code: 'custom', message: `expected a file name inside the compiled folder, but ${why}`, input: s });
});
/** A folder name directly in the compiled folder (a pipeline's component or denoiser). */
const folderName = z
  .string({ error: 'expected a folder name' })
  .refine((s) => unsafeNameReason(s) === null && !s.includes('/'), { error: 'expected a folder name inside the compiled folder (one path segment)' });
const dim = z.union([z.string(), whole(0)], { error: 'expected a dimension (a whole number or a symbolic name)' });

const ioSchema = z.object({ name: text, dtype: text, shape: z.array(dim) });

const siteSchema = z.object({
  id: text,
  /** cross- or self-attention output (SPEC.md §1), or DeepCache's deep feature (§5). */
  kind: z.enum(SITE_KINDS),
  scope: text.nullable(),
  tensor: text,
  /** Whether the compile cached this site, and why (default, or the --include/--exclude glob). */
  cached: z.boolean(),
  reason: text,
  /** Set when a fusion swallowed the module output and the cut is the nearest equivalent tensor. */
  note: text.nullable(),
  /** Its name as an output of the variants that compute it (planning; fidelity for self and deep sites). */
  planningOutput: text.nullable(),
  /** Cross sites: its input name in the fidelity variants. */
  fidelityInput: text.nullable(),
  /** Self sites: its input name in the reuse-self variants. */
  reuseInput: text.nullable(),
  /** Its input name in the gated models (outputs are per variant: see `gated`). */
  gatedInput: text.nullable(),
  dtype: text,
  /** The cut tensor's shape: [batch, tokens, channels] or [batch·tokens, channels] (site-dims.ts reads either). */
  shape: z.array(dim),
});

/** One graph variant: what it does with each kind of cached site, what it takes and gives. */
const variantSchema = z.object({
  name: z.enum(VARIANT_NAMES),
  file: fileName,
  cross: z.enum(ROLES),
  /** null when no self site is cached (the compile serves TGATE v1 only). */
  self: z.enum(ROLES).nullable(),
  /** null when no DeepCache cut was compiled. */
  deep: z.enum(ROLES).nullable(),
  /** The cut decision for every cached site the graph holds, by site id (a shallow variant holds only its shallow network's). */
  cuts: z.record(z.string(), z.enum(ROLES)),
  usedFor: text,
  inputs: z.array(ioSchema),
  outputs: z.array(ioSchema),
  /** Source inputs it no longer reads. */
  removedInputs: z.array(text),
  nodes: whole(0),
});

/**
 * A gated model: each listed variant is an If node's branch, run when its bool scalar input
 * (`flag`) is true (set exactly one); its results come out under `output` and `siteOutputs`.
 */
const gatedSchema = z.object({
  file: fileName,
  variants: z
    .array(z.object({ name: z.enum(VARIANT_NAMES), flag: text, output: text, siteOutputs: z.record(z.string(), text) }))
    .min(1, { error: 'expected at least one variant' }),
});

const scheduleSchema = z.object({ gateStep: whole(1), spInterval: whole(1), fiInterval: whole(1), warmUp: whole(0), guidance: finite(0) });

const proofSchema = z.object({
  skipped: z.literal(false),
  probe: z.object({ seed: z.number(), dims: z.record(z.string(), z.number()) }),
  planningBitExact: z.boolean(),
  fidelityMaxAbsError: z.number(),
  variantMaxAbsErrors: z.record(z.string(), z.number()),
  tolerance: z.number(),
  shapesConfirmed: z.boolean(),
  gatedBitExact: z.boolean(),
});

const manifestObject = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** The compiled model (a pipeline's: its denoiser, e.g. "unet/model.onnx", relative to the manifest's folder). */
  source: z.object({
    file: text,
    sha256: text,
    opset: whole(1),
    irVersion: whole(1),
    producer: text,
    inputs: z.array(ioSchema),
    outputs: z.array(ioSchema).min(1, { error: 'expected at least one output' }),
    nodes: whole(0),
  }),
  /**
   * Set when a pipeline folder was compiled: the output keeps its layout (every component file
   * hard-linked), the artifacts are inside the denoiser's folder, and every file name in this
   * manifest is relative to the manifest's folder (e.g. "unet/planning.onnx"). Absent for a model.
   */
  pipeline: z
    .object({
      /** model_index.json's _class_name, e.g. "StableDiffusionPipeline" (null when absent). */
      className: text.nullable(),
      /** The denoiser's folder: "unet" or "transformer". */
      denoiser: folderName,
      /** Every other component present, by folder name: the files linked (relative to the manifest's folder). */
      components: z.record(folderName, z.object({ files: z.array(fileName) })),
    })
    .optional(),
  /** The model family found from structure, and the official schedule defaults for it. */
  family: z.object({ name: z.enum(FAMILIES), why: text }),
  schedule: scheduleSchema,
  variants: z.array(variantSchema),
  gated: z.array(gatedSchema),
  /** The weights file the graphs reference (the first, when the source has several). */
  weights: fileName,
  /** Every external data file the graphs reference: one, or one per tensor for some sources. */
  weightsFiles: z.array(fileName).min(1, { error: 'expected at least one weights file' }),
  sites: z.array(siteSchema),
  /** The DeepCache cut compiled (its site is the one of kind deep), or why none was: null when compile was told not to look (--no-deepcache). */
  deepcache: z
    .union([
      z.object({
        branch: whole(0),
        /** DeepCache's block and layer (from the outermost block), and the up path's block and layer that read the cut. */
        block: whole(0),
        layer: whole(0),
        upBlock: whole(0),
        upLayer: whole(0),
        /** How many branch ids this UNet has (0..branches-1). */
        branches: whole(1),
        site: text,
        tensor: text,
        scope: text.nullable(),
        evidence: z.array(text),
      }),
      z.object({ branch: whole(0), missing: z.object({ code: text, reason: text }) }),
    ])
    .nullable(),
  /** Set by `tgate calibrate --write`: how the default gate step in `schedule` was measured. */
  calibration: z
    .object({
      tolerance: finite(0),
      steps: whole(2),
      samples: whole(1),
      version: z.union([z.literal(1), z.literal(2)]),
      recommended: whole(1),
      /** With DeepCache swept: its intervals, and the fastest plan within the tolerance (gate step null: DeepCache alone). Not a default: run and bench take DeepCache only from --deepcache. */
      deepcacheIntervals: z.array(whole(1)).optional(),
      recommendedPlan: z
        .object({ gateStep: whole(1).nullable(), deepcache: whole(1) })
        .nullable()
        .optional(),
    })
    .optional(),
  verification: z.discriminatedUnion('skipped', [z.object({ skipped: z.literal(true) }), proofSchema]),
});

/** The whole check: types and ranges first; the cross-references only on a manifest that passed them. */
export const manifestSchema = manifestObject.superRefine(crossReferences);

export type Manifest = z.infer<typeof manifestObject>;
export type ManifestSite = z.infer<typeof siteSchema>;
export type ManifestIo = z.infer<typeof ioSchema>;
export type ManifestVariant = z.infer<typeof variantSchema>;
export type ManifestGated = z.infer<typeof gatedSchema>;

// The inferred types must stay the types the rest of tgate builds manifests from.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: [Same<Manifest['schedule'], ScheduleDefaults>, Same<z.infer<typeof proofSchema>, ProofReport & { skipped: false }>] = [true, true];
void sameTypes;

/**
 * What the types cannot say: names that must refer to each other. Each finding names the field
 * that is wrong, like a type error, so the message reads the same.
 */
function crossReferences(m: Manifest, ctx: z.RefinementCtx<Manifest>): void {
  const add = (path: (string | number)[], message: string, input: unknown) => ctx.addIssue({ code: 'custom', path, message, input });
  const names = m.variants.map((v) => v.name);
  m.variants.forEach((v, i) => {
    if (names.indexOf(v.name) !== i) add(['variants', i, 'name'], 'expected each variant once', v.name);
  });
  for (const need of ['planning', 'fidelity'] as const) {
    if (!names.includes(need)) add(['variants'], `expected a ${need} variant (compile always writes planning and fidelity)`, names);
  }
  const sourceInputs = new Set(m.source.inputs.map((x) => x.name));
  m.variants.forEach((v, i) =>
    v.removedInputs.forEach((n, j) => {
      if (!sourceInputs.has(n)) add(['variants', i, 'removedInputs', j], "expected one of the source's inputs", n);
    }),
  );
  const ids = m.sites.map((s) => s.id);
  const cachedIds = new Set(m.sites.filter((s) => s.cached).map((s) => s.id));
  const variant = (n: VariantName) => m.variants.find((v) => v.name === n);
  const has = (n: VariantName, which: 'inputs' | 'outputs', tensor: string) => variant(n)?.[which].some((x) => x.name === tensor) ?? true;
  m.sites.forEach((s, i) => {
    if (ids.indexOf(s.id) !== i) add(['sites', i, 'id'], 'expected each site id once', s.id);
    if (!s.cached) return;
    const need = (key: 'planningOutput' | 'fidelityInput' | 'reuseInput' | 'gatedInput', v: VariantName | null, which: 'inputs' | 'outputs') => {
      const value = s[key];
      if (value === null) add(['sites', i, key], 'expected a tensor name for a cached site', value);
      else if (v && !has(v, which, value)) add(['sites', i, key], `expected one of the ${v} variant's ${which}`, value);
    };
    need('planningOutput', 'planning', 'outputs');
    need('gatedInput', null, 'inputs');
    if (s.kind === 'cross') need('fidelityInput', 'fidelity', 'inputs');
    else if (s.kind === 'self') need('reuseInput', 'reuse-self', 'inputs');
  });
  m.variants.forEach((v, i) => {
    Object.entries(v.cuts).forEach(([id, role]) => {
      const site = m.sites.find((s) => s.id === id);
      if (!site || !site.cached) return add(['variants', i, 'cuts', id], "expected a cached site's id as the key", id);
      // A cut follows its variant's decision for the site's kind.
      if (v[site.kind] !== role) add(['variants', i, 'cuts', id], `expected ${String(v[site.kind])}, the variant's decision for ${site.kind} sites`, role);
      const list = role === 'input' ? v.inputs : v.outputs;
      if (!list.some((x) => x.name === site.tensor)) add(['variants', i, 'cuts', id], `expected ${site.tensor} among the variant's ${role}s`, role);
    });
    // The planning graph computes every cached site: the caches every other variant is fed.
    if (v.name === 'planning')
      for (const id of cachedIds)
        if (v.cuts[id] !== 'output') add(['variants', i, 'cuts', id], 'expected output: the planning graph computes every cached site', v.cuts[id]);
  });
  const deepSites = m.sites.filter((s) => s.kind === 'deep' && s.cached);
  const compiledCut = m.deepcache && 'site' in m.deepcache ? m.deepcache : null;
  if (compiledCut) {
    const site = deepSites.find((s) => s.id === compiledCut.site);
    if (!site) add(['deepcache', 'site'], 'expected the id of a cached site of kind deep', compiledCut.site);
    else if (site.tensor !== compiledCut.tensor) add(['deepcache', 'tensor'], `expected ${site.tensor}, the deep site's tensor`, compiledCut.tensor);
  } else if (deepSites.length)
    add(
      ['sites'],
      'expected no site of kind deep: deepcache names no cut',
      deepSites.map((s) => s.id),
    );
  m.gated.forEach((g, i) =>
    g.variants.forEach((gv, j) => {
      if (!names.includes(gv.name)) add(['gated', i, 'variants', j, 'name'], `expected one of the variants (${names.join(', ')})`, gv.name);
      for (const id of Object.keys(gv.siteOutputs))
        if (!cachedIds.has(id)) add(['gated', i, 'variants', j, 'siteOutputs', id], "expected a cached site's id as the key", id);
    }),
  );
  if (!m.weightsFiles.includes(m.weights)) add(['weights'], 'expected one of weightsFiles', m.weights);
}
