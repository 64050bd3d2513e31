// node dist/bench/first-step.js [--runs 3] [--size 64] [--batch 2] [--cases a,b]:
// time to first step on sd15-full = session creation + the first UNet call (planning variant,
// latent size x size, batch 2 as with CFG), each measurement in a fresh process (so page-cache
// warm, heap cold) with its own peak RSS, cases alternating, median of N. Cases: the baseline
// session over the source; the TGATE v2 gated session (gated-v2.onnx) as GatedUNet.load opens it
// (pre-packing off: several variants) and with pre-packing forced on; separate planning +
// fidelity sessions; the TGATE + DeepCache gated session. (Saving onnxruntime's optimised graph
// was tried and dropped: 1.8x the baseline, 4.2 GiB per model, as onnxruntime re-packs on load.)
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { VariantName } from '../build/variants.js';
import { table } from '../cli/format.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { float32Tensor, openSession, type Feeds, type SessionOptions } from '../runtime/session.js';
import type { VariantRunner } from '../runtime/variant-runner.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.TGATE_SHARED ?? path.resolve(ROOT, '../shared');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '2' },
    cases: { type: 'string' },
    dir: { type: 'string' },
    source: { type: 'string' },
    child: { type: 'string' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const V2: VariantName[] = ['planning', 'reuse-self', 'fidelity'];
/** What GatedUNet.load opens with by default: every core, onnxruntime's extended level. */
const LOAD: SessionOptions = { threads: 0, optimization: 'extended' };

interface Case {
  label: string;
  /** Opens the sessions, returns the first call. */
  open: (dir: string, source: string) => Promise<() => Promise<void>>;
}

function feeds(): Feeds {
  // Values do not matter for time; fixed ones keep every run alike.
  return {
    sample: float32Tensor(new Float32Array(batch * 4 * size * size).fill(0.1), [batch, 4, size, size]),
    timestep: float32Tensor(Float32Array.of(981), []),
    encoder_hidden_states: float32Tensor(new Float32Array(batch * 77 * 768).fill(0.01), [batch, 77, 768]),
  };
}

async function sourceSession(file: string, open: (f: string) => Promise<import('onnxruntime-node').InferenceSession>) {
  const s = await open(file);
  return async () => {
    await s.run(feeds(), [s.outputNames[0]!]);
  };
}

async function gatedLoad(dir: string, o: Parameters<typeof GatedUNet.load>[1]) {
  const unet = await GatedUNet.load(dir, { ...LOAD, ...o });
  return () => planningCall(unet.runner);
}

async function planningCall(runner: VariantRunner): Promise<void> {
  await runner.call({ variant: 'planning', batch, feeds: feeds(), caches: new Map(), fetch: [] });
}

const CASES: Record<string, Case> = {
  baseline: { label: 'baseline (source, one session)', open: (_d, src) => sourceSession(src, (f) => openSession(f, LOAD)) },
  'gated-v2': { label: 'TGATE v2 gated (gated-v2.onnx)', open: (d) => gatedLoad(d, { variants: V2 }) },
  separate: { label: 'separate planning + fidelity', open: (d) => gatedLoad(d, { variants: ['planning', 'fidelity'], sessions: 'separate' }) },
  'gated-v2-prepacked': { label: 'gated v2, pre-packing on', open: (d) => gatedLoad(d, { variants: V2, prepacking: true }) },
  'tgate-deepcache': {
    label: 'TGATE + DeepCache gated (gated-tgate-deepcache.onnx)',
    open: (d) => gatedLoad(d, { variants: ['planning', 'shallow', 'fidelity', 'shallow-fidelity'] }),
  },
};

async function child(name: string, dir: string, source: string): Promise<void> {
  const c = CASES[name]!;
  const t0 = performance.now();
  const first = await c.open(dir, source);
  const t1 = performance.now();
  await first();
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ createMs: t1 - t0, firstMs: t2 - t1 }) + '\n');
}

