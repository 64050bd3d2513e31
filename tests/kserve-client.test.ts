// The KServe v2 client against an in-process server that speaks the protocol (binary tensor,
// sequence and model configuration extensions) over real onnxruntime sessions: metadata, bit-exact
// round trips of FP32/FP16/BOOL/INT64, JSON answers, sequences equal to the in-process harness, byte
// counts equal to what crossed the wire, and every failure as a coded error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import { exitCodeFor } from '../cli/exit-codes.js';
import { toHalfBits } from '../ir/dtype.js';
import { ImplicitStateModel, type StateConfig } from '../runtime/remote/implicit-state.js';
import { connectModel, KServeClient, serverBaseUrl } from '../runtime/remote/kserve-client.js';
import { openTestModel, startKServeServer, type Fault, type KServeServer } from './helpers/kserve-server.js';
import { refusal } from './helpers/refusal.js';

const STATE: StateConfig = { input_name: 'INPUT_STATE', output_name: 'OUTPUT_STATE', data_type: 'TYPE_FP32', dims: [-1] };
const ACC_CONFIG = {
  name: 'accumulator',
  platform: 'onnxruntime_onnx',
  max_batch_size: 0,
  sequence_batching: { state: [STATE] },
  input: [{ name: 'INPUT', data_type: 'TYPE_FP32', dims: ['-1'] }],
  output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32', dims: ['-1'] }],
};
const f32 = (...v: number[]): ort.Tensor => new ort.Tensor('float32', Float32Array.from(v), [v.length]);
const seq = (id: bigint, start = false, end = false) => ({ id, start, end });
/** A tensor's type, dims and exact bytes. */
const bits = (t: ort.Tensor | undefined) => {
  const d = t!.data as ArrayBufferView;
  return { type: t!.type, dims: [...t!.dims], bytes: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex') };
};

/** By default with -0, a subnormal and an overflow to infinity in float16: the binary path carries every bit. */
function typesFeeds(flag: boolean, ids: bigint[], x = [0.1, -2.5, 65504, -0, 1e-7, 3.14159], w = [1 / 3, -1e-20, 7]): Record<string, ort.Tensor> {
  return {
    X: new ort.Tensor('float16', Uint16Array.from(x, toHalfBits), [2, 3]),
    FLAG: new ort.Tensor('bool', Uint8Array.from([flag ? 1 : 0]), []),
    IDS: new ort.Tensor('int64', BigInt64Array.from(ids), [ids.length]),
    W: new ort.Tensor('float32', Float32Array.from(w), [3]),
  };
}
const TYPES_OUT = ['Y16', 'Y32', 'NOT_FLAG', 'IDS2', 'PICKED'];

let server: KServeServer;
let faultFor: ((n: number, r: { method: string; path: string }) => Fault | undefined) | undefined;
let served: ImplicitStateModel[] = [];
let ref: ort.InferenceSession;

beforeAll(async () => {
  const acc = new ImplicitStateModel(await openTestModel('accumulator'), [STATE], { name: 'accumulator' });
  const types = new ImplicitStateModel(await openTestModel('types'), [], { name: 'types' });
  served = [acc, types];
  ref = await openTestModel('types');
  server = await startKServeServer({
    models: { accumulator: { model: acc, config: ACC_CONFIG }, types: { model: types, config: { name: 'types', max_batch_size: 0 } } },
    fault: (n, r) => faultFor?.(n, r),
  });
});
afterAll(async () => {
  await server.close();
  for (const m of served) await m.close();
  await ref.release();
});

/** Runs `f` with a fault plan keyed by request number from now on (1 = the next request). */
async function withFaults<T>(plan: (k: number, r: { method: string; path: string }) => Fault | undefined, f: () => Promise<T>): Promise<T> {
  const base = server.requests.length;
  faultFor = (n, r) => plan(n - base, r);
  try {
    return await f();
  } finally {
    faultFor = undefined;
  }
}

describe('KServe v2 client', () => {
  it('reads health, server metadata, model metadata and the model configuration', async () => {
    const c = new KServeClient(`${server.url}/`);
    expect(c.url).toBe(server.url);
    expect(await c.serverReady()).toBe(true);
    expect((await c.serverMetadata()).extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'sequence', 'model_configuration']));
    const m = await connectModel(server.url, 'types');
    expect(m.platform).toBe('onnxruntime_onnx');
    expect(m.inputs).toEqual([
      { name: 'X', datatype: 'FP16', shape: [2, 3] },
      { name: 'FLAG', datatype: 'BOOL', shape: [] },
      { name: 'IDS', datatype: 'INT64', shape: [-1] },
      { name: 'W', datatype: 'FP32', shape: [3] },
    ]);
    expect(m.outputs.map((o) => `${o.name}:${o.datatype}`)).toEqual(['Y16:FP16', 'Y32:FP32', 'NOT_FLAG:BOOL', 'IDS2:INT64', 'PICKED:FP32']);
    const acc = await connectModel(server.url, 'accumulator', { version: '1' });
    // The state input is the server's: not a model input in the metadata.
    expect(acc.inputs.map((i) => i.name)).toEqual(['INPUT']);
    expect(await acc.config()).toEqual(ACC_CONFIG);
  });

  it('round-trips FP16, FP32, BOOL and INT64 bit for bit as binary data, equal to running the session directly', async () => {
    const m = await connectModel(server.url, 'types');
    for (const flag of [true, false]) {
      const feeds = typesFeeds(flag, [0n, -1n, 2n ** 62n + 12345n, -(2n ** 40n)]);
      const direct = await ref.run(feeds);
      const r = await m.infer(feeds, TYPES_OUT);
      expect(Object.keys(r.outputs)).toEqual(TYPES_OUT);
      for (const o of TYPES_OUT) expect(bits(r.outputs[o])).toEqual(bits(direct[o]));
      // The If took the branch the bool scalar chose.
      if (flag) expect(bits(r.outputs.PICKED)).toEqual(bits(r.outputs.Y32));
      else expect(bits(r.outputs.PICKED)).not.toEqual(bits(r.outputs.Y32));
      expect(server.requests.at(-1)!.contentType).toBe('application/octet-stream');
    }
  });

  it('reads a JSON-only answer (outputs asked without binary_data), equal to the session', async () => {
    const m = await connectModel(server.url, 'types', { binaryOutputs: false });
    // JSON numbers carry every finite value exactly, but neither -0 nor infinity: finite values here.
    const feeds = typesFeeds(true, [5n, -(2n ** 51n)], [0.1, -2.5, 100, 0.25, 1e-7, 3.14159], [1 / 3, -2, 7]);
    const direct = await ref.run(feeds);
    const r = await m.infer(feeds, TYPES_OUT);
    expect(server.requests.at(-1)!.contentType).toBe('application/json');
    for (const o of TYPES_OUT) expect(bits(r.outputs[o])).toEqual(bits(direct[o]));
    expect(r.bytesReceived).toBe(server.requests.at(-1)!.bytesOut);
  });

  it('the server takes JSON-only requests and binary_data_output (what other clients send)', async () => {
    const body = JSON.stringify({
      id: 'r1',
      inputs: [
        {
          name: 'X',
          datatype: 'FP16',
          shape: [2, 3],
          data: [
            [1, 2, 3],
            [-1, 0.5, 2],
          ],
        },
        { name: 'FLAG', datatype: 'BOOL', shape: [], data: [false] },
        { name: 'IDS', datatype: 'INT64', shape: [2], data: [3, -4] },
        { name: 'W', datatype: 'FP32', shape: [3], data: [1, 1, 1] },
      ],
      outputs: [{ name: 'PICKED' }, { name: 'IDS2', parameters: { binary_data: true } }],
    });
    const res = await fetch(`${server.url}/v2/models/types/infer`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(200);
    const hlen = Number(res.headers.get('inference-header-content-length'));
    const all = Buffer.from(await res.arrayBuffer());
    const head = JSON.parse(all.subarray(0, hlen).toString()) as {
      id: string;
      outputs: { name: string; data?: number[]; parameters?: { binary_data_size: number } }[];
    };
    expect(head.id).toBe('r1');
    expect(head.outputs[0]).toEqual({ name: 'PICKED', datatype: 'FP32', shape: [2, 3], data: [-1, -2, -3, 1, -0.5, -2] });
    expect(head.outputs[1]!.parameters).toEqual({ binary_data_size: 16 });
    expect(Array.from(new BigInt64Array(Uint8Array.from(all.subarray(hlen)).buffer))).toEqual([6n, -8n]);
  });

  it('runs a sequence over HTTP exactly as the in-process harness does, with a full-width uint64 id', async () => {
    const m = await connectModel(server.url, 'accumulator');
    const direct = new ImplicitStateModel(await openTestModel('accumulator'), [STATE], { name: 'direct' });
    const id = 2n ** 64n - 2n;
    const steps = [f32(0.1, 0.2), f32(1e-3, -7), f32(1 / 3, 1e7), f32(-0.25, 0.5)];
    try {
      for (const [i, x] of steps.entries()) {
        const flags = seq(id, i === 0, i === steps.length - 1);
        const r = await m.infer({ INPUT: x }, ['OUTPUT', 'OUTPUT_STATE'], flags);
        const d = await direct.infer({ INPUT: x }, ['OUTPUT', 'OUTPUT_STATE'], flags);
        expect(bits(r.outputs.OUTPUT)).toEqual(bits(d.outputs.OUTPUT));
        expect(bits(r.outputs.OUTPUT_STATE)).toEqual(bits(d.outputs.OUTPUT_STATE));
        // The server saw the id at full precision (a double would have rounded it to 2^64).
        if (i < steps.length - 1) expect(served[0]!.activeSequences()).toEqual([id]);
        // Exactly the bytes that crossed the wire, as the server counted them.
        const seen = server.requests.at(-1)!;
        expect([r.bytesSent, r.bytesReceived]).toEqual([seen.bytesIn, seen.bytesOut]);
        expect(r.bytesSent).toBeGreaterThan(8);
      }
      expect(served[0]!.activeSequences()).toEqual([]);
    } finally {
      await direct.close();
    }
  });

  it('an unknown sequence, a bad input or an unknown model: E_REMOTE_FAILED with the server text, status and model', async () => {
    const m = await connectModel(server.url, 'accumulator');
    const e = await refusal(m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(77n)));
    expect(e.code).toBe('E_REMOTE_FAILED');
    expect(e.message).toMatch(/HTTP 400: model accumulator: inference request for sequence 77 must specify the START flag/);
    expect(e.message).toContain('inference on model accumulator');
    const wrong = await refusal(m.infer({ INPUT: new ort.Tensor('int32', Int32Array.from([1]), [1]) }, ['OUTPUT'], seq(78n, true)));
    expect(wrong.message).toMatch(/HTTP 400: inference input 'INPUT' data-type is 'INT32', but model 'accumulator' expects 'FP32'/);
    const missing = await refusal(connectModel(server.url, 'nope'));
    expect(missing.code).toBe('E_REMOTE_FAILED');
    expect(missing.message).toMatch(/HTTP 404: Request for unknown model: 'nope' is not found/);
    expect(exitCodeFor(missing.code)).toBe(8);
  });

  it('retries an infer answered 503 once, and one whose connection dropped before an answer (not a sequence end)', async () => {
    const m = await connectModel(server.url, 'accumulator', { backoffMs: 5 });
    const base = server.requests.length;
    const r = await withFaults(
      (k) => (k === 2 ? { status: 503 } : k === 4 ? 'drop' : undefined),
      async () => {
        const a = await m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(11n, true));
        const b = await m.infer({ INPUT: f32(2) }, ['OUTPUT'], seq(11n));
        const c = await m.infer({ INPUT: f32(3) }, ['OUTPUT'], seq(11n));
        const d = await m.infer({ INPUT: f32(4) }, ['OUTPUT'], seq(11n, false, true));
        return [a, b, c, d].map((x) => Array.from(x.outputs.OUTPUT!.data as Float32Array));
      },
    );
    expect(r).toEqual([[1], [3], [6], [10]]);
    expect(server.requests.slice(base).map((q) => q.status)).toEqual([200, 503, 200, 0, 200, 200]);
    // A sequence's last request that may have run is not sent again (Triton would have ended the sequence).
    const before = server.requests.length;
    const e = await withFaults(
      (k) => (k === 2 ? 'drop' : undefined),
      async () => {
        await m.infer({ INPUT: f32(1) }, ['OUTPUT'], seq(12n, true));
        return refusal(m.infer({ INPUT: f32(2) }, ['OUTPUT'], seq(12n, false, true)));
      },
    );
    expect(e.code).toBe('E_REMOTE_UNREACHABLE');
    expect(server.requests.slice(before).map((q) => q.status)).toEqual([200, 0]);
  });

  it('gives up with a coded error when retries run out, and does not retry infer when told not to', async () => {
    const m = await connectModel(server.url, 'types', { backoffMs: 1, retries: 2 });
    const feeds = typesFeeds(true, [1n]);
    const base = server.requests.length;
    const e = await withFaults(
      () => ({ status: 503, error: 'overloaded' }),
      () => refusal(m.infer(feeds, ['Y32'])),
    );
    expect(e.code).toBe('E_REMOTE_FAILED');
    expect(e.message).toMatch(/HTTP 503 after 3 attempts: overloaded/);
    expect(server.requests.length - base).toBe(3);

    const once = await connectModel(server.url, 'types', { backoffMs: 1, retryInfer: false });
    const before = server.requests.length;
    const e2 = await withFaults(
      (k) => (k === 1 ? 'drop' : undefined),
      () => refusal(once.infer(feeds, ['Y32'])),
    );
    expect(e2.code).toBe('E_REMOTE_UNREACHABLE');
    expect(e2.message).toMatch(/closed the connection before answering inference on model types/);
    expect(server.requests.length - before).toBe(1);
  });

  it('a timeout is E_REMOTE_UNREACHABLE and an infer is not re-sent after it; GETs are', async () => {
    const m = await connectModel(server.url, 'types', { timeoutMs: 150, backoffMs: 1 });
    const feeds = typesFeeds(true, [1n]);
    const before = server.requests.length;
    const t0 = Date.now();
    const e = await withFaults(
      () => ({ delayMs: 1000 }),
      () => refusal(m.infer(feeds, ['Y32'])),
    );
    expect(e.code).toBe('E_REMOTE_UNREACHABLE');
    expect(e.message).toMatch(/no answer from .* within 150 ms for inference on model types/);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(server.requests.length - before).toBe(1);
    const c = new KServeClient(server.url, { timeoutMs: 150, backoffMs: 1, retries: 1 });
    const ready = await withFaults(
      (k) => (k === 1 ? { delayMs: 1000 } : undefined),
      () => c.serverReady(),
    );
    expect(ready).toBe(true);
  });

  it('an unreachable server is E_REMOTE_UNREACHABLE quickly, naming the URL and what to check', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const t0 = Date.now();
    const e = await refusal(connectModel(`http://127.0.0.1:${port}`, 'types', { backoffMs: 10 }));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.code).toBe('E_REMOTE_UNREACHABLE');
    expect(e.message).toContain(`http://127.0.0.1:${port}`);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/3 attempts/);
    expect(e.hint).toMatch(/health\/ready should answer 200/);
    expect(exitCodeFor(e.code)).toBe(8);
  });

  it('accepts http(s) URLs with or without a trailing slash and refuses other schemes with E_USAGE', () => {
    expect(serverBaseUrl('http://triton:8000/')).toBe('http://triton:8000');
    expect(serverBaseUrl('https://example.com/kserve//')).toBe('https://example.com/kserve');
    for (const u of ['grpc://triton:8001', 'file:///tmp/x', 'triton:8000', 'not a url']) {
      let code: string | undefined;
      try {
        serverBaseUrl(u);
      } catch (e) {
        code = (e as TgateError).code;
      }
      expect([u, code]).toEqual([u, 'E_USAGE']);
    }
  });
});
