// tgate export triton, end to end on the project's SD-1.5-structure fixture (cross, self and a
// DeepCache cut): the repository's tree and configs (read strictly against the official
// model_config.proto), the stateful model run under Triton's implicit-state semantics equal to the
// in-process run bit for bit (v1, v2, DeepCache, TGATE + DeepCache), and `tgate run --server`
// against an in-process KServe v2 server equal to `tgate run` bit for bit, with the bytes on the
// wire counted; a server model from another compile is refused by name.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { GatedUNet, type GenerateOptions, type TgateOptions } from '../runtime/gated-unet.js';
import { ImplicitStateModel } from '../runtime/remote/implicit-state.js';
import { openSession } from '../runtime/session.js';
import { proveArtifacts } from '../runtime/prove.js';
import { tgate, tgateAsync } from './helpers/cli.js';
import { startKServeServer, type KServeServer } from './helpers/kserve-server.js';
import { parseModelConfig } from './helpers/pbtxt.js';
import { ROOT, scratch } from './helpers/paths.js';
import { serveRepository } from './helpers/triton-repo.js';
import { pipelineAvailable, pipelineFolder } from './helpers/pipeline-fixture.js';

const SD15 = path.join(ROOT, 'fixtures/models/sd15-struct-tiny/model.onnx');

