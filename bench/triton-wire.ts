// npm run bench:triton-wire: the bytes per image on the network for the Triton export (issue 15),
// stateful (the caches stay in the server as implicit state) against stateless (each step sends
// the caches it reads and receives the site outputs it stores, as the in-process sampler does).
// 1. Measured: sd15-struct-tiny compiled, exported, served over KServe v2 in process
//    (tests/helpers/triton-repo.ts + kserve-server.ts), GatedUNet against it: v1, v2, TGATE +
//    DeepCache N3, 25 steps, G 10, latent 64x64, batch 1; the HTTP bytes against
//    build/triton/wire-bytes.ts's count (tensor bytes and JSON headers, each to the byte).
// 2. Computed: SD-1.5 at 512 px from the real graph (../shared/models/sd15-full compiled without
//    its weights: a sparse stand-in data file), SD-XL at 1024 px from the published UNet config,
//    its site list made by the same rule that rebuilds sdxl-tiny's and SD-1.5's compiled lists.
// Prints markdown; writes only into a temp folder it removes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { compile } from '../build/compile.js';
import { readManifest, type Manifest } from '../build/manifest.js';
import { planSchedule, type PlannedStep, type ScheduleOptions } from '../build/schedule.js';
import { exportTriton } from '../build/triton/export.js';
import { cacheSizes, wireBytes, type WireModel, type WireWay } from '../build/triton/wire-bytes.js';
import { resolveSchedule, type TgateOptions } from '../runtime/gated-unet.js';
import { connectGatedUNet } from '../runtime/remote/connect-unet.js';
import type { InferModel, SequenceFlags } from '../runtime/remote/sequence-model.js';
import { startKServeServer } from '../tests/helpers/kserve-server.js';
import { ROOT, SHARED } from '../tests/helpers/paths.js';
import { serveRepository } from '../tests/helpers/triton-repo.js';

const STEPS = 25;
const GATE = 10;
const PLANS: [string, TgateOptions][] = [
  ['TGATE v1', { version: 1 }],
  ['TGATE v2', { version: 2 }],
  ['TGATE + DeepCache N3', { version: 1, deepcache: { interval: 3, branch: 0, schedule: 'uniform' } }],
];
const MiB = 2 ** 20;
const mib = (b: number) => `${(b / MiB).toFixed(2)} MiB`;
const both = (b: number) => `${b.toLocaleString('en-US')} (${mib(b)})`;

