// An in-process KServe v2 server for tests, backed by InferModels (an ImplicitStateModel over a real
// onnxruntime session for stateful models): health, server and model metadata, model readiness,
// Triton's model configuration extension, and inference with JSON or binary tensor data (binary
// extension, raw binary requests included) and the sequence extension, as the protocol documents
// state them; errors are 400/404 with {"error": "..."}. Faults can be injected to test retries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import { encodeModelSpec, type ModelSpec } from '../../fixtures/model-spec.js';
import { DTYPE } from '../../ir/dtype.js';
import { openSession } from '../../runtime/session.js';
import type { InferModel, SequenceFlags, TensorSpec } from '../../runtime/remote/sequence-model.js';
import { elementBytes, shapeMatches, tensorBytes, tensorFromBytes, tensorFromJson, tensorToJson } from '../../runtime/remote/tensor-wire.js';

export interface ServedModel {
  model: InferModel;
  config: Record<string, unknown>;
  /** Default onnxruntime_onnx. */
  platform?: string;
  /** Default ['1']. */
  versions?: string[];
}

/** What to do with a request instead of (or before) answering it. */
export type Fault = 'drop' | { status: number; error?: string } | { delayMs: number };

export interface KServeServerOptions {
  models: Record<string, ServedModel>;
  /** Called with the 1-based number of each request (after its body is read). */
  fault?: (n: number, req: { method: string; path: string }) => Fault | undefined;
}

export interface LoggedRequest {
  path: string;
  method: string;
  /** Request body length. */
  bytesIn: number;
  /** Response body length (0 when dropped). */
  bytesOut: number;
  /** 0 when the connection was dropped. */
  status: number;
  contentType: string | undefined;
  fault?: string;
}

export interface KServeServer {
  url: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  body: Buffer;
  headers: Record<string, string>;
}

const json = (status: number, value: unknown): Answer => ({
  status,
  body: Buffer.from(JSON.stringify(value)),
  headers: { 'Content-Type': 'application/json' },
});

const bad = (why: string) => new HttpError(400, why);

function specJson(s: TensorSpec): TensorSpec {
  return { name: s.name, datatype: s.datatype, shape: s.shape };
}

/** The sequence parameters of a request, with uint64 ids read at full precision from the JSON text. */
function sequenceOf(params: Record<string, unknown>, headerText: string): SequenceFlags | undefined {
  const raw = params.sequence_id;
  const start = params.sequence_start ?? false;
  const end = params.sequence_end ?? false;
  if (typeof start !== 'boolean' || typeof end !== 'boolean') throw bad('sequence_start and sequence_end must be booleans');
  let id = 0n;
  if (typeof raw === 'string') {
    if (raw !== '') throw bad('this server does not support string sequence ids (no "sequence(string_id)" extension)');
  } else if (typeof raw === 'number') {
    // JSON.parse rounds integers beyond 2^53: take the digits from the text.
    const digits = /"sequence_id"\s*:\s*(\d+)\s*[,}]/.exec(headerText)?.[1];
    if (!Number.isInteger(raw) || raw < 0 || digits === undefined) throw bad(`sequence_id ${raw} is not a uint64`);
    id = BigInt(digits);
    if (id >= 1n << 64n) throw bad(`sequence_id ${digits} is not a uint64`);
  } else if (raw !== undefined) throw bad('sequence_id must be a uint64 or a string');
  if (id === 0n) {
    if (start || end) throw bad('sequence_start and sequence_end need a non-zero sequence_id');
    return undefined;
  }
  return { id, start, end };
}

