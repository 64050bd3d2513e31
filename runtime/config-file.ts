// Reading one diffusers/transformers config.json of a compiled pipeline folder: bounded, a regular
// file, Python's Infinity/NaN tokens accepted; a missing file reads as {} (every key has a default).
import { TgateError } from '../base/errors.js';
import { readRegularFile } from '../io/contained-file.js';
import { exists } from './compiled-folder.js';
import { parseDiffusersJson } from './schedulers/index.js';

/** A diffusers/transformers JSON config (Python's Infinity/NaN tokens accepted); {} when absent. */
export function readConfig(file: string): Record<string, unknown> {
  if (!exists(file)) return {};
  // A regular file of bounded size only: a FIFO named config.json must not hang tgate.
  const json = parseDiffusersJson(readRegularFile(file, { kind: 'config', what: 'config' }).bytes.toString('utf8'), file);
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new TgateError('E_BAD_PIPELINE', `${file} is not a JSON object.`, {
      subject: { file },
      hint: 'Re-export the pipeline; its config files are written by diffusers/transformers save_pretrained.',
    });
  }
  return json as Record<string, unknown>;
}
