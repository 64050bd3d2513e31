// A KServe v2 (Triton) HTTP/REST client on Node's fetch: health, server and model metadata, model
// configuration (Triton's extension), and inference with the binary tensor extension (inputs always
// binary; outputs binary unless asked otherwise; JSON `data` answers are read too) and the sequence
// extension. Every failure is a TgateError: E_REMOTE_UNREACHABLE (no connection, no answer in
// time) or E_REMOTE_FAILED (the server answered an error, or an answer that is not KServe v2).
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import type { InferModel, InferResult, SequenceFlags, TensorSpec } from './sequence-model.js';
import { datatypeOf, tensorBytes, tensorFromBytes, tensorFromJson } from './tensor-wire.js';

export interface KServeOptions {
  /** Per HTTP attempt, in milliseconds (connect, send and the whole answer). Default 60 000. */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure. Default 2. */
  retries?: number;
  /** First wait before a retry; doubles each time (capped at 5 s). Default 250 ms. */
  backoffMs?: number;
  /**
   * Whether infer requests are retried too. GETs are always retried (on connection failures,
   * timeouts and HTTP 502/503/504). An infer request is retried only when it cannot have changed
   * anything the retry would see differently: a connection refused, reset or hung up before any
   * answer arrived, or an HTTP 502/503/504 (the request did not reach the model, or the server
   * says so). A timeout or a broken answer is never retried for infer.
   *
   * Default true, because the stateful tgate model makes a re-sent step harmless: each of its
   * steps either reads a cached state or writes it, never both, so a step the server did run before
   * the connection broke computes the same outputs and the same state when sent again. Set it to
   * false for models without that property.
   */
  retryInfer?: boolean;
  /** Ask for outputs as binary data (the binary tensor extension). Default true; false asks JSON. */
  binaryOutputs?: boolean;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface InferRequest {
  feeds: Record<string, ort.Tensor>;
  /** Outputs to return; empty asks for all of the model's outputs. */
  outputs: readonly string[];
  sequence?: SequenceFlags;
  version?: string;
}

/** A model on a KServe v2 server, as the sampler runs it; `config()` is Triton's model configuration (null: the server has no such extension). */
export interface RemoteModel extends InferModel {
  readonly url: string;
  readonly version: string | undefined;
  readonly platform: string;
  config(): Promise<Record<string, unknown> | null>;
}

const RETRY_STATUS = new Set([502, 503, 504]);
/** Failures before any answer: the request either never arrived or got no reply (safe to re-send a tgate step). */
const INFER_RETRY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const CONNECT_CODES = new Set([
  ...INFER_RETRY_CODES,
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const UINT64_MAX = (1n << 64n) - 1n;
/** A placeholder no caller's JSON holds (a NUL is escaped as \u0000 in JSON text), replaced by the id's digits. */
const SEQUENCE_ID_SLOT = '\u0000tgate-sequence-id';

interface Failure {
  kind: 'timeout' | 'connect' | 'other';
  code: string | undefined;
  reason: string;
}

/** What went wrong with a fetch that got no answer: the error codes undici buries in `cause` chains. */
function failureOf(e: unknown): Failure {
  // Duck-typed: fetch's errors (DOMException, undici's) may come from another realm than this module's Error.
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout', code: undefined, reason: 'timed out' };
  const seen: unknown[] = [];
  const walk = (x: unknown): string | undefined => {
    if (!x || typeof x !== 'object' || seen.includes(x)) return undefined;
    seen.push(x);
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_CODES.has(code)) return code;
    const inner = (x as { errors?: unknown }).errors;
    for (const y of Array.isArray(inner) ? inner : []) {
      const c = walk(y);
      if (c) return c;
    }
    return walk((x as { cause?: unknown }).cause) ?? (typeof code === 'string' ? code : undefined);
  };
  const code = walk(e);
  const messageOf = (x: unknown) => {
    const m = (x as { message?: unknown } | null)?.message;
    return typeof m === 'string' && m !== '' ? m : undefined;
  };
  const reason = messageOf((e as { cause?: unknown } | null)?.cause) ?? messageOf(e) ?? String(e);
  return {
    kind: code !== undefined && CONNECT_CODES.has(code) ? 'connect' : 'other',
    code,
    reason: code && !reason.includes(code) ? `${code}: ${reason}` : reason,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function segment(s: string): string {
  return encodeURIComponent(s);
}

function modelPath(name: string, version: string | undefined): string {
  return `/v2/models/${segment(name)}${version === undefined || version === '' ? '' : `/versions/${segment(version)}`}`;
}

/** `http(s)://host:port[/prefix]` without a trailing slash; other schemes are refused (E_USAGE). */
export function serverBaseUrl(url: string): string {
  // host:port without a scheme parses as a URL of scheme "host": say what is missing instead.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new TgateError('E_USAGE', `the server URL ${JSON.stringify(url)} has no http:// in front`, {
      hint: `Give the server as http://host:port (Triton serves HTTP on port 8000): --server http://${url.replace(/^\/+/, '')}.`,
    });
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new TgateError('E_USAGE', `${JSON.stringify(url)} is not a URL`, {
      hint: 'Give the server as http://host:port (Triton serves HTTP on port 8000).',
      cause,
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TgateError('E_USAGE', `the server URL ${url} uses ${u.protocol.replace(/:$/, '')}; tgate speaks KServe v2 over HTTP/REST only`, {
      hint: 'Give the server as http://host:port (Triton serves HTTP on port 8000, gRPC on 8001).',
    });
  }
  if (u.search || u.hash) throw new TgateError('E_USAGE', `the server URL ${url} has a query or fragment`, { hint: 'Give the server as http://host:port.' });
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

export class KServeClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly retryInfer: boolean;
  private readonly binaryOutputs: boolean;

  constructor(url: string, opts: KServeOptions = {}) {
    this.url = serverBaseUrl(url);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.retries = opts.retries ?? 2;
    this.backoffMs = opts.backoffMs ?? 250;
    this.retryInfer = opts.retryInfer ?? true;
    this.binaryOutputs = opts.binaryOutputs ?? true;
    if (!(this.timeoutMs > 0) || !Number.isSafeInteger(this.retries) || this.retries < 0 || !(this.backoffMs >= 0)) {
      throw new TgateError('E_USAGE', `KServe client options out of range: timeoutMs ${this.timeoutMs}, retries ${this.retries}, backoffMs ${this.backoffMs}`);
    }
  }

  /** GET /v2/health/ready: true on 200, false on any other answer (Triton answers 400 while not ready). */
  async serverReady(): Promise<boolean> {
    return (await this.send('GET', '/v2/health/ready', 'the server readiness check')).status === 200;
  }

  async serverLive(): Promise<boolean> {
    return (await this.send('GET', '/v2/health/live', 'the server liveness check')).status === 200;
  }

  async serverMetadata(): Promise<ServerMetadata> {
    const j = await this.getJson('/v2', 'the server metadata');
    const ext = j.extensions;
    return {
      name: str(j.name) ?? '',
      version: str(j.version) ?? '',
      extensions: Array.isArray(ext) ? ext.filter((e): e is string => typeof e === 'string') : [],
    };
  }

  async modelReady(name: string, version?: string): Promise<boolean> {
    return (await this.send('GET', `${modelPath(name, version)}/ready`, `the readiness check of model ${name}`, { model: name })).status === 200;
  }

  async modelMetadata(name: string, version?: string): Promise<ModelMetadata> {
    const what = `the metadata of model ${name}`;
    const j = await this.getJson(modelPath(name, version), what, name);
    const specs = (key: 'inputs' | 'outputs'): TensorSpec[] => {
      const list = j[key] ?? [];
      if (!Array.isArray(list)) throw this.malformed(what, name, `"${key}" is not a list`);
      return list.map((t: unknown, i: number) => {
        const o = (t ?? {}) as Record<string, unknown>;
        const shape = Array.isArray(o.shape) ? o.shape.map(Number) : undefined;
        if (typeof o.name !== 'string' || typeof o.datatype !== 'string' || !shape || !shape.every((d) => Number.isSafeInteger(d) && d >= -1)) {
          throw this.malformed(what, name, `${key}[${i}] is not {name, datatype, shape}`);
        }
        return { name: o.name, datatype: o.datatype, shape };
      });
    };
    const versions = Array.isArray(j.versions) ? j.versions.map(String) : [];
    return { name: str(j.name) ?? name, versions, platform: str(j.platform) ?? '', inputs: specs('inputs'), outputs: specs('outputs') };
  }

  /** GET /v2/models/{name}[/versions/{v}]/config: the model configuration as JSON (Triton's extension). */
  async modelConfig(name: string, version?: string): Promise<Record<string, unknown>> {
    return this.getJson(`${modelPath(name, version)}/config`, `the configuration of model ${name}`, name);
  }

  /**
   * The model configuration, or null when the server does not have the extension (it answers 400
   * or 404 for a model whose metadata it serves). Any other failure is an error, not a "no".
   */
  async modelConfigIfServed(name: string, version?: string): Promise<Record<string, unknown> | null> {
    const what = `the configuration of model ${name}`;
    const res = await this.send('GET', `${modelPath(name, version)}/config`, what, { model: name });
    if (res.status === 400 || res.status === 404) return null;
    if (res.status !== 200) throw this.failed(what, name, res);
    return this.jsonObject(res, what, name);
  }

  /** POST .../infer with every input as binary data. */
  async infer(name: string, req: InferRequest): Promise<InferResult> {
    const t0 = performance.now();
    const what = `inference on model ${name}`;
    const parts: Uint8Array[] = [];
    const inputs = Object.entries(req.feeds).map(([input, t]) => {
      const bytes = tensorBytes(t, input);
      parts.push(bytes);
      return { name: input, shape: [...t.dims], datatype: datatypeOf(t.type, input), parameters: { binary_data_size: bytes.byteLength } };
    });
    const parameters: Record<string, unknown> = {};
    if (req.sequence) {
      const { id, start, end } = req.sequence;
      if (id <= 0n || id > UINT64_MAX) {
        throw new TgateError('E_USAGE', `sequence id ${id} is out of range: KServe sequence ids are uint64 and 0 means "no sequence"`);
      }
      // A JSON number of full uint64 precision (JSON.stringify would round a bigint through a double).
      parameters.sequence_id = SEQUENCE_ID_SLOT;
      if (start) parameters.sequence_start = true;
      if (end) parameters.sequence_end = true;
    }
    if (req.outputs.length === 0) parameters.binary_data_output = this.binaryOutputs;
    // Parameters first, so the id's placeholder is the first of its kind in the text whatever the tensor names.
    const body: Record<string, unknown> = Object.keys(parameters).length > 0 ? { parameters, inputs } : { inputs };
    if (req.outputs.length > 0) body.outputs = req.outputs.map((o) => ({ name: o, parameters: { binary_data: this.binaryOutputs } }));
    let json = JSON.stringify(body);
    if (req.sequence) json = json.replace(JSON.stringify(SEQUENCE_ID_SLOT), req.sequence.id.toString());
    const header = Buffer.from(json, 'utf8');
    const payload = Buffer.concat([header, ...parts]);
    const res = await this.send('POST', `${modelPath(name, req.version)}/infer`, what, {
      model: name,
      body: payload,
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.byteLength) },
      // A sequence's last request that did run ended the sequence: sent again after a reset
      // connection, Triton would refuse it (no such sequence). Only a refused connection is retried.
      ...(req.sequence?.end ? { refusedOnly: true } : {}),
    });
    if (res.status !== 200) throw this.failed(what, name, res);
    const outputs = this.parseInferResponse(res, what, name);
    for (const o of req.outputs) if (!outputs[o]) throw this.malformed(what, name, `the output ${o} asked for is missing`);
    return { outputs, bytesSent: payload.byteLength, bytesReceived: res.body.byteLength, ms: performance.now() - t0 };
  }

  private parseInferResponse(res: HttpAnswer, what: string, model: string): Record<string, ort.Tensor> {
    const body = res.body;
    const hlen = res.headers.get('inference-header-content-length');
    const jsonEnd = hlen === null ? body.byteLength : Number(hlen);
    if (!Number.isSafeInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.byteLength) {
      throw this.malformed(what, model, `Inference-Header-Content-Length ${hlen} does not fit the ${body.byteLength}-byte body`);
    }
    let j: unknown;
    try {
      j = JSON.parse(Buffer.from(body.buffer, body.byteOffset, jsonEnd).toString('utf8'));
    } catch (cause) {
      throw this.malformed(what, model, 'its JSON header does not parse', cause);
    }
    const list = (j as { outputs?: unknown } | null)?.outputs;
    if (!Array.isArray(list)) throw this.malformed(what, model, 'it has no "outputs" list');
    const out: Record<string, ort.Tensor> = {};
    let off = jsonEnd;
    for (const [i, raw] of list.entries()) {
      const o = (raw ?? {}) as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown; parameters?: Record<string, unknown> };
      const shape = Array.isArray(o.shape) ? o.shape.map(Number) : undefined;
      if (typeof o.name !== 'string' || typeof o.datatype !== 'string' || !shape)
        throw this.malformed(what, model, `outputs[${i}] is not {name, datatype, shape}`);
      try {
        const size = o.parameters?.binary_data_size;
        if (size !== undefined) {
          const n = Number(size);
          if (!Number.isSafeInteger(n) || n < 0 || off + n > body.byteLength) throw new Error(`binary_data_size ${String(size)} runs past the body's end`);
          out[o.name] = tensorFromBytes(o.datatype, shape, body.subarray(off, off + n), o.name);
          off += n;
        } else {
          out[o.name] = tensorFromJson(o.datatype, shape, o.data, o.name);
        }
      } catch (cause) {
        if (cause instanceof TgateError && cause.code === 'E_UNSUPPORTED_MODEL') throw cause;
        throw this.malformed(what, model, `output ${o.name}: ${(cause as Error).message}`, cause);
      }
    }
    if (off !== body.byteLength) throw this.malformed(what, model, `${body.byteLength - off} bytes follow the last output's binary data`);
    return out;
  }

