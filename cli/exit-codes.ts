// The one table from error codes to process exit codes. Documented in the README.
import type { ErrorCode } from '../compiler/errors.js';

export const EXIT = { ok: 0, usage: 2, badInput: 3, unsupported: 4, output: 5, verify: 6, internal: 70 } as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE': return EXIT.usage;
    case 'E_FILE_MISSING':
    case 'E_NOT_ONNX':
    case 'E_BAD_TENSOR':
    case 'E_EXTERNAL_DATA_MISSING':
    case 'E_EXTERNAL_DATA_UNSAFE':
    case 'E_EXTERNAL_DATA_INVALID':
    case 'E_BAD_PIPELINE':
    case 'E_UNSAFE_LINK': return EXIT.badInput;
    case 'E_UNSUPPORTED_MODEL':
    case 'E_NO_CROSS_ATTENTION': return EXIT.unsupported;
    case 'E_OUTPUT_EXISTS':
    case 'E_OUTPUT_OVERLAPS_SOURCE': return EXIT.output;
    case 'E_VERIFY_FAILED': return EXIT.verify;
    case 'E_IR_INVALID':
    case 'E_PASS_FAILED':
    case 'E_INTERNAL': return EXIT.internal;
  }
}