function markdown(headers: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]) => `| ${r.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A served model that counts the tensor bytes it is given and gives back, and remembers the sequence ids. */
function counting(inner: InferModel) {
  const seen = { tensorIn: 0, tensorOut: 0, ids: [] as bigint[] };
  const bytesOf = (t: ort.Tensor) => (t.data as ArrayBufferView).byteLength;
  const model: InferModel = {
    name: inner.name,
    inputs: inner.inputs,
    outputs: inner.outputs,
    async infer(feeds, outputs, sequence?: SequenceFlags) {
      for (const t of Object.values(feeds)) seen.tensorIn += bytesOf(t);
      if (sequence && !seen.ids.includes(sequence.id)) seen.ids.push(sequence.id);
      const r = await inner.infer(feeds, outputs, sequence);
      for (const o of outputs) seen.tensorOut += bytesOf(r.outputs[o]!);
      return r;
    },
    close: () => inner.close(),
  };
  return { model, seen };
}

async function measured(work: string): Promise<string> {
  const compiled = path.join(work, 'sd15s');
  const repo = path.join(work, 'repo');
  await compile(path.join(ROOT, 'fixtures/models/sd15-struct-tiny/model.onnx'), { outDir: compiled, prover: null });
  await exportTriton(compiled, { outDir: repo, force: false, name: 'sd15s', instances: { kind: 'KIND_CPU', count: 1 }, idleSeconds: 600, prover: null });
  // Memory patterns off: with them each new input shape costs a second slow call (a fresh block to fault in), 15-20 s here.
  const models = await serveRepository(repo, { threads: 0, optimization: 'extended', memPattern: false });
  const count = counting(models.sd15s!.model);
  models.sd15s!.model = count.model;
  const server = await startKServeServer({ models });
  const unet = await connectGatedUNet(compiled, server.url, 'sd15s');
  const manifest = readManifest(compiled);
  const rows: (string | number)[][] = [];
  const problems: string[] = [];
  try {
    for (const [name, tgate] of PLANS) {
      const seen0 = { ...count.seen, ids: count.seen.ids.length };
      const logged = server.requests.length;
      const latents = { data: Float32Array.from({ length: 4 * 64 * 64 }, (_, i) => Math.sin(i * 0.37)), dims: [1, 4, 64, 64] };
      const text = (s: number) => ({ encoder_hidden_states: { data: Float32Array.from({ length: 77 * 16 }, (_, i) => Math.cos(i * s)), dims: [1, 77, 16] } });
      const res = await unet.generate({ latents, cond: text(0.11), uncond: text(0.23), steps: STEPS, gateStep: GATE, tgate, guidance: 7.5, scheduler: 'ddim' });
      const plan = planSchedule(STEPS, res.cfg, res.schedule);
      if (plan.map((p) => p.variant).join() !== res.records.map((r) => r.variant).join()) problems.push(`${name}: the planned variants differ from the run's`);
      const infers = server.requests.slice(logged).filter((r) => r.path.endsWith('/infer'));
      const http = { sent: infers.reduce((a, r) => a + r.bytesIn, 0), received: infers.reduce((a, r) => a + r.bytesOut, 0) };
      const wire = res.wire!;
      if (wire.bytesSent !== http.sent || wire.bytesReceived !== http.received) problems.push(`${name}: the client's count differs from the server's`);
      const ids = count.seen.ids.slice(seen0.ids);
      if (ids.length !== 1) problems.push(`${name}: ${ids.length} sequences`);
      const tensors = { sent: count.seen.tensorIn - seen0.tensorIn, received: count.seen.tensorOut - seen0.tensorOut };
      const c = wireBytes(
        manifest,
        plan,
        { samples: 1, sizes: { height: 64, width: 64, sequence_length: 77 } },
        {
          modelName: 'sd15s',
          sequenceIdDigits: ids[0]!.toString().length,
        },
      );
      const s = c.stateful.total;
      const exact =
        s.tensorBytesSent === tensors.sent && s.tensorBytesReceived === tensors.received && s.bytesSent === http.sent && s.bytesReceived === http.received;
      if (!exact) problems.push(`${name}: computed ${JSON.stringify(s)} vs measured tensors ${JSON.stringify(tensors)}, HTTP ${JSON.stringify(http)}`);
      rows.push([
        name,
        `${wire.requests} / ${s.requests}`,
        `${http.sent.toLocaleString('en-US')} / ${s.bytesSent.toLocaleString('en-US')}`,
        `${tensors.sent.toLocaleString('en-US')} / ${s.tensorBytesSent.toLocaleString('en-US')}`,
        `${(http.sent - tensors.sent).toLocaleString('en-US')} / ${s.headerBytesSent.toLocaleString('en-US')}`,
        `${http.received.toLocaleString('en-US')} / ${s.bytesReceived.toLocaleString('en-US')}`,
        `${tensors.received.toLocaleString('en-US')} / ${s.tensorBytesReceived.toLocaleString('en-US')}`,
        `${(http.received - tensors.received).toLocaleString('en-US')} / ${s.headerBytesReceived.toLocaleString('en-US')}`,
        exact ? 'yes' : 'NO',
        `${both(c.stateless.total.bytesSent)} / ${both(c.stateless.total.bytesReceived)}`,
      ]);
    }
  } finally {
    await unet.release();
    await server.close();
  }
  const table = markdown(
    [
      'plan',
      'requests meas / comp',
      'sent: HTTP body meas / comp',
      'tensors',
      'JSON headers',
      'received: HTTP body meas / comp',
      'tensors',
      'JSON headers',
      'to the byte',
      'stateless (computed) sent / received',
    ],
    rows,
  );
  const sizes = cacheSizes(manifest, { samples: 1, sizes: { height: 64, width: 64, sequence_length: 77 } });
  if (problems.length) process.exitCode = 1;
  return [
    `## Measured: sd15-struct-tiny over KServe v2 (stateful), 25 steps, G ${GATE}, latent 64x64, batch 1, fp32`,
    '',
    table,
    '',
    `Cache sizes per sample: cross ${both(sizes.cross.bytesPerSample)} (${sizes.cross.sites} sites), self ${both(sizes.self.bytesPerSample)} (${sizes.self.sites}), deep ${both(sizes.deep.bytesPerSample)} (${sizes.deep.sites}).`,
    ...(problems.length ? ['', '**MISMATCH**:', ...problems.map((p) => `- ${p}`)] : []),
  ].join('\n');
}

// ---- Full-size models ----