async function infer(served: ServedModel, modelName: string, version: string, req: http.IncomingMessage, body: Buffer): Promise<Answer> {
  const model = served.model;
  const hlen = req.headers['inference-header-content-length'];
  let header: Record<string, unknown>;
  let headerText = '';
  let off: number;
  if (hlen === '0') {
    // Raw binary request: one input, its shape deduced from the size; every output binary.
    const only = model.inputs[0];
    if (model.inputs.length !== 1 || !only) throw bad('a raw binary request needs a model with exactly one input');
    const variable = only.shape.filter((d) => d === -1).length;
    if (variable > 1) throw bad('a raw binary request needs at most one variable-sized dimension');
    const fixed = only.shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const count = body.byteLength / elementBytes(only.datatype);
    const shape = only.shape.map((d) => (d === -1 ? count / fixed : d));
    header = {
      inputs: [{ name: only.name, datatype: only.datatype, shape, parameters: { binary_data_size: body.byteLength } }],
      parameters: { binary_data_output: true },
    };
    off = 0;
  } else {
    off = hlen === undefined ? body.byteLength : Number(hlen);
    if (!Number.isSafeInteger(off) || off < 0 || off > body.byteLength)
      throw bad(`Inference-Header-Content-Length ${String(hlen)} does not fit the ${body.byteLength}-byte body`);
    headerText = body.subarray(0, off).toString('utf8');
    try {
      header = JSON.parse(headerText) as Record<string, unknown>;
    } catch (e) {
      throw bad(`failed to parse the request JSON: ${(e as Error).message}`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('the request is not a JSON object');
  }
  const params = (header.parameters ?? {}) as Record<string, unknown>;
  if (typeof params !== 'object') throw bad('"parameters" must be an object');
  const sequence = sequenceOf(params, headerText);
  const inputs = header.inputs;
  if (!Array.isArray(inputs)) throw bad('the request has no "inputs" list');
  const feeds: Record<string, ort.Tensor> = {};
  for (const raw of inputs as unknown[]) {
    const i = (raw ?? {}) as { name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown; parameters?: Record<string, unknown> };
    if (typeof i.name !== 'string' || typeof i.datatype !== 'string' || !Array.isArray(i.shape)) throw bad('each input needs name, shape and datatype');
    const spec = model.inputs.find((s) => s.name === i.name);
    if (!spec) throw bad(`unexpected inference input '${i.name}' for model '${modelName}'`);
    if (feeds[i.name]) throw bad(`input '${i.name}' is given twice`);
    if (i.datatype !== spec.datatype)
      throw bad(`inference input '${i.name}' data-type is '${i.datatype}', but model '${modelName}' expects '${spec.datatype}'`);
    const shape = i.shape.map(Number);
    if (!shapeMatches(spec.shape, shape))
      throw bad(`unexpected shape for input '${i.name}' for model '${modelName}': expected [${spec.shape.join(',')}], got [${shape.join(',')}]`);
    const size = i.parameters?.binary_data_size;
    try {
      if (size !== undefined) {
        const n = Number(size);
        if (!Number.isSafeInteger(n) || n < 0 || off + n > body.byteLength)
          throw bad(`binary_data_size ${String(size)} of input '${i.name}' runs past the body's end`);
        feeds[i.name] = tensorFromBytes(i.datatype, shape, body.subarray(off, off + n), i.name);
        off += n;
      } else {
        feeds[i.name] = tensorFromJson(i.datatype, shape, i.data, i.name);
      }
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw bad((e as Error).message);
    }
  }
  if (off !== body.byteLength) throw bad(`${body.byteLength - off} bytes of binary data are not claimed by any input`);
  for (const s of model.inputs)
    if (!feeds[s.name])
      throw bad(`expected ${model.inputs.length} inputs but got ${Object.keys(feeds).length} inputs for model '${modelName}': '${s.name}' is missing`);

  const binaryDefault = params.binary_data_output ?? false;
  if (typeof binaryDefault !== 'boolean') throw bad('binary_data_output must be a boolean');
  const asked = header.outputs;
  if (asked !== undefined && !Array.isArray(asked)) throw bad('"outputs" must be a list');
  const wanted = ((asked ?? []) as { name?: unknown; parameters?: Record<string, unknown> }[]).map((o) => {
    if (typeof o?.name !== 'string') throw bad('each requested output needs a name');
    if (!model.outputs.some((s) => s.name === o.name)) throw bad(`unexpected inference output '${o.name}' for model '${modelName}'`);
    const b = o.parameters?.binary_data ?? binaryDefault;
    if (typeof b !== 'boolean') throw bad('binary_data must be a boolean');
    return { name: o.name, binary: b };
  });
  let result;
  try {
    result = await model.infer(
      feeds,
      wanted.map((w) => w.name),
      sequence,
    );
  } catch (e) {
    if (e instanceof TgateError) throw bad(e.message);
    throw new HttpError(500, (e as Error).message);
  }
  const order = wanted.length > 0 ? wanted : model.outputs.map((s) => ({ name: s.name, binary: binaryDefault }));
  const blobs: Uint8Array[] = [];
  const outputs = order.map(({ name, binary }) => {
    const t = result.outputs[name];
    if (!t) throw new HttpError(500, `the model did not produce output '${name}'`);
    const base = { name, datatype: model.outputs.find((s) => s.name === name)!.datatype, shape: [...t.dims] };
    if (!binary) return { ...base, data: tensorToJson(t, name) };
    const bytes = tensorBytes(t, name);
    blobs.push(bytes);
    return { ...base, parameters: { binary_data_size: bytes.byteLength } };
  });
  const response: Record<string, unknown> = { model_name: modelName, model_version: version, outputs };
  if (typeof header.id === 'string') response.id = header.id;
  const head = Buffer.from(JSON.stringify(response));
  if (blobs.length === 0) return { status: 200, body: head, headers: { 'Content-Type': 'application/json' } };
  return {
    status: 200,
    body: Buffer.concat([head, ...blobs]),
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(head.byteLength) },
  };
}

async function route(opts: KServeServerOptions, req: http.IncomingMessage, path: string, body: Buffer): Promise<Answer> {
  const method = req.method ?? 'GET';
  const get = (f: () => Answer): Answer => {
    if (method !== 'GET') throw new HttpError(405, `${method} is not allowed on ${path}`);
    return f();
  };
  if (path === '/v2' || path === '/v2/') {
    return get(() => json(200, { name: 'tgate-test-kserve', version: '2', extensions: ['binary_tensor_data', 'sequence', 'model_configuration'] }));
  }
  if (path === '/v2/health/live' || path === '/v2/health/ready') return get(() => ({ status: 200, body: Buffer.alloc(0), headers: {} }));
  const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|config|infer))?$/.exec(path);
  if (!m) throw new HttpError(404, `not found: ${path}`);
  const name = decodeURIComponent(m[1]!);
  const served = opts.models[name];
  if (!served) throw new HttpError(404, `Request for unknown model: '${name}' is not found`);
  const versions = served.versions ?? ['1'];
  const version = m[2] === undefined ? versions[versions.length - 1]! : decodeURIComponent(m[2]);
  if (!versions.includes(version)) throw new HttpError(404, `Request for unknown model: '${name}' version ${version} is not found`);
  switch (m[3]) {
    case undefined:
      return get(() =>
        json(200, {
          name,
          versions,
          platform: served.platform ?? 'onnxruntime_onnx',
          inputs: served.model.inputs.map(specJson),
          outputs: served.model.outputs.map(specJson),
        }),
      );
    case 'ready':
      return get(() => ({ status: 200, body: Buffer.alloc(0), headers: {} }));
    case 'config':
      return get(() => json(200, served.config));
    default:
      if (method !== 'POST') throw new HttpError(405, `${method} is not allowed on ${path}`);
      return infer(served, name, version, req, body);
  }
}

