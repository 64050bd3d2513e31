// tgate.json: what a compile produced and how it was proven. Deterministic: no timestamps or
// absolute paths, keys in a fixed order, so the same source gives the same bytes.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from './errors.js';
import type { Family, ScheduleDefaults } from './family.js';
import { dtypeName } from './ir/dtype.js';
import type { Graph } from './ir/graph.js';
import type { ProofReport } from './proof.js';
import type { Dim } from './ir/value.js';
import type { SiteRole, VariantName } from './variants.js';

/** tgate/2: graph variants for the v2 schedule (self-attention reuse) and several gated models. */
export const MANIFEST_FORMAT = 'tgate/2';

export interface ManifestSite {
  id: string;
  kind: 'cross' | 'self';
  scope: string | null;
  tensor: string;
  /** Whether the compile cached this site, and why (default, or the --include/--exclude glob). */
  cached: boolean;
  reason: string;
  /** Set when a fusion swallowed the module output and the cut is the nearest equivalent tensor. */
  note: string | null;
  /** Its name as an output of the variants that compute it (planning; fidelity for self sites). */
  planningOutput: string | null;
  /** Cross sites: its input name in the fidelity variants. */
  fidelityInput: string | null;
  /** Self sites: its input name in the reuse-self variants. */
  reuseInput: string | null;
  /** Its input name in the gated models (outputs are per variant: see `gated`). */
  gatedInput: string | null;
  dtype: string;
  shape: (string | number)[];
}

export interface ManifestIo {
  name: string;
  dtype: string;
  shape: (string | number)[];
}

/** One graph variant: what it does with each kind of cached site, what it takes and gives. */
export interface ManifestVariant {
  name: VariantName;
  file: string;
  cross: SiteRole;
  /** null when no self site is cached (the compile serves TGATE v1 only). */
  self: SiteRole | null;
  usedFor: string;
  inputs: ManifestIo[];
  outputs: ManifestIo[];
  /** Source inputs it no longer reads. */
  removedInputs: string[];
  nodes: number;
}

/**
 * A gated model: each listed variant is an If node's branch, run when its bool scalar input
 * (`flag`) is true (set exactly one); its results come out under `output` and `siteOutputs`.
 */
export interface ManifestGated {
  file: string;
  variants: { name: VariantName; flag: string; output: string; siteOutputs: Record<string, string> }[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** The compiled model (a pipeline's: its denoiser, e.g. "unet/model.onnx", relative to the manifest's folder). */
  source: { file: string; sha256: string; opset: number; irVersion: number; producer: string; inputs: ManifestIo[]; outputs: ManifestIo[]; nodes: number };
  /**
   * Set when a pipeline folder was compiled: the output keeps its layout (every component file
   * hard-linked), the artifacts are inside the denoiser's folder, and every file name in this
   * manifest is relative to the manifest's folder (e.g. "unet/planning.onnx"). Absent for a model.
   */
  pipeline?: {
    /** model_index.json's _class_name, e.g. "StableDiffusionPipeline" (null when absent). */
    className: string | null;
    /** The denoiser's folder: "unet" or "transformer". */
    denoiser: string;
    /** Every other component present, by folder name: the files linked (relative to the manifest's folder). */
    components: Record<string, { files: string[] }>;
  };
  /** The model family found from structure, and the official schedule defaults for it. */
  family: { name: Family; why: string };
  schedule: ScheduleDefaults;
  variants: ManifestVariant[];
  gated: ManifestGated[];
  /** The weights file the graphs reference (the first, when the source has several). */
  weights: string;
  /** Every external data file the graphs reference: one, or one per tensor for some sources. */
  weightsFiles: string[];
  sites: ManifestSite[];
  /** Set by `tgate calibrate --write`: how the default gate step in `schedule` was measured. */
  calibration?: { tolerance: number; steps: number; samples: number; version: 1 | 2; recommended: number };
  verification: (ProofReport & { skipped: false }) | { skipped: true };
}

/** A graph's inputs or outputs (initializers left out) as the manifest writes them. */
export function graphIo(g: Graph, which: 'inputs' | 'outputs'): ManifestIo[] {
  return g[which].filter((v) => !v.initializer).map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? 0), shape: manifestShape(v.type?.shape ?? null) }));
}

/** Manifest shapes say "?" for a dimension nothing could name. */
export function manifestShape(shape: Dim[] | null): (string | number)[] {
  return (shape ?? []).map((d) => (d === null ? '?' : d));
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}

/** A variant's entry; compile always writes planning and fidelity. */
export function variantOf(m: Manifest, name: VariantName): ManifestVariant {
  const v = m.variants.find((x) => x.name === name);
  if (!v) throw new Error(`The manifest has no ${name} variant (it has ${m.variants.map((x) => x.name).join(', ')}).`);
  return v;
}

/** Reads and checks a compiled folder's tgate.json. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'tgate.json');
  if (!fs.existsSync(file)) {
    throw new TgateError('E_FILE_MISSING', `${dir} has no tgate.json: it is not a compiled folder.`, { subject: { file: dir }, hint: 'Compile the model first: tgate compile <model.onnx> -o <dir>.' });
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (cause) {
    throw new TgateError('E_UNSUPPORTED_MODEL', `${file} is not valid JSON (${(cause as Error).message}).`, { subject: { file }, hint: 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.', cause });
  }
  if (manifest.format !== 'tgate/2') {
    throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has format ${JSON.stringify(manifest.format)}; this tgate reads tgate/2.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
  }
  for (const key of ['variants', 'gated', 'sites', 'schedule', 'source'] as const) {
    if (!manifest[key]) throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has no "${key}": it was not written by this version of tgate.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
  }
  return manifest;
}

