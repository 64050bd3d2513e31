// npm run bench:compile [-- --runs N] [--full]: compile time and peak RSS per model, median of
// N runs, each run in a fresh process so its peak RSS is its own. Models: the committed tiny
// UNet, the ../shared fixtures, and ../shared/models graphs with synthesized weights (sd15-full,
// 3.4 GB, only with --full). Prints a table and writes the figures as JSON.
import type { Manifest } from '../build/manifest.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from '../cli/format.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.TGATE_SHARED ?? path.resolve(ROOT, '../shared');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, full: { type: 'boolean' }, 'no-verify': { type: 'boolean' } } });
const runs = Number(values.runs);

function synthesized(name: string): string | null {
  const graph = path.join(SHARED, 'models', name);
  if (!fs.existsSync(graph)) return null;
  const dir = path.join(os.tmpdir(), 'tgate-bench-models', name);
  if (!fs.existsSync(path.join(dir, 'model.onnx_data'))) {
    process.stderr.write(`synthesizing ${name} weights into ${dir} ...\n`);
    execFileSync('node', [path.join(SHARED, 'tools/synth-weights.mjs'), graph, '--out', dir], { stdio: 'inherit' });
  }
  return path.join(dir, 'model.onnx');
}

const models: [string, string | null][] = [
  ['tiny-unet (committed)', path.join(ROOT, 'fixtures/models/tiny-unet.onnx')],
  ['sd15-tiny opset 17', path.join(SHARED, 'fixtures/sd15-tiny/model.onnx')],
  ['sd15-tiny opset 14', path.join(SHARED, 'fixtures/sd15-tiny/model_opset14.onnx')],
  ['sdxl-tiny', path.join(SHARED, 'fixtures/sdxl-tiny/model.onnx')],
  ['sd15-small (150 MB external)', synthesized('sd15-small')],
  ...(values.full ? ([['sd15-full (3.4 GB external)', synthesized('sd15-full')]] as [string, string | null][]) : []),
];

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: (string | number)[][] = [];
const figures: Record<string, unknown>[] = [];
for (const [label, model] of models) {
  if (!model || !fs.existsSync(model)) {
    process.stderr.write(`skipped ${label}: not present\n`);
    continue;
  }
  const seconds: number[] = [];
  const rss: number[] = [];
  let manifest: Manifest | null = null;
  for (let i = 0; i < runs; i++) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-bench-out-'));
    const args = [path.join(ROOT, 'dist/cli/main.js'), 'compile', model, '-o', path.join(out, 'a'), '--json', ...(values['no-verify'] ? ['--no-verify'] : [])];
    const t0 = performance.now();
    // /usr/bin/time is not everywhere; the child reports its own peak RSS via a preload instead.
    const r = spawnSync('node', ['--import', path.join(ROOT, 'dist/bench/report-rss.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const wall = (performance.now() - t0) / 1000;
    fs.rmSync(out, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`compile of ${label} failed: ${r.stderr}`);
    const peak = /tgate-peak-rss-kb=(\d+)/.exec(r.stderr);
    seconds.push(wall);
    rss.push(peak ? Number(peak[1]) / 1024 : NaN);
    manifest = JSON.parse(r.stdout).manifest;
  }
  const m = manifest!;
  const cross = m.sites.filter((s) => s.kind === 'cross').length;
  const v = m.verification;
  const err = v.skipped ? 'skipped' : Math.max(0, ...Object.values(v.variantMaxAbsErrors)).toExponential(1);
  const nodes = Object.fromEntries([['source', m.source.nodes], ...m.variants.map((x) => [x.name, x.nodes])]);
  rows.push([
    label,
    median(seconds).toFixed(2),
    median(rss).toFixed(0),
    `${cross}+${m.sites.length - cross}`,
    ...['source', 'planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self'].map((n) => nodes[n] ?? '-'),
    err,
  ]);
  figures.push({
    model: label,
    runs,
    medianSeconds: median(seconds),
    medianPeakRssMiB: median(rss),
    seconds,
    peakRssMiB: rss,
    nodeCounts: nodes,
    maxAbsError: v.skipped ? null : v.variantMaxAbsErrors,
  });
}
process.stdout.write(
  `compile benchmark: median of ${runs} runs, wall time of the whole CLI process (proof ${values['no-verify'] ? 'off' : 'on'}), ${os.cpus().length} cores\n\n`,
);
process.stdout.write(
  table(['model', 'seconds', 'peak RSS MiB', 'sites', 'source nodes', 'planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self', 'proof max err'], rows) +
    '\n',
);
const outFile = path.join(ROOT, 'out/bench-compile.json');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(figures, null, 2) + '\n');
process.stdout.write(`\nfigures: ${path.relative(process.cwd(), outFile)}\n`);