  private async getJson(path: string, what: string, model?: string): Promise<Record<string, unknown>> {
    const res = await this.send('GET', path, what, { model });
    if (res.status !== 200) throw this.failed(what, model, res);
    return this.jsonObject(res, what, model);
  }

  private jsonObject(res: HttpAnswer, what: string, model: string | undefined): Record<string, unknown> {
    let j: unknown;
    try {
      j = JSON.parse(Buffer.from(res.body).toString('utf8'));
    } catch (cause) {
      throw this.malformed(what, model, 'it is not JSON', cause);
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw this.malformed(what, model, 'it is not a JSON object');
    return j as Record<string, unknown>;
  }

  /** One call with the retry policy of KServeOptions: GETs always, infer (POST) when `retryInfer`. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    opts: { model?: string | undefined; body?: Uint8Array<ArrayBuffer>; headers?: Record<string, string>; refusedOnly?: boolean } = {},
  ): Promise<HttpAnswer> {
    const url = `${this.url}${path}`;
    const idempotent = method === 'GET';
    const mayRetry = idempotent || this.retryInfer;
    for (let attempt = 0; ; attempt++) {
      const last = !mayRetry || attempt >= this.retries;
      const wait = () => sleep(Math.min(5000, this.backoffMs * 2 ** attempt));
      let res: Response;
      try {
        res = await fetch(url, { method, headers: opts.headers, body: opts.body, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (e) {
        const f = failureOf(e);
        const retryable = idempotent
          ? f.kind !== 'other'
          : f.code !== undefined && (opts.refusedOnly ? f.code === 'ECONNREFUSED' : INFER_RETRY_CODES.has(f.code));
        if (retryable && !last) {
          await wait();
          continue;
        }
        throw this.unreachable(url, what, f, attempt + 1, e);
      }
      let body: Uint8Array;
      try {
        body = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        // The answer broke off: for infer the server may have run the step, so only GETs re-ask.
        if (idempotent && !last) {
          await wait();
          continue;
        }
        throw this.unreachable(url, what, failureOf(e), attempt + 1, e);
      }
      if (RETRY_STATUS.has(res.status) && !last) {
        await wait();
        continue;
      }
      return { status: res.status, statusText: res.statusText, headers: res.headers, body, attempts: attempt + 1 };
    }
  }

  private unreachable(url: string, what: string, f: Failure, attempts: number, cause: unknown): TgateError {
    const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
    if (f.kind === 'timeout') {
      return new TgateError('E_REMOTE_UNREACHABLE', `no answer from ${url} within ${this.timeoutMs} ms for ${what}${tries}`, {
        hint: 'Check that the server is up and not overloaded (GET /v2/health/ready), or allow more time per request (tgate: --server-timeout S).',
        cause,
      });
    }
    if (f.code === 'ECONNRESET' || f.code === 'UND_ERR_SOCKET' || f.code === 'EPIPE') {
      return new TgateError('E_REMOTE_UNREACHABLE', `the KServe server at ${this.url} closed the connection before answering ${what}: ${f.reason}${tries}`, {
        hint: "Check the server's log (a crash, an out-of-memory kill, a restart) and the timeouts of any proxy or load balancer in between.",
        cause,
      });
    }
    if (/bad port/i.test(f.reason))
      return new TgateError(
        'E_REMOTE_UNREACHABLE',
        `cannot reach the KServe server at ${this.url}: Node's fetch refuses this port (it blocks the ports browsers block, such as 6000 and 10080)`,
        {
          hint: 'Serve on another port (Triton: --http-port, default 8000).',
          cause,
        },
      );
    return new TgateError('E_REMOTE_UNREACHABLE', `cannot reach the KServe server at ${this.url} for ${what}: ${f.reason}${tries}`, {
      hint: `Check that the server runs and listens at ${this.url} (tritonserver serves HTTP on port 8000 by default), that host and port are right, and that no firewall or proxy is in the way: ${this.url}/v2/health/ready should answer 200.`,
      cause,
    });
  }

  private failed(what: string, model: string | undefined, res: HttpAnswer): TgateError {
    const text = Buffer.from(res.body).toString('utf8');
    let error: string | undefined;
    try {
      error = str((JSON.parse(text) as { error?: unknown }).error);
    } catch {
      error = undefined;
    }
    const said = error ?? (text.length > 500 ? `${text.slice(0, 500)}...` : text);
    const tries = res.attempts > 1 ? ` after ${res.attempts} attempts` : '';
    return new TgateError('E_REMOTE_FAILED', `the server at ${this.url} refused ${what}: HTTP ${res.status}${tries}${said ? `: ${said}` : ''}`, {
      hint:
        res.status === 404 || res.status === 400
          ? `Check that the server serves the model${model ? ` ${model}` : ''} (GET ${this.url}/v2/models/${model ?? '<name>'}) and that it is the one exported for this compiled folder.`
          : 'Check the server log for the cause.',
    });
  }

  private malformed(what: string, model: string | undefined, why: string, cause?: unknown): TgateError {
    return new TgateError('E_REMOTE_FAILED', `the answer of the server at ${this.url} to ${what} is not a KServe v2 answer: ${why}`, {
      hint: `Check that ${this.url} is a KServe v2 server (Triton)${model ? ` serving ${model}` : ''}.`,
      cause,
    });
  }
}

interface HttpAnswer {
  status: number;
  statusText: string;
  headers: Headers;
  body: Uint8Array;
  attempts: number;
}

/**
 * A model on a KServe v2 server: reads its metadata (refusing a model the server does not have or
 * that is not ready) and returns it as an InferModel.
 */
export async function connectModel(url: string, name: string, opts: KServeOptions & { version?: string } = {}): Promise<RemoteModel> {
  const client = new KServeClient(url, opts);
  const meta = await client.modelMetadata(name, opts.version);
  if (!(await client.modelReady(name, opts.version))) {
    throw new TgateError('E_REMOTE_FAILED', `the server at ${client.url} has model ${name} but it is not ready`, {
      hint: 'Wait until the server has loaded the model (its log says when), or check the log for why loading failed.',
    });
  }
  let closed = false;
  return {
    name,
    url: client.url,
    version: opts.version,
    platform: meta.platform,
    inputs: meta.inputs,
    outputs: meta.outputs,
    config: () => client.modelConfigIfServed(name, opts.version),
    infer(feeds, outputs, sequence) {
      if (closed) return Promise.reject(new TgateError('E_INTERNAL', `model ${name} at ${client.url} was used after close()`));
      return client.infer(name, { feeds, outputs, ...(sequence ? { sequence } : {}), ...(opts.version !== undefined ? { version: opts.version } : {}) });
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