export async function startKServeServer(opts: KServeServerOptions): Promise<KServeServer> {
  const requests: LoggedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let count = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? '/').split('?')[0]!;
        const method = req.method ?? 'GET';
        const entry: LoggedRequest = { path, method, bytesIn: body.byteLength, bytesOut: 0, status: 0, contentType: undefined };
        requests.push(entry);
        const fault = opts.fault?.(++count, { method, path });
        if (fault === 'drop') {
          entry.fault = 'drop';
          req.socket.destroy();
          return;
        }
        if (fault && 'delayMs' in fault) {
          entry.fault = `delay ${fault.delayMs} ms`;
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              timers.delete(t);
              resolve();
            }, fault.delayMs);
            timers.add(t);
          });
        }
        let answer: Answer;
        if (fault && 'status' in fault) {
          entry.fault = `status ${fault.status}`;
          answer = json(fault.status, { error: fault.error ?? `injected fault: HTTP ${fault.status}` });
        } else {
          try {
            answer = await route(opts, req, path, body);
          } catch (e) {
            answer = json(e instanceof HttpError ? e.status : 500, { error: (e as Error).message });
          }
        }
        entry.status = answer.status;
        entry.bytesOut = answer.body.byteLength;
        entry.contentType = answer.headers['Content-Type'];
        if (res.destroyed) return;
        res.writeHead(answer.status, { ...answer.headers, 'Content-Length': String(answer.body.byteLength) });
        res.end(answer.body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Tiny models for the remote tests. `accumulator`: Triton's documented example, OUTPUT = INPUT +
 * INPUT_STATE and OUTPUT_STATE = the same, all float32 [n]. `growing`: OUTPUT_STATE = Concat(INPUT_STATE,
 * INPUT), so the state's shape shows which initial state a sequence started from. `types`: float16,
 * bool (a scalar, also an If condition), int64 and float32 through one request.
 */
export const REMOTE_TEST_MODELS: Record<'accumulator' | 'growing' | 'types', ModelSpec> = {
  accumulator: {
    opset: 17,
    inputs: [
      { name: 'INPUT', dtype: DTYPE.float32, shape: ['n'] },
      { name: 'INPUT_STATE', dtype: DTYPE.float32, shape: ['s'] },
    ],
    outputs: [
      { name: 'OUTPUT', dtype: DTYPE.float32, shape: [null] },
      { name: 'OUTPUT_STATE', dtype: DTYPE.float32, shape: [null] },
    ],
    initializers: [],
    nodes: [
      { op: 'Add', inputs: ['INPUT', 'INPUT_STATE'], outputs: ['OUTPUT'] },
      { op: 'Identity', inputs: ['OUTPUT'], outputs: ['OUTPUT_STATE'] },
    ],
  },
  growing: {
    opset: 17,
    inputs: [
      { name: 'INPUT', dtype: DTYPE.float32, shape: ['n'] },
      { name: 'INPUT_STATE', dtype: DTYPE.float32, shape: ['s'] },
    ],
    outputs: [
      { name: 'OUTPUT', dtype: DTYPE.float32, shape: [] },
      { name: 'OUTPUT_STATE', dtype: DTYPE.float32, shape: [null] },
    ],
    initializers: [],
    nodes: [
      { op: 'Concat', inputs: ['INPUT_STATE', 'INPUT'], outputs: ['OUTPUT_STATE'], attrs: { axis: { i: 0 } } },
      { op: 'ReduceSum', inputs: ['OUTPUT_STATE'], outputs: ['OUTPUT'], attrs: { keepdims: { i: 0 } } },
    ],
  },
  types: {
    opset: 17,
    inputs: [
      { name: 'X', dtype: DTYPE.float16, shape: [2, 3] },
      { name: 'FLAG', dtype: DTYPE.bool, shape: [] },
      { name: 'IDS', dtype: DTYPE.int64, shape: ['k'] },
      { name: 'W', dtype: DTYPE.float32, shape: [3] },
    ],
    outputs: [
      { name: 'Y16', dtype: DTYPE.float16, shape: [2, 3] },
      { name: 'Y32', dtype: DTYPE.float32, shape: [2, 3] },
      { name: 'NOT_FLAG', dtype: DTYPE.bool, shape: [] },
      { name: 'IDS2', dtype: DTYPE.int64, shape: ['k'] },
      { name: 'PICKED', dtype: DTYPE.float32, shape: [2, 3] },
    ],
    initializers: [],
    nodes: [
      { op: 'Cast', inputs: ['X'], outputs: ['XF'], attrs: { to: { i: DTYPE.float32 } } },
      { op: 'Mul', inputs: ['XF', 'W'], outputs: ['Y32'] },
      { op: 'Cast', inputs: ['Y32'], outputs: ['Y16'], attrs: { to: { i: DTYPE.float16 } } },
      { op: 'Not', inputs: ['FLAG'], outputs: ['NOT_FLAG'] },
      { op: 'Add', inputs: ['IDS', 'IDS'], outputs: ['IDS2'] },
      {
        op: 'If',
        inputs: ['FLAG'],
        outputs: ['PICKED'],
        attrs: {
          then_branch: {
            g: {
              inputs: [],
              outputs: [{ name: 'then_out', dtype: DTYPE.float32, shape: [2, 3] }],
              initializers: [],
              nodes: [{ op: 'Identity', inputs: ['Y32'], outputs: ['then_out'] }],
            },
          },
          else_branch: {
            g: {
              inputs: [],
              outputs: [{ name: 'else_out', dtype: DTYPE.float32, shape: [2, 3] }],
              initializers: [],
              nodes: [{ op: 'Neg', inputs: ['XF'], outputs: ['else_out'] }],
            },
          },
        },
      },
    ],
  },
};

/** A session over one of REMOTE_TEST_MODELS. */
export function openTestModel(which: keyof typeof REMOTE_TEST_MODELS): Promise<ort.InferenceSession> {
  return openSession(encodeModelSpec(REMOTE_TEST_MODELS[which]));
}