describe('tgate export triton (sd15-struct-tiny)', () => {
  const work = scratch('tgate-triton-');
  const compiled = path.join(work, 'sd15s');
  const repo = path.join(work, 'repo');
  let server: KServeServer | null = null;

  beforeAll(async () => {
    await compile(SD15, { outDir: compiled, prover: (r) => proveArtifacts(r) });
    const r = tgate(['export', 'triton', compiled, '-o', repo, '--name', 'sd15s', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('writes a Triton repository: config, the model folder with its weights linked, the export record', () => {
    const files: string[] = [];
    const walk = (d: string, rel = '') => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1)))
        e.isDirectory() ? walk(path.join(d, e.name), `${rel}${e.name}/`) : files.push(`${rel}${e.name}`);
    };
    walk(repo);
    expect(files).toEqual(['sd15s/1/model.onnx/model.onnx', 'sd15s/1/model.onnx/weights.onnx_data', 'sd15s/config.pbtxt', 'tgate-triton.json']);
    // The weights are the compiled folder's file, linked, not a copy.
    expect(fs.statSync(path.join(repo, 'sd15s/1/model.onnx/weights.onnx_data')).ino).toBe(fs.statSync(path.join(compiled, 'weights.onnx_data')).ino);
    const record = JSON.parse(fs.readFileSync(path.join(repo, 'tgate-triton.json'), 'utf8'));
    expect(record.models).toEqual([{ role: 'unet', name: 'sd15s', stateful: true }]);
  });

  it('config.pbtxt parses strictly as inference.ModelConfig: one implicit state per cached site, flags, no batching', () => {
    const config = parseModelConfig(fs.readFileSync(path.join(repo, 'sd15s/config.pbtxt'), 'utf8')) as any;
    const manifest = JSON.parse(fs.readFileSync(path.join(compiled, 'tgate.json'), 'utf8'));
    const cached = manifest.sites.filter((s: any) => s.cached);
    expect(config.name).toBe('sd15s');
    expect(config.backend).toBe('onnxruntime');
    expect(config.max_batch_size ?? 0).toBe(0);
    expect(config.sequence_batching.state.map((s: any) => s.input_name)).toEqual(cached.map((s: any) => `tgate.state.${s.id}`));
    for (const s of config.sequence_batching.state) {
      expect(s.dims.every((d: number) => d === -1)).toBe(true);
      expect(s.initial_state[0]).toMatchObject({ zero_data: true, dims: s.dims.map(() => 1) });
    }
    const timestep = config.input.find((i: any) => i.name === 'timestep');
    expect(timestep).toMatchObject({ data_type: 'TYPE_FP32', dims: [1], reshape: {} });
    expect(config.input.filter((i: any) => i.data_type === 'TYPE_BOOL').map((i: any) => i.name)).toEqual([
      ...manifest.variants.map((v: any) => `tgate.run.${v.name}`),
      'tgate.keep.cross',
      'tgate.keep.self',
      'tgate.keep.deep',
      'tgate.pair_mean',
    ]);
    expect(config.output.map((o: any) => o.name)).toEqual(['out_sample']);
  });

  it('is byte-identical when exported again', () => {
    const again = path.join(work, 'repo-again');
    expect(tgate(['export', 'triton', compiled, '-o', again, '--name', 'sd15s', '--no-verify']).status).toBe(0);
    for (const f of ['sd15s/config.pbtxt', 'sd15s/1/model.onnx/model.onnx', 'tgate-triton.json'])
      expect(Buffer.compare(fs.readFileSync(path.join(repo, f)), fs.readFileSync(path.join(again, f)))).toBe(0);
  });

  it('under implicit state the exported model reproduces the in-process run bit for bit: v1, v2, DeepCache, TGATE + DeepCache', async () => {
    const config = parseModelConfig(fs.readFileSync(path.join(repo, 'sd15s/config.pbtxt'), 'utf8')) as any;
    const exact = { threads: 1, optimization: 'extended' as const, prepacking: false };
    const stateful = ImplicitStateModel.fromConfig(await openSession(path.join(repo, 'sd15s/1/model.onnx/model.onnx'), exact), config);
    const remote = GatedUNet.remote(compiled, stateful);
    const local = await GatedUNet.load(compiled, { ...exact, sessions: 'separate', variants: remote.opened });
    try {
      const latents = { data: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), dims: [1, 4, 8, 8] };
      const text = (s: number) => ({ encoder_hidden_states: { data: Float32Array.from({ length: 77 * 16 }, (_, i) => Math.cos(i * s)), dims: [1, 77, 16] } });
      const dc = (interval: number): TgateOptions['deepcache'] => ({ interval, branch: 0, schedule: 'uniform' });
      const cases: [string, number, TgateOptions, string][] = [
        ['v1', 4, { version: 1 }, 'planning planning planning planning fidelity fidelity fidelity fidelity fidelity fidelity'],
        ['v2', 5, { version: 2, spInterval: 2, warmUp: 1, fiInterval: 2 }, ''],
        ['deepcache N3', 10, { version: 1, deepcache: dc(3) }, ''],
        ['tgate + deepcache N3', 5, { version: 1, deepcache: dc(3) }, ''],
      ];
      for (const [name, gateStep, t, plan] of cases) {
        const o: GenerateOptions = {
          latents,
          cond: text(0.11),
          uncond: text(0.23),
          steps: 10,
          gateStep,
          tgate: t,
          guidance: 7.5,
          scheduler: 'ddim',
          keepTrajectory: true,
        };
        const a = await local.generate(o);
        const b = await remote.generate(o);
        if (plan) expect(a.records.map((r) => r.variant).join(' ')).toBe(plan);
        expect(b.records.map((r) => r.variant)).toEqual(a.records.map((r) => r.variant));
        a.trajectory.forEach((x, k) =>
          expect({ name, k, same: Buffer.compare(Buffer.from(x.buffer), Buffer.from(b.trajectory[k]!.buffer)) === 0 }).toEqual({ name, k, same: true }),
        );
        // Ten requests, the caches never sent: only latents, timestep, text while it is read, and flags.
        expect(b.wire!.requests).toBe(10);
        expect(a.wire).toBeNull();
      }
    } finally {
      await local.release();
      await remote.release();
    }
  });

  it('tgate run --server runs the steps on a KServe v2 server: the same latents as tgate run, bit for bit', async () => {
    server = await startKServeServer({ models: await serveRepository(repo) });
    const args = ['--steps', '8', '--gate-step', '4', '--height', '64', '--width', '64', '--seed', '3'];
    const local = await tgateAsync(['run', compiled, ...args, '-o', path.join(work, 'local.npy'), '--json']);
    expect(local.status).toBe(0);
    const remote = await tgateAsync(['run', compiled, ...args, '-o', path.join(work, 'remote.npy'), '--server', server.url, '--model', 'sd15s', '--json']);
    expect(remote.stderr).not.toMatch(/error/);
    expect(remote.status).toBe(0);
    expect(Buffer.compare(fs.readFileSync(path.join(work, 'local.npy')), fs.readFileSync(path.join(work, 'remote.npy')))).toBe(0);
    const summary = JSON.parse(remote.stdout);
    const infers = server.requests.filter((r) => r.path.endsWith('/infer'));
    expect(infers).toHaveLength(8);
    // What the client counted is what crossed the wire, request and answer bodies.
    expect(summary.wire).toEqual({
      requests: 8,
      bytesSent: infers.reduce((a, r) => a + r.bytesIn, 0),
      bytesReceived: infers.reduce((a, r) => a + r.bytesOut, 0),
    });
  });

  it('refuses a server model exported from another compile, by name (exit 8)', async () => {
    const other = path.join(work, 'sd15s-cross');
    await compile(SD15, { outDir: other, prover: null, sites: { kinds: 'cross', include: [], exclude: [] } });
    const r = await tgateAsync(['run', other, '--steps', '4', '--height', '64', '--width', '64', '--server', server!.url, '--model', 'sd15s']);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/E_REMOTE_MODEL_MISMATCH/);
    expect(r.stderr).toMatch(/sd15s/);
    const missing = await tgateAsync(['run', compiled, '--steps', '4', '--height', '64', '--width', '64', '--server', server!.url, '--model', 'nosuch']);
    expect(missing.status).toBe(8);
    expect(missing.stderr).toMatch(/nosuch/);
  });
});

