// npm run bench:pipeline [-- --runs 3] [--no-small]: end-to-end text-to-image time per stage
// (tokenize, text encode, denoise phases, decode) for baseline, TGATE v1 and v2, median of N runs
// in one process after a warm-up:
// - the shared SD-1.x pipeline fixture (sd15-pipeline-tiny) at its native 256x256 px;
// - ../shared/models/sd15-small (SD-1.5's UNet structure at quarter width, weights synthesized)
//   wired as a pipeline: the fixture's tokenizer, scheduler and VAE, and a stand-in text encoder
//   (token embedding + two 768x768 linear layers, because the UNet reads 768-d text states), at
//   256x256 px (32x32 latents). The UNet is what TGATE changes; the stand-ins are named in the output.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compile } from '../build/compile.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { GatedPipeline, type PipelineGenerateOptions, type PipelineResult } from '../runtime/pipeline/gated-pipeline.js';
import { SeededRandom } from '../runtime/random.js';
import { table } from '../cli/format.js';
import { median } from '../cli/stats.js';
import { pipelineAvailable, pipelineFolder } from '../tests/helpers/pipeline-fixture.js';
import { SHARED } from '../tests/helpers/paths.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'no-small': { type: 'boolean' }, json: { type: 'boolean' } } });
const runs = Number(values.runs);
const PROMPT = 'a photo of an astronaut riding a horse on mars';

function link(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

/** A CLIP-shaped stand-in: input_ids [b, s] int64 -> last_hidden_state [b, s, 768]. */
function standInTextEncoder(file: string): void {
  const r = new SeededRandom(11);
  const w = (n: number, s: number) => Float32Array.from({ length: n }, () => r.normal() * s);
  fs.writeFileSync(
    file,
    encodeModelSpec({
      opset: 14,
      inputs: [{ name: 'input_ids', dtype: 7, shape: ['batch_size', 'sequence_length'] }],
      outputs: [{ name: 'last_hidden_state', dtype: 1, shape: ['batch_size', 'sequence_length', 768] }],
      initializers: [
        { name: 'embed', dtype: 1, dims: [1514, 768], values: w(1514 * 768, 0.5) },
        { name: 'w1', dtype: 1, dims: [768, 768], values: w(768 * 768, 0.036) },
        { name: 'w2', dtype: 1, dims: [768, 768], values: w(768 * 768, 0.036) },
      ],
      nodes: [
        { op: 'Gather', inputs: ['embed', 'input_ids'], outputs: ['h0'] },
        { op: 'MatMul', inputs: ['h0', 'w1'], outputs: ['h1'] },
        { op: 'Tanh', inputs: ['h1'], outputs: ['h2'] },
        { op: 'MatMul', inputs: ['h2', 'w2'], outputs: ['last_hidden_state'] },
      ],
    }),
  );
}

function sd15SmallPipeline(fixture: string): string | null {
  const graph = path.join(SHARED, 'models/sd15-small');
  if (!fs.existsSync(graph)) return null;
  const weights = path.join(os.tmpdir(), 'tgate-bench-models', 'sd15-small');
  if (!fs.existsSync(path.join(weights, 'model.onnx_data'))) {
    process.stderr.write(`synthesizing sd15-small weights into ${weights} ...\n`);
    execFileSync('node', [path.join(SHARED, 'tools/synth-weights.mjs'), graph, '--out', weights], { stdio: 'inherit' });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-bench-sd15-small-pipeline-'));
  for (const f of ['model_index.json', 'scheduler/scheduler_config.json', 'vae_decoder/model.onnx', 'vae_decoder/config.json'])
    link(path.join(fixture, f), path.join(dir, f));
  for (const f of fs.readdirSync(path.join(fixture, 'tokenizer'))) link(path.join(fixture, 'tokenizer', f), path.join(dir, 'tokenizer', f));
  for (const f of ['model.onnx', 'model.onnx_data']) link(path.join(weights, f), path.join(dir, 'unet', f));
  fs.mkdirSync(path.join(dir, 'text_encoder'));
  standInTextEncoder(path.join(dir, 'text_encoder/model.onnx'));
  return dir;
}

type Mode = 'baseline' | 'v1' | 'v2';
const MODES: Record<Mode, Partial<PipelineGenerateOptions>> = {
  baseline: { baseline: true },
  v1: { gateStep: 10, tgate: { version: 1 } },
  v2: { gateStep: 10, tgate: { version: 2 } },
};

async function bench(name: string, source: string, size: number) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-bench-pipeline-'));
  try {
    const t0 = performance.now();
    await compile(source, { outDir: path.join(out, 'c'), prover: null });
    const compileMs = performance.now() - t0;
    const pipe = await GatedPipeline.load(path.join(out, 'c'));
    try {
      const request = (m: Mode): PipelineGenerateOptions => ({ prompt: PROMPT, seed: 42, steps: 25, height: size, width: size, ...MODES[m] });
      for (const m of Object.keys(MODES) as Mode[]) await pipe.generate(request(m));
      const results: Record<Mode, PipelineResult[]> = { baseline: [], v1: [], v2: [] };
      for (let i = 0; i < runs; i++) for (const m of Object.keys(MODES) as Mode[]) results[m].push(await pipe.generate(request(m)));
      const med = (m: Mode, f: (r: PipelineResult) => number) => median(results[m].map(f));
      const rows = (Object.keys(MODES) as Mode[]).map((m) => {
        const total = med(m, (r) => r.timings.totalMs);
        return [
          m,
          med(m, (r) => r.timings.tokenizeMs).toFixed(1),
          med(m, (r) => r.timings.textEncodeMs).toFixed(1),
          med(m, (r) => r.timings.denoise.planningMs + r.timings.denoise.gateMs).toFixed(0),
          med(m, (r) => r.timings.denoise.fidelityMs).toFixed(0),
          med(m, (r) => r.timings.denoise.totalMs).toFixed(0),
          med(m, (r) => r.timings.decodeMs).toFixed(1),
          total.toFixed(0),
          m === 'baseline' ? '1' : `${(med('baseline', (r) => r.timings.totalMs) / total).toFixed(2)}x`,
        ];
      });
      return { name, size, compileMs, rows };
    } finally {
      await pipe.release();
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

if (!pipelineAvailable('bench:pipeline')) process.exit(0);
const fixture = pipelineFolder();
const results = [await bench('sd15-pipeline-tiny (fixture)', fixture, 256)];
const small = values['no-small'] ? null : sd15SmallPipeline(fixture);
if (small) {
  try {
    results.push(await bench('sd15-small UNet (stand-in text encoder, tiny VAE)', small, 256));
  } finally {
    fs.rmSync(small, { recursive: true, force: true });
  }
}
const headers = ['mode', 'tokenize ms', 'text encode ms', 'denoise before gate ms', 'after gate ms', 'denoise ms', 'decode ms', 'total ms', 'speed-up'];
for (const r of results) {
  process.stdout.write(
    `\n${r.name}, ${r.size}x${r.size} px, 25 PNDM steps, gate step 10, median of ${runs} (compile ${(r.compileMs / 1000).toFixed(1)} s, no proof)\n${table(headers, r.rows)}\n`,
  );
}
if (values.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
