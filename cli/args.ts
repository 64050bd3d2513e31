// The shape of a command's options and of what the command receives once commander has parsed
// them (cli/program.ts). One table per command declares each option with its help line, so the
// parser and the help cannot disagree: an option without a description does not type-check.
import { TgateError } from '../base/errors.js';

export function usageError(message: string, hint = 'Run `tgate help` for the commands and their options.'): TgateError {
  return new TgateError('E_USAGE', message, { hint });
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Given to the command when the option is absent (as text: commands check the values). */
  default?: string | string[];
  /** How help shows a default that is not the value itself ("the family's", a short path). */
  defaultText?: string;
  /** Repeatable: the command gets every value, in order, as an array. */
  multiple?: boolean;
  /** The only values commander accepts (anything else is a usage error naming them). */
  choices?: readonly string[];
  /** The value's name in help: N, FILE.npy, DIR. */
  value?: string;
  /** One line for --help. */
  description: string;
  /** Internal options (bench's memory probe): parsed, not shown. */
  hidden?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

/**
 * Parsed values by long option name, as the commands read them: `values['gate-step']` a string,
 * a repeatable option an array of strings, a flag true when given (`values['no-verify']` too).
 */
export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}
