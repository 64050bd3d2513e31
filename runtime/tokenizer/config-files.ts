// Reading a tokenizer folder's files with tgate's errors: a missing file is E_FILE_MISSING, a file
// that is not what it should be (bad JSON, wrong shape) is E_UNSUPPORTED_MODEL; both name the file
// and say what tgate reads. Also the one value convention the configs share: a token written as a
// string or as an AddedToken object ({"content": ..., "lstrip": ..., "__type": "AddedToken"}).
import path from 'node:path';
import { isTgateError, TgateError } from '../../base/errors.js';
import { readRegularFile } from '../../io/contained-file.js';

export const SUPPORTED =
  'tgate reads CLIP tokenizers (vocab.json + merges.txt + tokenizer_config.json, as transformers CLIPTokenizer saves them: SD-1.x, SD-2.x, SD-XL) and word-level tokenizers (a tokenizer.json whose model.type is "WordLevel")';

export function missingFile(dir: string, files: string[], why: string): TgateError {
  const file = path.join(dir, files[0]!);
  return new TgateError('E_FILE_MISSING', `The tokenizer folder ${dir} has no ${files.join(' / ')}: ${why}.`, {
    subject: { file },
    hint: `${SUPPORTED}. Point tgate at the tokenizer/ folder of a diffusers or optimum export.`,
  });
}

export function unsupported(file: string, what: string): TgateError {
  return new TgateError('E_UNSUPPORTED_MODEL', `${file}: ${what}.`, { subject: { file }, hint: `${SUPPORTED}.` });
}

export function readText(file: string): string {
  try {
    // A regular file of bounded size only: a FIFO or a device named vocab.json must not hang or exhaust tgate.
    return readRegularFile(file, { kind: 'config', what: 'tokenizer file' }).bytes.toString('utf8');
  } catch (e) {
    if (isTgateError(e)) throw e;
    throw new TgateError('E_FILE_MISSING', `Cannot read ${file}: ${(e as Error).message}.`, { subject: { file }, hint: `${SUPPORTED}.`, cause: e });
  }
}

export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw unsupported(file, `not valid JSON (${(e as Error).message})`);
  }
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface TokenSpec {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  /** Present when the file says so. */
  special?: boolean;
}

/** A token as the configs write it: "<|endoftext|>" or {"content": "<|endoftext|>", ...}; null/absent -> null. */
export function tokenSpec(x: unknown, file: string, key: string): TokenSpec | null {
  if (x === null || x === undefined) return null;
  if (typeof x === 'string') return { content: x, lstrip: false, rstrip: false, singleWord: false };
  if (isObject(x) && typeof x.content === 'string') {
    const spec: TokenSpec = { content: x.content, lstrip: x.lstrip === true, rstrip: x.rstrip === true, singleWord: x.single_word === true };
    if (typeof x.special === 'boolean') spec.special = x.special;
    return spec;
  }
  throw unsupported(file, `"${key}" is neither a string nor an object with a "content" string`);
}
