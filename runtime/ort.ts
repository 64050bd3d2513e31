// onnxruntime-node, as the rest of tgate imports it: with onnxruntime's telemetry off.
//
// onnxruntime-node 1.30 on Linux starts Microsoft's 1DS telemetry when it creates its
// environment (at the first session): a debug log /tmp/mat-debug-<pid>.log per process and an
// SQLite event store ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db that records
// model names. Both are writes outside the folders a user names. onnxruntime reads
// ORT_DISABLE_TELEMETRY when that environment is created, so setting it here, before this module
// hands out the API, turns both off. An explicit value in the user's environment wins
// (ORT_DISABLE_TELEMETRY=0 keeps onnxruntime's default). This is the library's one touch of the
// process environment, and why value imports of onnxruntime-node go through this module only.
import ort from 'onnxruntime-node';

process.env.ORT_DISABLE_TELEMETRY ??= '1';
// The environment's own logger (used before a session's options apply) fatal only too, for the
// reason in session.ts: native writes to stderr bypass tgate's escaping of terminal text.
ort.env.logLevel = 'fatal';

export default ort;
