// A diffusers/optimum ONNX pipeline folder as a compile source: model_index.json (the one file
// parsed), the denoiser (unet/ or transformer/, whose model.onnx is compiled) and every other
// component folder, whose files are only listed and stat'ed (never read) so compile can hard-link
// them into the output. Symlinks are followed only as symlinkVerdict (load.ts) allows: inside a
// Hugging Face cache snapshot, into the same cache repository.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { symlinkVerdict } from './links.js';

export const PIPELINE_INDEX = 'model_index.json';
/** The denoiser's folder, in the order they are looked for, and its model file. */
export const DENOISER_FOLDERS = ['unet', 'transformer'] as const;
export const DENOISER_MODEL = 'model.onnx';
/** Component folders of diffusers pipelines and optimum's ONNX exports: kept even when model_index.json does not list them. */
export const KNOWN_COMPONENTS = [
  'unet',
  'transformer',
  'text_encoder',
  'text_encoder_2',
  'text_encoder_3',
  'tokenizer',
  'tokenizer_2',
  'tokenizer_3',
  'vae',
  'vae_decoder',
  'vae_encoder',
  'scheduler',
  'feature_extractor',
  'safety_checker',
  'image_encoder',
];
/** Components model_index.json may list that optimum's ONNX exporter never writes: their folder may be missing. */
const NOT_EXPORTED = new Set(['safety_checker', 'image_encoder']);
/** A listed component and the folders that hold it: optimum exports diffusers' `vae` as vae_encoder/ and vae_decoder/. */
const FOLDERS_OF = new Map([['vae', ['vae', 'vae_decoder', 'vae_encoder']]]);
const COMPONENT_NAME = /^[A-Za-z0-9_.-]+$/;
/** What a pipeline folder needs, for error messages. */
const NEEDS =
  'a pipeline folder (diffusers/optimum ONNX layout) holds model_index.json and the denoiser at unet/model.onnx (or transformer/model.onnx), beside its other components (text_encoder/, tokenizer/, vae_decoder/, scheduler/, ...)';

export interface SourceFile {
  /** Relative to the pipeline folder, with forward slashes: its place in the output too. */
  rel: string;
  /** What to link: the file, or a symlink's resolved target (in a cache snapshot: the blob). */
  path: string;
  size: number;
}

export interface PipelineSource {
  dir: string;
  /** model_index.json's _class_name (null when absent). */
  className: string | null;
  /** model_index.json itself (null when the folder has none). */
  index: SourceFile | null;
  /** The denoiser's folder name ("unet" or "transformer") and its model file, as a path to load. */
  denoiser: string;
  model: string;
  /** Every file of the denoiser's folder (its model, config, external data). */
  denoiserFiles: SourceFile[];
  /** Every other component folder present, sorted by name, with its files sorted. */
  components: { name: string; files: SourceFile[] }[];
}

type Index = Record<string, unknown>;

/** Every source file the output links: model_index.json, the denoiser's folder, the other components. */
export function pipelineFiles(p: PipelineSource): SourceFile[] {
  return [...(p.index ? [p.index] : []), ...p.denoiserFiles, ...p.components.flatMap((c) => c.files)];
}

/** Whether a path is a folder (a compile of a pipeline rather than of one model). */
export function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What a source entry leads to: lstat, and for a symlink the rule's verdict (refused with
 * E_UNSAFE_LINK). null when nothing is there.
 */
function entry(p: string, dir: string): { path: string; stat: fs.Stats } | null {
  let l: fs.Stats;
  try {
    l = fs.lstatSync(p);
  } catch {
    return null;
  }
  if (!l.isSymbolicLink()) return { path: p, stat: l };
  const verdict = symlinkVerdict(p);
  if (!verdict.follow && verdict.target === null) {
    throw new TgateError('E_FILE_MISSING', `${path.relative(dir, p) || p} in ${dir} is a symlink to nothing (${verdict.reason}).`, {
      subject: { file: p },
      hint: 'In a Hugging Face cache, an interrupted download leaves such links: download the snapshot again.',
    });
  }
  if (!verdict.follow) {
    throw new TgateError(
      'E_UNSAFE_LINK',
      `${path.relative(dir, p) || p} in ${dir} is a symlink to ${verdict.target}: ${verdict.reason}; tgate refuses to follow it.`,
      {
        subject: { file: p },
        hint: 'Replace the symlink with the file itself (or a hard link). A folder downloaded with `huggingface-cli download --local-dir` by huggingface_hub < 0.23 links into the cache: compile the cache snapshot itself, or download again with real files.',
      },
    );
  }
  return { path: verdict.target, stat: fs.statSync(verdict.target) };
}