(pipelineAvailable('tgate export triton of a pipeline') ? describe : describe.skip)('tgate export triton (sd15-pipeline-tiny)', () => {
  const work = scratch('tgate-triton-pipe-');
  const compiled = path.join(work, 'sd15p');
  const repo = path.join(work, 'repo');
  let server: KServeServer | null = null;

  beforeAll(async () => {
    await compile(pipelineFolder(), { outDir: compiled, prover: null });
    const r = tgate(['export', 'triton', compiled, '-o', repo, '--name', 'sd15']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    server = await startKServeServer({ models: await serveRepository(repo) });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('writes the stateful UNet and the text encoder and VAE decoder as plain models, named in the UNet config', () => {
    expect(fs.readdirSync(repo).sort()).toEqual(['sd15', 'sd15_text_encoder', 'sd15_vae_decoder', 'tgate-triton.json']);
    const unet = parseModelConfig(fs.readFileSync(path.join(repo, 'sd15/config.pbtxt'), 'utf8')) as any;
    expect(unet.parameters['tgate.text_encoder'].string_value).toBe('sd15_text_encoder');
    expect(unet.parameters['tgate.vae_decoder'].string_value).toBe('sd15_vae_decoder');
    const text = parseModelConfig(fs.readFileSync(path.join(repo, 'sd15_text_encoder/config.pbtxt'), 'utf8')) as any;
    expect(text.sequence_batching).toBeUndefined();
    expect(text.input).toEqual([{ name: 'input_ids', data_type: 'TYPE_INT64', dims: [-1, -1] }]);
    // The component models are the compiled folder's files, linked.
    expect(fs.statSync(path.join(repo, 'sd15_vae_decoder/1/model.onnx/model.onnx')).ino).toBe(fs.statSync(path.join(compiled, 'vae_decoder/model.onnx')).ino);
  });

  it('tgate generate --server: the same PNG as in process, with the text encoder, the UNet steps and the VAE on the server', async () => {
    const args = ['--prompt', 'a red cube', '--steps', '6', '--gate-step', '3', '--height', '64', '--width', '64', '--seed', '7'];
    const local = await tgateAsync(['generate', compiled, ...args, '-o', path.join(work, 'local.png')]);
    expect(local.status).toBe(0);
    const before = server!.requests.length;
    const remote = await tgateAsync(['generate', compiled, ...args, '-o', path.join(work, 'remote.png'), '--server', server!.url, '--model', 'sd15', '--json']);
    expect(remote.status).toBe(0);
    expect(Buffer.compare(fs.readFileSync(path.join(work, 'local.png')), fs.readFileSync(path.join(work, 'remote.png')))).toBe(0);
    const infers = server!.requests.slice(before).filter((r) => r.path.endsWith('/infer'));
    // Two text encodings (prompt and the empty negative), one request per UNet evaluation (the
    // folder's PNDM evaluates 7 times for 6 steps), one decode.
    const summary = JSON.parse(remote.stdout);
    expect(summary.evaluations).toBe(7);
    expect(infers.map((r) => r.path.split('/')[3])).toEqual(['sd15_text_encoder', 'sd15_text_encoder', ...Array(7).fill('sd15'), 'sd15_vae_decoder']);
    expect(summary.wire.requests).toBe(7);
    // A client needs no model files: the files the README lists are enough, for the same PNG.
    const thin = path.join(work, 'thin');
    for (const f of ['tgate.json', 'model_index.json', 'unet/config.json', 'vae_decoder/config.json', 'scheduler/scheduler_config.json', 'tokenizer']) {
      fs.mkdirSync(path.dirname(path.join(thin, f)), { recursive: true });
      fs.cpSync(path.join(compiled, f), path.join(thin, f), { recursive: true });
    }
    const client = await tgateAsync(['generate', thin, ...args, '-o', path.join(work, 'thin.png'), '--server', server!.url, '--model', 'sd15']);
    expect(client.stderr).toBe('');
    expect(Buffer.compare(fs.readFileSync(path.join(work, 'local.png')), fs.readFileSync(path.join(work, 'thin.png')))).toBe(0);
  });
});
