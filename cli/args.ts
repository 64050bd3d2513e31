// Argument parsing shared by the subcommands: node:util parseArgs, with its errors turned into
// usage errors (exit 2) that point at `tgate help`.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TgateError } from '../compiler/errors.js';

export function usageError(message: string, hint = 'Run `tgate help` for the commands and their options.'): TgateError {
  return new TgateError('E_USAGE', message, { hint });
}

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, hint?: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError((e as Error).message, hint);
  }
}
