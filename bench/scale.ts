// npm run bench:scale [-- --sizes 10000,100000,1000000] [--models chain,unet] [--heap MiB] [--timeout s]
// How compile (--no-verify) and inspect scale with the graph: wall time, CPU time and peak RSS of
// the whole CLI process, each run in a fresh process, on generated models of growing size:
// - chain: N Add/Relu nodes (all reading one shared constant) in front of the tiny UNet's input,
//   so the model still has attention sites to compile;
// - unet: the tiny UNet with more transformer blocks (about 57 nodes and 2 sites per block), the
//   shape of a real denoiser scaled up.
// --heap passes --max-old-space-size to the runs (the default heap refuses large graphs up front:
// io/graph-size.ts). Prints a table, a linear fit of peak RSS per node, and the largest
// graph that fit predicts within 24 GiB; writes the figures to out/bench-scale.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from '../cli/format.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { chainedUnetSpec } from '../fixtures/chained-unet.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    models: { type: 'string', default: 'chain,unet' },
    heap: { type: 'string' },
    timeout: { type: 'string', default: '3600' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const kinds = values.models!.split(',') as ('chain' | 'unet')[];
const BUDGET = 24 * 2 ** 30;

/** The tiny UNet with enough transformer blocks for about n nodes. */
function unet(n: number): ModelSpec {
  return tinyUnetSpec({ blocks: Math.max(2, Math.round((n - 19) / 57)) });
}

/** The child's own peak RSS and CPU time, printed on exit (preloaded with --import). */
const USAGE = path.join(os.tmpdir(), 'tgate-bench-scale-usage.mjs');
fs.writeFileSync(
  USAGE,
  "process.on('exit', () => { const r = process.resourceUsage(); process.stderr.write(`tgate-usage maxrss-kb=${r.maxRSS} cpu-us=${r.userCPUTime + r.systemCPUTime}\\n`); });\n",
);

interface Run {
  status: number | null;
  signal: string | null;
  seconds: number;
  cpuSeconds: number | null;
  peakMiB: number | null;
  error: string | null;
}

function run(args: string[]): Run {
  const heap = values.heap ? [`--max-old-space-size=${values.heap}`] : [];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...heap, '--import', USAGE, CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    timeout: Number(values.timeout) * 1000,
  });
  const seconds = (performance.now() - t0) / 1000;
  const u = /tgate-usage maxrss-kb=(\d+) cpu-us=(\d+)/.exec(r.stderr ?? '');
  const error =
    r.status === 0
      ? null
      : (/(E_[A-Z_]+|FATAL ERROR[^\n]*|internal error[^\n]*)/.exec(r.stderr ?? '')?.[1] ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`));
  return { status: r.status, signal: r.signal, seconds, cpuSeconds: u ? Number(u[2]) / 1e6 : null, peakMiB: u ? Number(u[1]) / 1024 : null, error };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tgate-bench-scale-'));
const rows: (string | number)[][] = [];
const figures: Record<string, unknown>[] = [];
try {
  for (const kind of kinds) {
    for (const size of sizes) {
      const spec = kind === 'chain' ? chainedUnetSpec(size) : unet(size);
      const model = path.join(work, `${kind}-${size}`, 'model.onnx');
      fs.mkdirSync(path.dirname(model), { recursive: true });
      fs.writeFileSync(model, encodeModelSpec(spec));
      const nodes = spec.nodes.length;
      for (const command of ['compile', 'inspect'] as const) {
        const out = path.join(work, `${kind}-${size}-out`);
        const r = run(command === 'compile' ? ['compile', model, '-o', out, '--no-verify'] : ['inspect', model]);
        fs.rmSync(out, { recursive: true, force: true });
        process.stderr.write(`${kind} ${nodes} nodes ${command}: ${r.error ?? 'ok'} in ${r.seconds.toFixed(1)} s, peak ${r.peakMiB?.toFixed(0) ?? '?'} MiB\n`);
        rows.push([kind, nodes, command, r.error ?? 'ok', r.seconds.toFixed(1), r.cpuSeconds?.toFixed(1) ?? '?', r.peakMiB?.toFixed(0) ?? '?']);
        figures.push({ kind, nodes, command, ...r });
      }
      fs.rmSync(path.dirname(model), { recursive: true, force: true });
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(USAGE, { force: true });
}

/** Least squares of peak RSS (bytes) on nodes over the successful runs of one command. */
function fit(command: string, kind: string): { perNode: number; base: number } | null {
  const pts = figures.filter((f) => f.command === command && f.kind === kind && f.status === 0 && f.peakMiB) as { nodes: number; peakMiB: number }[];
  if (pts.length < 2) return null;
  const xs = pts.map((p) => p.nodes);
  const ys = pts.map((p) => p.peakMiB * 2 ** 20);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const perNode = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return { perNode, base: my - perNode * mx };
}

process.stdout.write(
  `scale benchmark: one fresh process per run, ${values.heap ? `--max-old-space-size=${values.heap}` : 'default heap'}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}\n\n`,
);
process.stdout.write(table(['model', 'nodes', 'command', 'result', 'wall s', 'cpu s', 'peak RSS MiB'], rows) + '\n\n');
for (const kind of kinds) {
  for (const command of ['compile', 'inspect']) {
    const f = fit(command, kind);
    if (!f) continue;
    const largest = Math.floor((BUDGET - f.base) / f.perNode);
    process.stdout.write(
      `${kind} ${command}: ${(f.perNode / 1024).toFixed(2)} KiB of peak RSS per node (+${(f.base / 2 ** 20).toFixed(0)} MiB): about ${largest.toLocaleString('en')} nodes within 24 GiB (extrapolated)\n`,
    );
    figures.push({ kind, command, fit: { bytesPerNode: f.perNode, baseBytes: f.base, largestNodesWithin24GiB: largest } });
  }
}
const outFile = path.join(ROOT, 'out/bench-scale.json');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(figures, null, 2) + '\n');
process.stdout.write(`\nfigures: ${path.relative(process.cwd(), outFile)}\n`);
