// The one error type of tgate: a stable code, what it is about, a message that says what was
// expected, what was found and what to do. The CLI maps codes to exit codes (cli/exit-codes.ts).

export type ErrorCode =
  | 'E_USAGE'
  | 'E_FILE_MISSING'
  | 'E_NOT_ONNX'
  | 'E_BAD_TENSOR'
  | 'E_EXTERNAL_DATA_MISSING'
  | 'E_EXTERNAL_DATA_UNSAFE'
  | 'E_EXTERNAL_DATA_INVALID'
  | 'E_BAD_PIPELINE'
  | 'E_BAD_CONFIG'
  | 'E_UNSAFE_LINK'
  | 'E_BAD_MANIFEST'
  | 'E_NOT_REGULAR_FILE'
  | 'E_FILE_TOO_LARGE'
  | 'E_UNSUPPORTED_MODEL'
  | 'E_NO_CROSS_ATTENTION'
  | 'E_OUTPUT_EXISTS'
  | 'E_OUTPUT_OVERLAPS_SOURCE'
  | 'E_OUTPUT_LOCKED'
  | 'E_OUTPUT_UNWRITABLE'
  | 'E_IR_INVALID'
  | 'E_PASS_FAILED'
  | 'E_VERIFY_FAILED'
  | 'E_NON_FINITE'
  | 'E_REMOTE_UNREACHABLE'
  | 'E_REMOTE_FAILED'
  | 'E_REMOTE_MODEL_MISMATCH'
  | 'E_INTERNAL';

/** What an error is about: at most one of each, all optional. */
export interface ErrorSubject {
  file?: string;
  node?: string;
  tensor?: string;
  pass?: string;
}

export class TgateError extends Error {
  readonly code: ErrorCode;
  readonly subject: ErrorSubject;
  /** What the user can do about it; printed after the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { subject?: ErrorSubject; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TgateError';
    this.code = code;
    this.subject = opts.subject ?? {};
    this.hint = opts.hint;
  }
}

export function isTgateError(e: unknown): e is TgateError {
  return e instanceof TgateError;
}
