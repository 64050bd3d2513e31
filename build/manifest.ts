// tgate.json: what a compile produced and how it was proven. Deterministic: no timestamps or
// absolute paths, keys in a fixed order, so the same source gives the same bytes. Its schema
// (manifest-schema.ts) is the one definition of its fields; readManifest refuses any manifest
// that does not match it, so no other code needs to doubt a field it reads.
import path from 'node:path';
import { isTgateError, TgateError } from '../base/errors.js';
import { replaceFile } from '../base/output/atomic-file.js';
import { dtypeName, DTYPE } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Dim } from '../ir/value.js';
import type { TensorSpec } from './proof.js';
import type { VariantName } from './variants.js';
import { readCompiledGraph, type CompiledGraph } from '../io/compiled-graph.js';
import { quoted, readContained } from '../io/contained-file.js';
import { MANIFEST_FORMAT, manifestSchema, type Manifest, type ManifestGated, type ManifestIo, type ManifestVariant } from './manifest-schema.js';

export {
  MANIFEST_FORMAT,
  manifestSchema,
  type Manifest,
  type ManifestGated,
  type ManifestIo,
  type ManifestSite,
  type ManifestVariant,
} from './manifest-schema.js';

/**
 * THE mapping of a graph's inputs or outputs to name, dtype name and shape (null dims as the IR
 * has them: the prover binds those itself). Initializers that the graph also lists as inputs
 * (IR < 4) are left out, unless `initializers` (a variant's entry lists its graph as it is).
 */
export function graphTensors(g: Graph, which: 'inputs' | 'outputs', o: { initializers?: boolean } = {}): TensorSpec[] {
  return g[which]
    .filter((v) => o.initializers || !v.constant)
    .map((v) => ({ name: v.name, dtype: dtypeName(v.type?.dtype ?? DTYPE.undefined), shape: v.type?.shape ?? [] }));
}

/** graphTensors as the manifest, inspect and diff write them: "?" for a dim nothing names. */
export function graphIo(g: Graph, which: 'inputs' | 'outputs', o: { initializers?: boolean } = {}): ManifestIo[] {
  return graphTensors(g, which, o).map((t) => ({ ...t, shape: manifestShape(t.shape) }));
}

/** Manifest shapes say "?" for a dimension nothing could name. */
export function manifestShape(shape: Dim[] | null): (string | number)[] {
  return (shape ?? []).map((d) => (d === null ? '?' : d));
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}

/**
 * Records a calibration in a compiled folder's tgate.json: its recommended gate step becomes the
 * schedule's default. With DeepCache swept, the fastest plan is recorded under `calibration` only
 * (no schedule default: runs without --deepcache keep TGATE alone at the recommended gate step).
 * Rewrites the manifest as read (fields this version does not know kept), atomically through a
 * temporary sibling, so an interrupted write never leaves half a manifest.
 */
export function writeCalibration(dir: string, calibration: NonNullable<Manifest['calibration']>): void {
  const m = readManifest(dir);
  const { tolerance, steps, samples, version, recommended, deepcacheIntervals, recommendedPlan } = calibration;
  const deep = deepcacheIntervals !== undefined ? { deepcacheIntervals, recommendedPlan: recommendedPlan ?? null } : {};
  const updated = { ...m, schedule: { ...m.schedule, gateStep: recommended }, calibration: { tolerance, steps, samples, version, recommended, ...deep } };
  replaceFile(path.join(dir, MANIFEST_NAME), serializeManifest(updated));
}

/** A variant's entry; compile always writes planning and fidelity. */
export function variantOf(m: Manifest, name: VariantName): ManifestVariant {
  const v = m.variants.find((x) => x.name === name);
  if (!v)
    throw new TgateError('E_INTERNAL', `The manifest has no ${name} variant (it has ${m.variants.map((x) => x.name).join(', ')}).`, {
      subject: { file: MANIFEST_NAME },
    });
  return v;
}

/** The manifest's name in a compiled folder. */
export const MANIFEST_NAME = 'tgate.json';

const RECOMPILE = 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.';

/**
 * A graph the manifest names (a variant or a gated model), through readCompiledGraph: inside the
 * folder, a regular file, ONNX, its external data inside the folder, in a listed weights file and
 * long enough. The one way tgate and onnxruntime get at a compiled graph.
 */
export function manifestGraph(dir: string, m: Manifest, entry: ManifestVariant | ManifestGated): CompiledGraph {
  const v = m.variants.indexOf(entry as ManifestVariant);
  const what = v >= 0 ? `${(entry as ManifestVariant).name} variant` : 'gated model';
  const field = v >= 0 ? `variants[${v}].file` : `gated[${m.gated.indexOf(entry as ManifestGated)}].file`;
  return readCompiledGraph(dir, entry.file, { what, field, manifest: path.join(dir, MANIFEST_NAME), weightsFiles: m.weightsFiles });
}

