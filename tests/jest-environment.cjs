// Jest runs each test file in its own V8 context with its own typed-array constructors, but
// onnxruntime-node's native binding returns arrays made in Node's main context, and
// onnxruntime-common checks them with instanceof. Sharing the main context's constructors makes
// the suite exercise onnxruntime exactly as `tgate` does outside Jest.
const { TestEnvironment } = require('jest-environment-node');

// Set in the worker's real environment (a test's process.env is a copy): onnxruntime's telemetry
// off for sessions that tests open directly, as runtime/ort.ts does for tgate's own.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) if (globalThis[name]) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
