// Where a path lies and which symlinks tgate follows: the folder-containment test and the one
// symlink rule (Hugging Face cache snapshots only) shared by loading, external data, pipeline
// folders and compiled folders. Only node:fs/path: nothing here knows a model.
import fs from 'node:fs';
import path from 'node:path';

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
    return fs.statSync(abs).isDirectory() && !fs.lstatSync(abs).isSymbolicLink()
      ? fs.realpathSync(abs)
      : path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
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
  if (!repo)
    return {
      follow: false,
      target,
      reason: `it is not inside a Hugging Face cache snapshot (models--*/snapshots/<revision>/), the only place tgate follows symlinks`,
    };
  if (!isInsideDir(target, fs.realpathSync(repo)))
    return { follow: false, target, reason: `it leads to ${target}, outside its Hugging Face cache repository ${repo}` };
  return { follow: true, target };
}
