// Argument parsing shared by the subcommands: node:util parseArgs, with its errors turned into
// usage errors (exit 2) that point at `tgate help`.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TgateError } from '../compiler/errors.js';

export function usageError(message: string, hint = 'Run `tgate help` for the commands and their options.'): TgateError {
  return new TgateError('E_USAGE', message, { hint });
}

/** Parsed values by option name, as node:util parseArgs gives them. */
export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, hint?: string): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError((e as Error).message, hint);
  }
}