/** The parts of a diffusers UNet2DConditionModel config that place its attention sites and the DeepCache cut. */
interface UNetConfig {
  block_out_channels: number[];
  down_block_types: string[];
  up_block_types: string[];
  layers_per_block: number;
  transformer_layers_per_block?: number | number[];
  cross_attention_dim: number;
  in_channels: number;
  out_channels: number;
  addition_time_embed_dim?: number | null;
  projection_class_embeddings_input_dim?: number | null;
}

const SDXL_BASE: UNetConfig = {
  // stabilityai/stable-diffusion-xl-base-1.0, unet/config.json
  block_out_channels: [320, 640, 1280],
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  layers_per_block: 2,
  transformer_layers_per_block: [1, 2, 10],
  cross_attention_dim: 2048,
  in_channels: 4,
  out_channels: 4,
  addition_time_embed_dim: 256,
  projection_class_embeddings_input_dim: 2816,
};

const SD15: UNetConfig = {
  // runwayml/stable-diffusion-v1-5, unet/config.json (a cross-check of the rule on the real graph)
  block_out_channels: [320, 640, 1280, 1280],
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 2,
  transformer_layers_per_block: 1,
  cross_attention_dim: 768,
  in_channels: 4,
  out_channels: 4,
};

type SiteSpec = WireModel['sites'][number] & { scope: string };

/**
 * The sites a diffusers UNet export gives tgate, in graph order (down, mid, up; attn1 then attn2 in
 * each transformer block), and DeepCache branch 0's cut (the last up block's layer 1, at the first
 * level's width): the rule that rebuilds sdxl-tiny's and SD-1.5's compiled site lists exactly.
 */
function unetSites(c: UNetConfig): SiteSpec[] {
  const n = c.block_out_channels.length;
  const depth = Array.isArray(c.transformer_layers_per_block) ? c.transformer_layers_per_block : Array(n).fill(c.transformer_layers_per_block ?? 1);
  const tokens = (level: number) => (level === 0 ? 'height*width' : `height/${2 ** level}*width/${2 ** level}`);
  const out: SiteSpec[] = [];
  let i = 0;
  const block = (scope: string, layers: number, d: number, level: number) => {
    for (let a = 0; a < layers; a++)
      for (let t = 0; t < d; t++) {
        for (const [kind, attn] of [
          ['self', 'attn1'],
          ['cross', 'attn2'],
        ] as const)
          out.push({
            id: `${kind}.${i}`,
            kind,
            cached: true,
            dtype: 'float32',
            shape: ['batch_size', tokens(level), c.block_out_channels[level]!],
            scope: `${scope}/attentions.${a}/transformer_blocks.${t}/${attn}`,
          });
        i++;
      }
  };
  c.down_block_types.forEach((type, b) => type.startsWith('CrossAttn') && block(`/down_blocks.${b}`, c.layers_per_block, depth[b]!, b));
  block('/mid_block', 1, depth[n - 1]!, n - 1);
  c.up_block_types.forEach((type, u) => type.startsWith('CrossAttn') && block(`/up_blocks.${u}`, c.layers_per_block + 1, depth[n - 1 - u]!, n - 1 - u));
  const last = c.up_block_types.length - 1;
  const layer = c.up_block_types[last]!.startsWith('CrossAttn') ? 'attentions.1' : 'resnets.1';
  out.push({
    id: 'deep.0',
    kind: 'deep',
    cached: true,
    dtype: 'float32',
    shape: ['batch_size', c.block_out_channels[0]!, 'height', 'width'],
    scope: `/up_blocks.${last}/${layer}`,
  });
  return out;
}

