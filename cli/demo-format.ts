// The demo's report and its renderings: the convergence plot (SVG), the results table, and the
// report as Markdown, as one self-contained HTML page and as the terminal's text. Pure functions
// of the report: nothing here runs a model or writes a file.
import type { GenerateResult } from '../runtime/gated-unet.js';
import { table } from './format.js';

export type Mode = 'baseline' | 'v1' | 'v2';
export const MODES: Mode[] = ['baseline', 'v1', 'v2'];
export const HEADINGS: Record<Mode, string> = { baseline: 'baseline', v1: 'TGATE v1', v2: 'TGATE v2' };

export interface ModeResult {
  /** Wall time of the pipeline's generate calls (tokenize, text encoder, denoising, decode), all prompts. */
  seconds: number;
  /** Of which the denoising loop. */
  denoiseSeconds: number;
  /** Samples whose colour, shape and position the classifier reads as the prompt's. */
  adherence: { all: number; color: number; shape: number; position: number; samples: number } | null;
  /** Mean |image - baseline image| over all samples, in 0-255 pixel units. */
  pixelDifference: number;
}

export interface DemoReport {
  model: string;
  compiled: string;
  prompts: string[];
  samplesPerPrompt: number;
  /** The seed of prompt k's generate call (one generator per call, as diffusers'). */
  seeds: number[];
  steps: number;
  scheduler: string;
  gateStep: number;
  guidance: number;
  modes: Record<Mode, ModeResult>;
  convergence: GenerateResult['attentionChange'];
  files: { grid: string; convergence: string; markdown: string; html: string };
}

/** The convergence plot: mean relative change per step of cross- and self-attention outputs. */
export function convergenceSvg(points: GenerateResult['attentionChange'], gateStep: number): string {
  const w = 560;
  const h = 300;
  const [l, r, t, b] = [60, 20, 20, 40];
  const maxK = Math.max(1, ...points.map((p) => p.k));
  const maxY = Math.max(1e-9, ...points.flatMap((p) => [p.cross ?? 0, p.self ?? 0]));
  const X = (k: number) => l + ((k - 1) / Math.max(1, maxK - 1)) * (w - l - r);
  const Y = (v: number) => t + (1 - v / maxY) * (h - t - b);
  const line = (key: 'cross' | 'self') =>
    points
      .filter((p) => p[key] !== null)
      .map((p, i) => `${i ? 'L' : 'M'}${X(p.k).toFixed(1)},${Y(p[key]!).toFixed(1)}`)
      .join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${l - 6}" y="${(Y(f * maxY) + 4).toFixed(1)}" text-anchor="end">${(f * maxY).toFixed(2)}</text><line x1="${l}" x2="${w - r}" y1="${Y(f * maxY).toFixed(1)}" y2="${Y(f * maxY).toFixed(1)}" stroke="#eee"/>`,
    )
    .join('');
  const kt = Array.from({ length: maxK }, (_, i) => i + 1)
    .filter((k) => k === 1 || k % 5 === 0)
    .map((k) => `<text x="${X(k).toFixed(1)}" y="${h - b + 16}" text-anchor="middle">${k}</text>`)
    .join('');
  const gx =
    gateStep >= 1 && gateStep <= maxK
      ? `<line x1="${X(gateStep).toFixed(1)}" x2="${X(gateStep).toFixed(1)}" y1="${t}" y2="${h - b}" stroke="#999" stroke-dasharray="4 3"/><text x="${(X(gateStep) + 4).toFixed(1)}" y="${t + 12}">gate step ${gateStep}</text>`
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" id="convergence" width="${w}" height="${h}" font-family="system-ui,sans-serif" font-size="11" role="img" aria-label="Relative change of attention outputs between steps">
${ticks}${kt}${gx}
<path d="${line('cross')}" fill="none" stroke="#c2403a" stroke-width="2"/><path d="${line('self')}" fill="none" stroke="#3a78c2" stroke-width="2"/>
<text x="${w - r - 150}" y="${t + 12}" fill="#c2403a">cross-attention</text><text x="${w - r - 150}" y="${t + 26}" fill="#3a78c2">self-attention</text>
<text x="${(l + w - r) / 2}" y="${h - 6}" text-anchor="middle">step (baseline run)</text>
<text x="14" y="${(t + h - b) / 2}" transform="rotate(-90 14 ${(t + h - b) / 2})" text-anchor="middle">mean relative change</text>
</svg>
`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

const HEADERS = ['', 'wall time (s)', 'speed-up', 'prompt adherence', 'mean pixel diff to baseline'];
const TIMING = "Wall time: the pipeline's generate calls (tokenizer, text encoder, denoising, decode), summed over the prompts, after an untimed warm-up.";

/** One row per mode: wall time, speed-up over the baseline, prompt adherence, pixel difference. */
function resultRows(modes: Record<Mode, ModeResult>): string[][] {
  return MODES.map((m) => {
    const x = modes[m];
    return [
      m,
      x.seconds.toFixed(3),
      m === 'baseline' ? '1' : `${(modes.baseline.seconds / x.seconds).toFixed(2)}x`,
      x.adherence ? pct(x.adherence.all) : '-',
      m === 'baseline' ? '0' : x.pixelDifference.toFixed(2),
    ];
  });
}

function summaryLine(r: DemoReport): string {
  return `${r.prompts.length} prompt(s) x ${r.samplesPerPrompt} seeded samples, ${r.steps} ${r.scheduler.toUpperCase()} steps, gate step ${r.gateStep}, guidance ${r.guidance}`;
}

export function demoMarkdown(r: DemoReport): string {
  const rows = resultRows(r.modes);
  return [
    '## tgate demo',
    '',
    summaryLine(r),
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    TIMING,
    '',
    'Rows: the prompts; columns: baseline, TGATE v1, TGATE v2 (first sample of each).',
    '',
    '![grid](grid.png)',
    '',
    '![convergence](convergence.svg)',
    '',
    ...r.prompts.map((p, i) => `${i + 1}. ${p} (seed ${r.seeds[i]})`),
    '',
  ].join('\n');
}

/** One page with no external references: the grid inlined as a data URL, the plot as inline SVG. */
export function demoHtml(r: DemoReport, gridBytes: Uint8Array, svg: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const rows = resultRows(r.modes);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tgate demo</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}</style></head><body>
<h1>tgate demo</h1><p>${esc(summaryLine(r))}</p>
<table><thead><tr>${HEADERS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>
<p>${esc(TIMING)}</p>
<h2>Images</h2><p>Rows: ${r.prompts.map(esc).join('; ')}. Columns: baseline, TGATE v1, TGATE v2.</p>
<img alt="grid" src="data:image/png;base64,${Buffer.from(gridBytes).toString('base64')}">
<h2>Attention convergence</h2>${svg}
</body></html>
`;
}

/** The terminal summary: the table and where the files went. */
export function demoText(r: DemoReport): string {
  return [
    `tgate demo: ${summaryLine(r)}`,
    '',
    table(HEADERS, resultRows(r.modes)),
    '',
    `wrote ${r.files.grid} (rows: prompts; columns: baseline, v1, v2), ${r.files.convergence}, ${r.files.markdown}, ${r.files.html}`,
  ].join('\n');
}