/** Every file under a component folder, sorted, stat'ed only. */
function filesOf(dir: string, folder: string): SourceFile[] {
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  const walk = (real: string, rel: string) => {
    // A folder reached twice (a symlinked folder in a cache snapshot, leading to its parent) is walked once.
    const key = fs.realpathSync(real);
    if (seen.has(key)) return;
    seen.add(key);
    for (const name of fs.readdirSync(real).sort(byName)) {
      const e = entry(path.join(dir, rel, name), dir);
      if (!e) continue;
      const r = `${rel}/${name}`;
      if (e.stat.isDirectory()) walk(e.path, r);
      else if (e.stat.isFile()) out.push({ rel: r, path: e.path, size: e.stat.size });
    }
  };
  const root = entry(path.join(dir, folder), dir)!;
  walk(root.path, folder);
  return out;
}

function readIndex(dir: string): { file: SourceFile; index: Index } | null {
  const p = path.join(dir, PIPELINE_INDEX);
  const e = entry(p, dir);
  if (!e) return null;
  const bad = (why: string, cause?: unknown) =>
    new TgateError(
      'E_BAD_PIPELINE',
      `${p} ${why}: it must be the JSON object diffusers writes (e.g. {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"], ...}).`,
      {
        subject: { file: p },
        hint: 'Restore model_index.json from the exported pipeline (optimum-cli export onnx writes it).',
        cause,
      },
    );
  if (!e.stat.isFile()) throw bad('is not a file');
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(e.path, 'utf8'));
  } catch (cause) {
    throw bad(`is not valid JSON (${(cause as Error).message})`, cause);
  }
  if (index === null || typeof index !== 'object' || Array.isArray(index)) throw bad('is not a JSON object');
  return { file: { rel: PIPELINE_INDEX, path: e.path, size: e.stat.size }, index: index as Index };
}

/** Components model_index.json lists: `"text_encoder": ["transformers", "CLIPTextModel"]`; `[null, null]` is absent. */
function listed(index: Index | null): { name: string; present: boolean; what: string }[] {
  if (!index) return [];
  return Object.entries(index)
    .filter(([k, v]) => !k.startsWith('_') && Array.isArray(v) && v.length === 2)
    .map(([name, v]) => {
      // A component is a folder beside model_index.json: a plain name, never a path.
      if (!COMPONENT_NAME.test(name) || name === '.' || name === '..') {
        throw new TgateError('E_BAD_PIPELINE', `model_index.json lists a component "${name}", which is not a folder name.`, {
          hint: 'Component names are folder names beside model_index.json (letters, digits, _ . -), as diffusers writes them.',
        });
      }
      const [lib, cls] = v as unknown[];
      return { name, present: lib != null || cls != null, what: [lib, cls].filter((x) => x != null).join(' ') };
    });
}

const isDir = (dir: string, name: string) => entry(path.join(dir, name), dir)?.stat.isDirectory() ?? false;

/**
 * The denoiser of a pipeline folder, or null when the folder holds neither model_index.json nor
 * a denoiser model (not a pipeline). Throws when model_index.json is broken or names a denoiser
 * that is missing.
 */
export function pipelineDenoiser(dir: string): { denoiser: string; model: string } | null {
  return findDenoiser(dir, readIndex(dir));
}

function findDenoiser(dir: string, index: ReturnType<typeof readIndex>): { denoiser: string; model: string } | null {
  for (const name of DENOISER_FOLDERS) {
    const model = path.join(dir, name, DENOISER_MODEL);
    const e = entry(model, dir);
    if (e?.stat.isFile()) return { denoiser: name, model };
  }
  if (!index && !DENOISER_FOLDERS.some((n) => isDir(dir, n))) return null;
  const listedDenoiser = listed(index?.index ?? null).find((c) => c.present && (DENOISER_FOLDERS as readonly string[]).includes(c.name) && !isDir(dir, c.name));
  if (listedDenoiser) {
    throw new TgateError(
      'E_FILE_MISSING',
      `${path.join(dir, PIPELINE_INDEX)} lists the denoiser "${listedDenoiser.name}" (${listedDenoiser.what}), but ${dir} has no ${listedDenoiser.name}/ folder.`,
      {
        subject: { file: path.join(dir, listedDenoiser.name) },
        hint: `Copy the whole exported pipeline: ${NEEDS}.`,
      },
    );
  }
  const folder = DENOISER_FOLDERS.find((n) => isDir(dir, n));
  throw new TgateError(
    'E_FILE_MISSING',
    folder
      ? `${path.join(dir, folder)} has no ${DENOISER_MODEL}: tgate compiles the denoiser's ONNX export there.`
      : `${dir} has model_index.json but no denoiser: neither unet/${DENOISER_MODEL} nor transformer/${DENOISER_MODEL} exists.`,
    {
      subject: { file: path.join(dir, folder ?? DENOISER_FOLDERS[0], DENOISER_MODEL) },
      hint: `Export the pipeline to ONNX (optimum-cli export onnx --model <repo> <dir>): ${NEEDS}.`,
    },
  );
}

