// loadTokenizer: a diffusers/optimum `tokenizer/` folder -> the Tokenizer the pipelines run.
// Guarantees: a tokenizer.json whose model is WordLevel gives the word-level tokenizer; a CLIP
// folder (vocab.json + merges.txt, tokenizer_class CLIPTokenizer/CLIPTokenizerFast or unset)
// gives transformers' slow CLIPTokenizer, even when a (BPE) tokenizer.json sits beside it, since
// the slow tokenizer is what the pipelines' reference ids come from. Anything else is refused:
// E_FILE_MISSING naming the missing file(s), E_UNSUPPORTED_MODEL naming the file and the class or
// format, both saying what is supported.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { loadClipTokenizer } from './clip-tokenizer.js';
import { SUPPORTED, isObject, missingFile, readJson, unsupported } from './config-files.js';
import type { Tokenizer } from './types.js';
import { loadWordLevel, tokenizerJsonModel } from './word-level.js';

export type { Tokenizer, TokenizerOutput } from './types.js';
export { ClipTokenizer } from './clip-tokenizer.js';
export { WordLevelTokenizer } from './word-level.js';

const CLIP_CLASSES = ['CLIPTokenizer', 'CLIPTokenizerFast'];

/** Reads a diffusers/optimum `tokenizer/` folder. */
export function loadTokenizer(dir: string): Tokenizer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new TgateError('E_FILE_MISSING', `The tokenizer folder ${dir} does not exist.`, { subject: { file: dir }, hint: `${SUPPORTED}.` });
  }
  if (!stat.isDirectory())
    throw new TgateError('E_FILE_MISSING', `${dir} is a file, not a tokenizer folder.`, { subject: { file: dir }, hint: `${SUPPORTED}.` });

  const hasBpeFiles = fs.existsSync(path.join(dir, 'vocab.json')) && fs.existsSync(path.join(dir, 'merges.txt'));
  let tj: ReturnType<typeof tokenizerJsonModel>;
  try {
    tj = tokenizerJsonModel(dir);
  } catch (e) {
    // An unreadable tokenizer.json beside the slow tokenizer's files does not matter: they are read instead.
    if (!hasBpeFiles) throw e;
    tj = null;
  }
  if (tj?.type === 'WordLevel') return loadWordLevel(tj.file, tj.json, dir);

  const cfgFile = path.join(dir, 'tokenizer_config.json');
  if (fs.existsSync(cfgFile)) {
    const cfg = readJson(cfgFile);
    const cls = isObject(cfg) ? cfg.tokenizer_class : undefined;
    if (typeof cls === 'string' && !CLIP_CLASSES.includes(cls)) {
      throw unsupported(
        cfgFile,
        `tokenizer_class is ${cls}, which tgate does not implement (it implements ${CLIP_CLASSES.join(' and ')} through the slow tokenizer's files, and word-level tokenizer.json files)`,
      );
    }
  }
  if (!hasBpeFiles && tj) {
    throw unsupported(
      tj.file,
      `its model is ${tj.type} and the folder has no vocab.json + merges.txt${tj.type === 'BPE' ? " (tgate reproduces the slow CLIPTokenizer, which reads those two files; save the tokenizer with transformers' save_pretrained to get them)" : ''}`,
    );
  }
  if (!hasBpeFiles && !fs.existsSync(cfgFile)) {
    throw missingFile(
      dir,
      ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'tokenizer.json'].filter((f) => !fs.existsSync(path.join(dir, f))),
      'it is not a tokenizer folder tgate can read',
    );
  }
  return loadClipTokenizer(dir);
}