/** A config's model: inputs as the compiled `like` declares them (fixed widths from the config), its sites, and `like`'s variants carried over kind by kind. */
function modelFromConfig(c: UNetConfig, like: Manifest): WireModel {
  const width = (name: string, shape: readonly (string | number)[]) => {
    if (name === 'encoder_hidden_states') return [shape[0]!, shape[1]!, c.cross_attention_dim];
    if (name === 'text_embeds') return [shape[0]!, c.projection_class_embeddings_input_dim! - 6 * c.addition_time_embed_dim!];
    if (name === 'sample') return [shape[0]!, c.in_channels, shape[2]!, shape[3]!];
    if (name === 'out_sample') return [shape[0]!, c.out_channels, shape[2]!, shape[3]!];
    return [...shape];
  };
  const sites = unetSites(c);
  const variants = like.variants.map((v) => {
    const cuts: Record<string, 'input' | 'output'> = {};
    for (const kind of ['cross', 'self', 'deep'] as const) {
      const roles = new Set(like.sites.filter((s) => s.kind === kind && s.cached).map((s) => v.cuts[s.id]));
      // A variant of `like` must treat every site of a kind alike (absent: its network holds none, as the shallow ones).
      if (roles.size !== 1)
        throw new Error(`${like.source.file}: the ${v.name} variant treats ${kind} sites differently (${[...roles].join(', ')}); cannot carry it over`);
      const role = [...roles][0];
      if (role) for (const s of sites.filter((x) => x.kind === kind)) cuts[s.id] = role;
    }
    return { name: v.name, cuts, removedInputs: v.removedInputs };
  });
  return {
    source: {
      inputs: like.source.inputs.map((io) => ({ ...io, shape: width(io.name, io.shape) })),
      outputs: like.source.outputs.map((io) => ({ ...io, shape: width(io.name, io.shape) })),
    },
    sites,
    variants,
  };
}

/** The same model in another float type (an fp16 export: every float32 input, output and site in float16). */
function asFloat(m: WireModel, dtype: 'float16' | 'float32'): WireModel {
  const f = <T extends { dtype: string }>(x: T): T => (x.dtype === 'float32' || x.dtype === 'float16' ? { ...x, dtype } : x);
  return { source: { inputs: m.source.inputs.map(f), outputs: m.source.outputs.map(f) }, sites: m.sites.map(f), variants: m.variants };
}

/** Checks that the rule rebuilds a compiled site list: ids, kinds, scopes and shapes. */
function checkSites(what: string, rule: ReturnType<typeof unetSites>, compiled: Manifest): string {
  const key = (s: { id: string; kind: string; shape: readonly unknown[]; scope: string | null }) => `${s.id} ${s.kind} ${s.scope} ${JSON.stringify(s.shape)}`;
  const a = rule.map(key);
  const b = compiled.sites.filter((s) => s.cached).map(key);
  const diff = a.filter((x, i) => x !== b[i]);
  if (a.length !== b.length || diff.length)
    throw new Error(
      `${what}: the site rule does not rebuild the compiled list (${a.length} vs ${b.length}; first difference: ${diff[0]} vs ${b[a.indexOf(diff[0]!)]})`,
    );
  return `${what}: the rule rebuilds the compiled site list exactly (${b.length} sites incl. the deep cut).`;
}

function sameCuts(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const sorted = (x: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1)));
  return sorted(a) === sorted(b);
}

function planOf(m: Manifest, t: TgateOptions): PlannedStep[] {
  const schedule: ScheduleOptions = resolveSchedule(m, GATE, t);
  return planSchedule(STEPS, true, schedule);
}