function models(): { dir: string; source: string } {
  if (values.dir && values.source) return { dir: path.resolve(values.dir), source: path.resolve(values.source) };
  const weights = path.join(os.tmpdir(), 'tgate-bench-models', 'sd15-full');
  if (!fs.existsSync(path.join(weights, 'model.onnx_data'))) {
    process.stderr.write(`synthesizing sd15-full weights into ${weights} ...\n`);
    execFileSync('node', [path.join(SHARED, 'tools/synth-weights.mjs'), path.join(SHARED, 'models/sd15-full'), '--out', weights], { stdio: 'inherit' });
  }
  const dir = path.join(os.tmpdir(), 'tgate-bench-models', 'sd15-full-compiled');
  if (!fs.existsSync(path.join(dir, 'tgate.json')))
    execFileSync('node', [path.join(ROOT, 'dist/cli/main.js'), 'compile', path.join(weights, 'model.onnx'), '-o', dir, '--no-verify', '-q'], {
      stdio: 'inherit',
    });
  return { dir: values.dir ? path.resolve(values.dir) : dir, source: values.source ? path.resolve(values.source) : path.join(weights, 'model.onnx') };
}

const { dir, source } = models();
if (values.child) {
  await child(values.child, dir, source);
} else {
  const names = values.cases ? values.cases.split(',') : ['baseline', 'gated-v2', 'gated-v2-prepacked', 'tgate-deepcache'];
  for (const n of names) if (!CASES[n]) throw new Error(`unknown case ${n} (cases: ${Object.keys(CASES).join(', ')})`);
  const runs = Number(values.runs);
  const got: Record<string, { createMs: number; firstMs: number; rssMiB: number }[]> = Object.fromEntries(names.map((n) => [n, []]));
  const self = fileURLToPath(import.meta.url);
  for (let i = 0; i < runs; i++) {
    // Alternating, and rotated each round, so a slow spell of the machine does not fall on one case.
    for (const n of names.map((_, k) => names[(k + i) % names.length]!)) {
      const args = ['--import', path.join(ROOT, 'dist/bench/report-rss.js'), self, '--child', n, '--dir', dir, '--source', source];
      args.push('--size', String(size), '--batch', String(batch));
      const r = spawnSync('node', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`${n} failed: ${r.stderr}`);
      const peak = /tgate-peak-rss-kb=(\d+)/.exec(r.stderr);
      const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
      got[n]!.push({ ...m, rssMiB: peak ? Number(peak[1]) / 1024 : NaN });
      process.stderr.write(`${n} run ${i + 1}: create ${(m.createMs / 1000).toFixed(1)} s, first call ${(m.firstMs / 1000).toFixed(1)} s\n`);
    }
  }
  const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = got[names[0]!]!;
  const baseCreate = med(base.map((x) => x.createMs));
  const baseTotal = med(base.map((x) => x.createMs + x.firstMs));
  const rows = names.map((n) => {
    const xs = got[n]!;
    const create = med(xs.map((x) => x.createMs));
    const total = med(xs.map((x) => x.createMs + x.firstMs));
    return [
      CASES[n]!.label,
      (create / 1000).toFixed(1),
      (med(xs.map((x) => x.firstMs)) / 1000).toFixed(1),
      (total / 1000).toFixed(1),
      `${(create / baseCreate).toFixed(2)}x`,
      `${(total / baseTotal).toFixed(2)}x`,
      med(xs.map((x) => x.rssMiB)).toFixed(0),
    ];
  });
  process.stdout.write(
    `time to first step: ${size}x${size} latent, batch ${batch}, median of ${runs} fresh processes per case, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}\n\n`,
  );
  process.stdout.write(table(['case', 'create s', 'first call s', 'total s', 'create vs first', 'total vs first', 'peak RSS MiB'], rows) + '\n');
  const outFile = path.join(ROOT, 'out/bench-first-step.json');
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify({ size, batch, runs, cases: got }, null, 2) + '\n');
  process.stdout.write(`\n\nfigures: ${path.relative(process.cwd(), outFile)}\n`);
}