/**
 * Reads and checks a compiled folder's tgate.json: through readContained (a regular file inside
 * the folder, at most 16 MiB, never a FIFO or a symlink out), then parseManifest.
 */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_NAME);
  let bytes: Uint8Array;
  try {
    bytes = readContained(dir, MANIFEST_NAME, { kind: 'manifest', what: 'manifest' }).bytes;
  } catch (e) {
    if (isTgateError(e) && e.code === 'E_FILE_MISSING') {
      throw new TgateError('E_FILE_MISSING', `${dir} has no tgate.json: it is not a compiled folder.`, {
        subject: { file: dir },
        hint: 'Compile the model first: tgate compile <model.onnx> -o <dir>.',
        cause: e,
      });
    }
    throw e;
  }
  return parseManifest(bytes, file);
}

/**
 * A manifest's bytes -> the manifest, or E_BAD_MANIFEST naming the field (E_UNSUPPORTED_MODEL for
 * another tgate format). Messages quote values from the manifest (escaped, shortened), never a
 * stretch of a file that is not JSON. Returns the parsed object itself (keys in the order
 * written, fields this version does not know kept), so rewriting it (calibrate --write) changes
 * only what the writer changes.
 */
export function parseManifest(bytes: Uint8Array, file: string): Manifest {
  const bad = (message: string) => new TgateError('E_BAD_MANIFEST', `${file} ${message}`, { subject: { file }, hint: RECOMPILE });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('is not UTF-8 text: it is not a tgate manifest.');
  }
  if (text.trim() === '') throw bad('is empty: the compile that wrote it did not finish.');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    const where = jsonProblem(text, (cause as Error).message);
    throw bad(`is not valid JSON${where ? ` (${where})` : ''}.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(`is not a JSON object (it holds ${describe(json)}).`);
  checkFormat((json as { format?: unknown }).format, file);
  const r = manifestSchema.safeParse(json, { reportInput: true, error: expectation });
  if (!r.success) {
    const issues = r.error.issues;
    const lines = issues.slice(0, 3).map((i) => `${fieldPath(i.path)}: ${i.message}, got ${describe((i as { input?: unknown }).input)}`);
    throw bad(`does not match the tgate/2 manifest schema: ${lines.join('; ')}${issues.length > 3 ? `; and ${issues.length - 3} more` : ''}.`);
  }
  return json as Manifest;
}

/** The format check comes first: a manifest of another format is refused for that, not for its fields. */
function checkFormat(format: unknown, file: string): void {
  if (format === MANIFEST_FORMAT) return;
  const m = typeof format === 'string' ? /^tgate\/(\d+)$/.exec(format) : null;
  if (m) {
    const newer = Number(m[1]) > Number(MANIFEST_FORMAT.split('/')[1]);
    throw new TgateError(
      'E_UNSUPPORTED_MODEL',
      `${file} has format ${quoted(format as string)}: it was made by ${newer ? 'a newer' : 'an older'} tgate; this tgate reads ${MANIFEST_FORMAT}.`,
      {
        subject: { file },
        hint: newer
          ? 'Upgrade tgate, or recompile the model with this version: tgate compile <model.onnx> -o <dir> --force.'
          : 'Recompile the model with this version of tgate: tgate compile <model.onnx> -o <dir> --force.',
      },
    );
  }
  throw new TgateError('E_BAD_MANIFEST', `${file} is not a tgate manifest: format: expected ${quoted(MANIFEST_FORMAT)}, got ${describe(format)}.`, {
    subject: { file },
    hint: RECOMPILE,
  });
}

/** zod's issues in the words of the rest of the manifest's checks ("expected a number"). */
function expectation(issue: { code?: string; expected?: string; values?: unknown[]; input?: unknown; options?: unknown[] }): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'object' ? 'expected an object' : issue.expected === 'array' ? 'expected a list' : `expected a ${issue.expected}`;
    case 'invalid_value':
      return `expected ${(issue.values ?? []).map((v) => (typeof v === 'string' ? quoted(v) : String(v))).join(' or ')}`;
    case 'invalid_union':
      return issue.options ? `expected ${issue.options.map(String).join(' or ')}` : 'expected another kind of value';
    case 'unrecognized_keys':
      return 'expected no other keys';
    default:
      return undefined;
  }
}

/** `schedule.gateStep`, `sites[3].planningOutput`, `gated[0].variants[1].siteOutputs["cross.0"]`. */
function fieldPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_$][\w$]*$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${quoted(String(k), 40)}]`;
  }
  return out || '(the whole manifest)';
}

/** A value for a message: short, escaped; objects and lists by kind only. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (typeof v === 'string') return quoted(v, 60);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** Where and what JSON.parse choked on, without quoting the text (it may not be a manifest at all). */
function jsonProblem(text: string, message: string): string | null {
  if (/Unexpected end/.test(message)) return 'it ends early: the file is truncated';
  const at = /position (\d+)/.exec(message);
  if (!at) return null;
  const pos = Number(at[1]);
  if (pos >= text.trimEnd().length) return 'it ends early: the file is truncated';
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `unexpected text at line ${line}, column ${pos - before.lastIndexOf('\n')}`;
}