async function computed(work: string): Promise<string> {
  const out: string[] = [];
  const models: { name: string; model: WireModel; like: Manifest; sizes: Record<string, number> }[] = [];
  // SD-1.5: the real graph, compiled without reading its weights (a sparse data file of the recorded size).
  const sd15Dir = path.join(SHARED, 'models/sd15-full');
  if (fs.existsSync(path.join(sd15Dir, 'model.onnx'))) {
    const src = path.join(work, 'sd15-full-src');
    fs.mkdirSync(src);
    fs.copyFileSync(path.join(sd15Dir, 'model.onnx'), path.join(src, 'model.onnx'));
    const spec = JSON.parse(fs.readFileSync(path.join(sd15Dir, 'weights.json'), 'utf8')) as { data_file: string; total_bytes: number };
    const fd = fs.openSync(path.join(src, spec.data_file), 'w');
    fs.ftruncateSync(fd, spec.total_bytes);
    fs.closeSync(fd);
    const m = (await compile(path.join(src, 'model.onnx'), { outDir: path.join(work, 'sd15-full'), prover: null })).manifest;
    out.push(`- ${checkSites('SD-1.5 (../shared/models/sd15-full, the real graph)', unetSites(SD15), m)} The table uses the compiled manifest itself.`);
    models.push({ name: 'SD-1.5 512 px', model: m, like: m, sizes: { height: 64, width: 64, sequence_length: 77 } });
  } else out.push(`- SKIPPED SD-1.5: ${sd15Dir} is absent.`);
  // SD-XL: no full graph here; its published config through the rule, checked on sdxl-tiny (same block layout, tiny widths).
  const tinyDir = path.join(SHARED, 'fixtures/sdxl-tiny');
  if (fs.existsSync(path.join(tinyDir, 'model.onnx'))) {
    const tiny = (await compile(path.join(tinyDir, 'model.onnx'), { outDir: path.join(work, 'sdxl-tiny'), prover: null })).manifest;
    const tinyConfig = JSON.parse(fs.readFileSync(path.join(tinyDir, 'metadata.json'), 'utf8')).config as UNetConfig;
    out.push(`- ${checkSites('sdxl-tiny (../shared/fixtures/sdxl-tiny)', unetSites(tinyConfig), tiny)}`);
    const again = modelFromConfig(tinyConfig, tiny);
    if (JSON.stringify(again.source) !== JSON.stringify({ inputs: tiny.source.inputs, outputs: tiny.source.outputs }))
      throw new Error('sdxl-tiny: the inputs from its config differ from the compiled ones');
    for (const v of tiny.variants)
      if (!sameCuts(again.variants.find((x) => x.name === v.name)!.cuts, v.cuts)) throw new Error(`sdxl-tiny: the ${v.name} variant does not carry over`);
    out.push(
      '- sdxl-tiny: its inputs and every variant (cuts, removed inputs) rebuilt from its config equal the compiled ones; SD-XL below is the published config through the same rule.',
    );
    const xl = modelFromConfig(SDXL_BASE, tiny);
    models.push({ name: 'SD-XL 1024 px', model: xl, like: tiny, sizes: { height: 128, width: 128, sequence_length: 77 } });
  } else out.push(`- SKIPPED SD-XL: ${tinyDir} is absent.`);

  const sizeRows: (string | number)[][] = [];
  const rows: (string | number)[][] = [];
  for (const { name, model, like, sizes } of models) {
    for (const dtype of ['float16', 'float32'] as const) {
      const m = asFloat(model, dtype);
      const dims = { samples: 1, sizes };
      const c = cacheSizes(m, dims);
      sizeRows.push([
        name,
        dtype,
        `${c.cross.sites}: ${both(c.cross.bytesPerSample)}`,
        `${c.self.sites}: ${both(c.self.bytesPerSample)}`,
        `${both(c.deep.bytesPerSample)}`,
      ]);
      for (const [plan, t] of PLANS) {
        const w = wireBytes(m, planOf(like, t), dims);
        const cell = (x: WireWay) => [both(x.total.bytesSent), both(x.total.bytesReceived)];
        const ratio = (w.stateless.total.bytesSent + w.stateless.total.bytesReceived) / (w.stateful.total.bytesSent + w.stateful.total.bytesReceived);
        rows.push([name, dtype, plan, w.stateful.total.requests, ...cell(w.stateful), ...cell(w.stateless), `${ratio.toFixed(1)}x`]);
      }
    }
  }
  return [
    `## Computed: full-size models, per image (batch 1, CFG, ${STEPS} steps, G ${GATE}, 77 text tokens)`,
    '',
    ...out,
    '',
    '### Cache sizes per sample (sites: bytes)',
    '',
    markdown(['model', 'dtype', 'cross', 'self', 'deep (DeepCache branch 0)'], sizeRows),
    '',
    '### Bytes per image on the wire (HTTP bodies: tensors + JSON headers)',
    '',
    markdown(
      ['model', 'dtype', 'plan', 'requests', 'stateful sent', 'stateful received', 'stateless sent', 'stateless received', 'stateless / stateful'],
      rows,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-triton-wire-'));
  const started = performance.now();
  try {
    const a = await measured(work);
    const split = performance.now();
    const b = await computed(work);
    console.log(
      [
        '# Triton export: bytes per image on the network, stateful vs stateless',
        '',
        "Stateful: the exported model keeps every cache as implicit state; a step sends the latents, the timestep, the text while the variant reads it (a one-token placeholder otherwise) and bool [1] flags, and receives the noise prediction. Stateless: a gated model over every variant on a server that keeps nothing; a step also sends the caches its variant reads (at the batch they were stored: cross after the CFG mean, B; self and deep as computed) with one-token placeholders for the others, and receives the site outputs it stores at the step batch (2B at the gate step, averaged by the client). JSON headers: as tgate's client writes requests and as the KServe v2 response object (model_name, model_version, outputs) is written; the sequence id counted at 19 digits.",
        '',
        a,
        '',
        b,
        '',
        `(${((performance.now() - started) / 1000).toFixed(1)} s: measured ${((split - started) / 1000).toFixed(1)} s, computed ${((performance.now() - split) / 1000).toFixed(1)} s)`,
      ].join('\n'),
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
