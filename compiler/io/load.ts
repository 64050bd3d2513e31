// Reading a source model from disk: existence and kind checks with clear errors, the bytes'
// sha256, the parsed proto, and its external data checked (never read): every tensor's, wherever
// it lives (external-data.ts), before any command looks at the model.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ModelProto } from 'onnx-buf';
import { TgateError } from '../errors.js';
import { parseModelProto } from './decode.js';
import { checkExternalData, type ExternalDataCheck, type ExternalFile } from './external-data.js';

export interface LoadedSource {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  proto: ModelProto;
  /** The distinct external data files its tensors reference, checked (checkExternalData). */
  externalFiles: ExternalFile[];
}

/** protobuf's limit on one message: an .onnx file is never larger. */
const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

/**
 * `externalData.requireFiles: false` for commands that never read weights (inspect, diff): data
 * files may be absent, every reference is checked all the same.
 */
export function loadSource(file: string, opts: { externalData?: ExternalDataCheck } = {}): LoadedSource {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new TgateError('E_FILE_MISSING', `Model file ${file} does not exist.`, { subject: { file }, hint: 'Check the path; tgate takes the .onnx file of an exported model.' });
  }
  if (st.isDirectory()) {
    throw new TgateError('E_FILE_MISSING', `${file} is a folder, not a model file.`, { subject: { file }, hint: 'Pass the .onnx file inside it (e.g. model.onnx).' });
  }
  // A device or FIFO would be read forever (or block); protobuf caps a message at 2 GiB, so a
  // larger .onnx file cannot be a model (big models keep their weights in external data).
  if (!st.isFile()) {
    throw new TgateError('E_NOT_ONNX', `${file} is not a regular file (a device, FIFO or socket), so it is not a model.`, { subject: { file }, hint: 'Pass the .onnx file of an exported model.' });
  }
  if (st.size > MAX_MODEL_FILE_BYTES) {
    throw new TgateError('E_NOT_ONNX', `${file} has ${st.size} bytes, more than the 2 GiB a protobuf message (an .onnx file) can hold.`, {
      subject: { file },
      hint: 'Save a large model with its weights in external data (onnx.save_model(..., save_as_external_data=True)).',
    });
  }
  const bytes = fs.readFileSync(file);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const proto = parseModelProto(bytes, file);
  const externalFiles = checkExternalData(proto, path.dirname(path.resolve(file)), file, opts.externalData);
  return { path: file, bytes, sha256, proto, externalFiles };
}

/** Whether `child` is `parent` or lies below it (both absolute, resolved). */
export function isInsideDir(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The Hugging Face cache repository folder a path lies in through a snapshot: for
 * `<cache>/models--org--name/snapshots/<revision>/...` (the folders resolved), the
 * `<cache>/models--org--name` folder; null for a path outside a cache snapshot.
 */
export function hfCacheRepoOf(file: string): string | null {
  const real = realDirOf(file);
  const parts = real.split(path.sep);
  for (let i = parts.length - 2; i >= 1; i--) {
    if (parts[i] === 'snapshots' && parts[i - 1]!.startsWith('models--') && parts[i + 1]) return parts.slice(0, i).join(path.sep) || path.sep;
  }
  return null;
}

/** The path with its folders resolved (the last component left as is: it may be a symlink). */
function realDirOf(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.statSync(abs).isDirectory() && !fs.lstatSync(abs).isSymbolicLink() ? fs.realpathSync(abs) : path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

export type LinkVerdict = { follow: true; target: string } | { follow: false; target: string | null; reason: string };

/**
 * THE symlink rule for what tgate finds inside a source folder: a model's external data, and
 * every file of a pipeline folder (a model file named on the command line is opened as given,
 * as it always was). huggingface_hub's cache lays every snapshot out as real folders
 * whose files are relative symlinks into the repository's blob store:
 *   <cache>/models--org--name/snapshots/<revision>/unet/model.onnx -> ../../../blobs/<sha256>
 * so a symlink met inside a cache snapshot is followed when its fully resolved target lies inside
 * the same cache repository folder (the `models--*` folder that holds `snapshots/`). Anything else
 * is refused: a link that escapes that folder, a dangling link, and every symlink outside a cache
 * snapshot (one could lead anywhere, and tgate would link or read what it points at). Callers
 * link or read `target`, never the link itself, so no symlink is ever copied into an output.
 */
export function symlinkVerdict(link: string): LinkVerdict {
  const repo = hfCacheRepoOf(link);
  let target: string;
  try {
    target = fs.realpathSync(link);
  } catch {
    return { follow: false, target: null, reason: 'its target does not exist' };
  }
  if (!repo) return { follow: false, target, reason: `it is not inside a Hugging Face cache snapshot (models--*/snapshots/<revision>/), the only place tgate follows symlinks` };
  if (!isInsideDir(target, fs.realpathSync(repo))) return { follow: false, target, reason: `it leads to ${target}, outside its Hugging Face cache repository ${repo}` };
  return { follow: true, target };
}
