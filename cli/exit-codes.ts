// The one table from error codes to process exit codes. Documented in the README.
import type { ErrorCode } from '../base/errors.js';

export const EXIT = { ok: 0, usage: 2, badInput: 3, unsupported: 4, output: 5, verify: 6, nonFinite: 7, remote: 8, internal: 70 } as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE':
      return EXIT.usage;
    case 'E_FILE_MISSING':
    case 'E_NOT_ONNX':
    case 'E_BAD_TENSOR':
    case 'E_EXTERNAL_DATA_MISSING':
    case 'E_EXTERNAL_DATA_UNSAFE':
    case 'E_EXTERNAL_DATA_INVALID':
    case 'E_BAD_PIPELINE':
    case 'E_BAD_CONFIG':
    case 'E_UNSAFE_LINK':
    case 'E_BAD_MANIFEST':
    case 'E_NOT_REGULAR_FILE':
    case 'E_FILE_TOO_LARGE':
      return EXIT.badInput;
    case 'E_UNSUPPORTED_MODEL':
    case 'E_NO_CROSS_ATTENTION':
      return EXIT.unsupported;
    case 'E_OUTPUT_EXISTS':
    case 'E_OUTPUT_OVERLAPS_SOURCE':
    case 'E_OUTPUT_LOCKED':
    case 'E_OUTPUT_UNWRITABLE':
      return EXIT.output;
    case 'E_VERIFY_FAILED':
      return EXIT.verify;
    // A model output or a step's result became NaN or infinite (non-finite inputs are E_BAD_TENSOR):
    // the model's arithmetic on these inputs, not a tgate bug.
    case 'E_NON_FINITE':
      return EXIT.nonFinite;
    // A KServe/Triton server: not reachable (or silent past the timeout), answering with an error, or
    // serving a model that is not the compiled one.
    case 'E_REMOTE_UNREACHABLE':
    case 'E_REMOTE_FAILED':
    case 'E_REMOTE_MODEL_MISMATCH':
      return EXIT.remote;
    case 'E_IR_INVALID':
    case 'E_PASS_FAILED':
    case 'E_INTERNAL':
      return EXIT.internal;
  }
}
