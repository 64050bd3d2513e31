// build/triton/wire-bytes.ts against real runs of sd15-struct-tiny (cross, self and a DeepCache
// cut): stateful, its count equals, to the byte, what crossed HTTP to the in-process KServe v2
// server serving the exported repository (tensor bytes seen by the server, JSON headers the rest);
// stateless, its count equals the tensors the in-process sampler feeds its gated session and
// fetches from it (the same model, with nothing kept by the model).
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { compile } from '../build/compile.js';
import { readManifest } from '../build/manifest.js';
import { planSchedule } from '../build/schedule.js';
import { exportTriton } from '../build/triton/export.js';
import { wireBytes } from '../build/triton/wire-bytes.js';
import { GatedUNet, variantsFor, type GenerateOptions, type TgateOptions } from '../runtime/gated-unet.js';
import { connectGatedUNet } from '../runtime/remote/connect-unet.js';
import type { InferModel } from '../runtime/remote/sequence-model.js';
import { startKServeServer, type KServeServer } from './helpers/kserve-server.js';
import { ROOT, scratch } from './helpers/paths.js';
import { serveRepository } from './helpers/triton-repo.js';

const SD15 = path.join(ROOT, 'fixtures/models/sd15-struct-tiny/model.onnx');
const bytesOf = (t: ort.Tensor) => (t.data as ArrayBufferView).byteLength;
const sum = (ts: Iterable<ort.Tensor>) => [...ts].reduce((a, t) => a + bytesOf(t), 0);

const CASES: [string, TgateOptions][] = [
  ['v2 with self reuse before and after the gate', { version: 2, spInterval: 2, warmUp: 1, fiInterval: 2 }],
  ['TGATE + DeepCache N3', { version: 1, deepcache: { interval: 3, branch: 0, schedule: 'uniform' } }],
];
const STEPS = 10;
const GATE = 5;
const DIMS = { samples: 1, sizes: { height: 8, width: 8, sequence_length: 77 } };

function request(tgate: TgateOptions): GenerateOptions {
  const text = (s: number) => ({ encoder_hidden_states: { data: Float32Array.from({ length: 77 * 16 }, (_, i) => Math.cos(i * s)), dims: [1, 77, 16] } });
  const latents = { data: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), dims: [1, 4, 8, 8] };
  return { latents, cond: text(0.11), uncond: text(0.23), steps: STEPS, gateStep: GATE, tgate, guidance: 7.5, scheduler: 'ddim' };
}

describe('bytes on the wire of the Triton export (sd15-struct-tiny)', () => {
  const work = scratch('tgate-triton-wire-');
  const compiled = path.join(work, 'sd15s');
  let server: KServeServer;
  const seen = { tensorIn: 0, tensorOut: 0, ids: [] as bigint[] };

  beforeAll(async () => {
    await compile(SD15, { outDir: compiled, prover: null });
    const repo = path.join(work, 'repo');
    await exportTriton(compiled, { outDir: repo, force: false, name: 'sd15s', instances: { kind: 'KIND_CPU', count: 1 }, idleSeconds: 60, prover: null });
    const models = await serveRepository(repo);
    const inner = models.sd15s!.model;
    // What the server is given and gives back, tensor by tensor.
    const counting: InferModel = {
      name: inner.name,
      inputs: inner.inputs,
      outputs: inner.outputs,
      async infer(feeds, outputs, sequence) {
        seen.tensorIn += sum(Object.values(feeds));
        if (sequence && !seen.ids.includes(sequence.id)) seen.ids.push(sequence.id);
        const r = await inner.infer(feeds, outputs, sequence);
        seen.tensorOut += sum(outputs.map((o) => r.outputs[o]!));
        return r;
      },
      close: () => inner.close(),
    };
    models.sd15s!.model = counting;
    server = await startKServeServer({ models });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it.each(CASES)('stateful, %s: the count is the HTTP bodies to the byte, tensors and JSON headers apart', async (_name, tgate) => {
    const unet = await connectGatedUNet(compiled, server.url, 'sd15s');
    try {
      const before = { in: seen.tensorIn, out: seen.tensorOut, ids: seen.ids.length, logged: server.requests.length };
      const res = await unet.generate(request(tgate));
      const infers = server.requests.slice(before.logged).filter((r) => r.path.endsWith('/infer'));
      const http = { sent: infers.reduce((a, r) => a + r.bytesIn, 0), received: infers.reduce((a, r) => a + r.bytesOut, 0) };
      expect(res.wire).toEqual({ requests: STEPS, bytesSent: http.sent, bytesReceived: http.received });
      const ids = seen.ids.slice(before.ids);
      expect(ids).toHaveLength(1);
      const plan = planSchedule(STEPS, res.cfg, res.schedule);
      expect(plan.map((p) => p.variant)).toEqual(res.records.map((r) => r.variant));
      const c = wireBytes(readManifest(compiled), plan, DIMS, { modelName: 'sd15s', sequenceIdDigits: ids[0]!.toString().length }).stateful.total;
      expect(c).toEqual({
        requests: STEPS,
        tensorBytesSent: seen.tensorIn - before.in,
        tensorBytesReceived: seen.tensorOut - before.out,
        headerBytesSent: http.sent - (seen.tensorIn - before.in),
        headerBytesReceived: http.received - (seen.tensorOut - before.out),
        bytesSent: http.sent,
        bytesReceived: http.received,
      });
    } finally {
      await unet.release();
    }
  });

  it.each(CASES)('stateless, %s: the count is what the in-process sampler feeds and fetches, step by step', async (_name, tgate) => {
    const manifest = readManifest(compiled);
    const unet = await GatedUNet.load(compiled, { variants: variantsFor(manifest, STEPS, GATE, tgate) });
    try {
      const s = unet.runner.sessions;
      if (s.kind !== 'gated') throw new Error('expected one gated session');
      const steps: { sent: number; received: number }[] = [];
      const run = s.session.run.bind(s.session);
      s.session.run = (async (feeds: Record<string, ort.Tensor>, fetches: string[]) => {
        const r = await run(feeds, fetches);
        steps.push({ sent: sum(Object.values(feeds)), received: sum(fetches.map((f) => r[f]!)) });
        return r;
      }) as typeof s.session.run;
      const res = await unet.generate(request(tgate));
      const plan = planSchedule(STEPS, res.cfg, res.schedule);
      const c = wireBytes(manifest, plan, DIMS, { statelessVariants: s.model.variants.map((v) => v.name) }).stateless;
      expect(c.steps.map((x) => ({ sent: x.tensorBytesSent, received: x.tensorBytesReceived }))).toEqual(steps);
      // The caches do cross: more than the stateful way sends, at the gate and after.
      expect(c.total.tensorBytesSent).toBeGreaterThan(wireBytes(manifest, plan, DIMS).stateful.total.tensorBytesSent);
    } finally {
      await unet.release();
    }
  });
});