/** The error for a folder that is no pipeline: what a pipeline folder needs, and how to pass one model. */
function notAPipeline(dir: string): TgateError {
  let models: string[] = [];
  try {
    models = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.onnx'))
      .sort(byName);
  } catch {
    // an unreadable folder: the message below still says what is needed
  }
  return new TgateError(
    'E_FILE_MISSING',
    `${dir} is a folder without model_index.json and without unet/${DENOISER_MODEL} or transformer/${DENOISER_MODEL}: it is not a pipeline folder.`,
    {
      subject: { file: dir },
      hint: `tgate compile takes a model file or a pipeline folder: ${NEEDS}.${models.length ? ` To compile one model, pass its file: tgate compile ${path.join(dir, models[0]!)} -o <dir>.` : ''}`,
    },
  );
}

/**
 * Reads a pipeline folder's structure: model_index.json, the denoiser, every component folder
 * present (listed in model_index.json, or a known folder name) and their files. Refuses a folder
 * that is no pipeline, a broken model_index.json, a listed component whose folder is missing, a
 * compiled folder, and symlinks the rule does not follow.
 */
export function readPipeline(dir: string): PipelineSource {
  if (fs.existsSync(path.join(dir, 'tgate.json'))) {
    throw new TgateError('E_BAD_PIPELINE', `${dir} holds tgate.json: it is already a compiled folder, with tgate's graphs beside the source files.`, {
      subject: { file: path.join(dir, 'tgate.json') },
      hint: 'Compile the original model or pipeline folder instead; a compiled folder runs as is (tgate run <dir>).',
    });
  }
  const index = readIndex(dir);
  const found = findDenoiser(dir, index);
  if (!found) throw notAPipeline(dir);
  const components = listed(index?.index ?? null);
  for (const c of components) {
    if (!c.present || NOT_EXPORTED.has(c.name)) continue;
    const folders = FOLDERS_OF.get(c.name) ?? [c.name];
    if (!folders.some((f) => isDir(dir, f))) {
      throw new TgateError(
        'E_FILE_MISSING',
        `${path.join(dir, PIPELINE_INDEX)} lists the component "${c.name}" (${c.what}), but ${dir} has no ${folders.map((f) => `${f}/`).join(' or ')} folder.`,
        {
          subject: { file: path.join(dir, folders[0]!) },
          hint: `Copy the whole exported pipeline folder (optimum-cli export onnx writes every component), or set "${c.name}": [null, null] in model_index.json if the pipeline runs without it.`,
        },
      );
    }
  }
  const wanted = new Set([...components.map((c) => c.name), ...KNOWN_COMPONENTS]);
  const folders = fs
    .readdirSync(dir)
    .sort(byName)
    .filter((n) => wanted.has(n) && n !== found.denoiser && isDir(dir, n));
  const className = index && typeof index.index._class_name === 'string' ? index.index._class_name : null;
  return {
    dir,
    className,
    index: index?.file ?? null,
    denoiser: found.denoiser,
    model: found.model,
    denoiserFiles: filesOf(dir, found.denoiser),
    components: folders.map((name) => ({ name, files: filesOf(dir, name) })),
  };
}

/**
 * For commands that take a model or a compiled folder (inspect, diff, bench, calibrate): a source
 * pipeline folder stands for its denoiser's model. null for a compiled folder (it has tgate.json)
 * and for a folder that is no pipeline.
 */
export function denoiserModelOf(dir: string): string | null {
  if (!isFolder(dir) || fs.existsSync(path.join(dir, 'tgate.json'))) return null;
  return pipelineDenoiser(dir)?.model ?? null;
}
