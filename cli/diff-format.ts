// The three human renderings of a graph diff: text (coloured on a terminal), Markdown (a PR
// comment or CI job summary) and one self-contained HTML page with an SVG bar chart of MACs per
// block before and after (no scripts, no network fetches).
import type { GraphDiff, ScopeChange } from '../build/diff.js';
import type { ManifestIo } from '../build/manifest.js';
import { bytesText, countText, shapeText, table } from './format.js';
import { paint } from './terminal-text.js';

const LIST = 8;

function change(before: number, after: number): string {
  if (before === after) return '0';
  const d = after - before;
  const pct = before ? ` (${((d / before) * 100).toFixed(1)} %)` : '';
  return `${d > 0 ? '+' : ''}${d}${pct}`;
}

function pctText(before: number, after: number): string {
  return before ? `${(((after - before) / before) * 100).toFixed(1)} %` : '-';
}

function scopeLine(s: ScopeChange, verb: string): string {
  const nodes = `${s.nodes} node${s.nodes === 1 ? '' : 's'}`;
  return s.whole ? `${s.scope}: ${nodes} ${verb}` : `${s.scope}: ${s.nodes} of ${s.of} nodes ${verb}`;
}

function ioLine(x: ManifestIo): string {
  return `${x.name}  ${x.dtype} ${shapeText(x.shape)}`;
}

function firsts<T>(xs: T[], f: (x: T) => string, n = LIST): string[] {
  return [...xs.slice(0, n).map(f), ...(xs.length > n ? [`... and ${xs.length - n} more`] : [])];
}

export function diffText(d: GraphDiff, color: boolean): string {
  // Markers the output sink turns into colours on a terminal (cli/terminal-text.ts).
  const red = (s: string) => (color ? paint('red', s) : s);
  const green = (s: string) => (color ? paint('green', s) : s);
  const out: string[] = [];
  out.push(`${d.a.label} -> ${d.b.label}: ${d.a.nodes} -> ${d.b.nodes} nodes (${d.nodes.removed} removed, ${d.nodes.added} added)`);
  for (const k of ['inputs', 'outputs'] as const) {
    const x = d[k];
    if (!x.added.length && !x.removed.length) continue;
    out.push('', `${k[0]!.toUpperCase()}${k.slice(1)}`);
    out.push(...firsts(x.removed, (i) => red(`  - ${ioLine(i)}`)), ...firsts(x.added, (i) => green(`  + ${ioLine(i)}`)));
  }
  if (d.nodes.removedByScope.length) out.push('', 'Nodes removed, by module', ...d.nodes.removedByScope.map((s) => red(`  - ${scopeLine(s, 'removed')}`)));
  if (d.nodes.addedByScope.length) out.push('', 'Nodes added, by module', ...d.nodes.addedByScope.map((s) => green(`  + ${scopeLine(s, 'added')}`)));
  const ops = d.ops.filter((o) => o.before !== o.after);
  out.push(
    '',
    'Op counts (changed)',
    ops.length
      ? table(
          ['op', 'before', 'after', 'change'],
          ops.map((o) => [o.op, o.before, o.after, change(o.before, o.after)]),
        )
      : '  (none)',
  );
  const m = d.macs;
  out.push(
    '',
    `Parameters: ${countText(d.params.before)} -> ${countText(d.params.after)} (${pctText(d.params.before, d.params.after)})`,
    `MACs at ${Object.entries(m.sizes)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}: conv+linear ${countText(m.before.linear)} -> ${countText(m.after.linear)} (${pctText(m.before.linear, m.after.linear)}); ` +
      `attention products ${countText(m.before.attention)} -> ${countText(m.after.attention)} (${pctText(m.before.attention, m.after.attention)})`,
  );
  out.push(
    '',
    'MACs per block',
    table(
      ['block', 'before', 'after', 'change'],
      d.blocks.map((b) => [b.scope, countText(b.before), countText(b.after), pctText(b.before, b.after)]),
    ),
  );
  const w = d.weightsUnreferenced;
  out.push(
    '',
    w.length ? `Weights no longer referenced: ${w.length} tensors, ${bytesText(w.reduce((a, x) => a + x.bytes, 0))}` : 'Weights no longer referenced: none',
  );
  if (w.length) out.push(...firsts(w, (x) => `  ${x.name} (${bytesText(x.bytes)})`));
  return out.join('\n');
}

function mdTable(headers: string[], rows: (string | number)[][]): string {
  const esc = (c: string | number) => String(c).replace(/\|/g, '\\|');
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export function diffMarkdown(d: GraphDiff): string {
  const out: string[] = [];
  out.push(`### \`${d.a.label}\` → \`${d.b.label}\``, '');
  const m = d.macs;
  out.push(
    mdTable(
      ['', 'before', 'after', 'change'],
      [
        ['nodes', d.a.nodes, d.b.nodes, pctText(d.a.nodes, d.b.nodes)],
        ['parameters', countText(d.params.before), countText(d.params.after), pctText(d.params.before, d.params.after)],
        ['MACs conv+linear', countText(m.before.linear), countText(m.after.linear), pctText(m.before.linear, m.after.linear)],
        ['MACs attention products', countText(m.before.attention), countText(m.after.attention), pctText(m.before.attention, m.after.attention)],
      ],
    ),
    '',
    `MACs at ${Object.entries(m.sizes)
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ')}.`,
  );
  const ioRows = (['inputs', 'outputs'] as const).flatMap((k) => [
    ...d[k].removed.map((x) => [k.slice(0, -1), 'removed', `\`${x.name}\``, x.dtype, shapeText(x.shape)]),
    ...d[k].added.map((x) => [k.slice(0, -1), 'added', `\`${x.name}\``, x.dtype, shapeText(x.shape)]),
  ]);
  if (ioRows.length) out.push('', '#### Inputs and outputs', '', mdTable(['', 'change', 'name', 'dtype', 'shape'], ioRows));
  const scopes = [...d.nodes.removedByScope.map((s) => ['removed', s]), ...d.nodes.addedByScope.map((s) => ['added', s])] as [string, ScopeChange][];
  if (scopes.length)
    out.push(
      '',
      '#### Nodes by module',
      '',
      mdTable(
        ['change', 'module', 'nodes'],
        scopes.map(([c, s]) => [c, `\`${s.scope}\``, s.whole ? `${s.nodes} (whole module)` : `${s.nodes} of ${s.of}`]),
      ),
    );
  const ops = d.ops.filter((o) => o.before !== o.after);
  if (ops.length)
    out.push(
      '',
      '#### Op counts (changed)',
      '',
      mdTable(
        ['op', 'before', 'after', 'change'],
        ops.map((o) => [o.op, o.before, o.after, change(o.before, o.after)]),
      ),
    );
  out.push(
    '',
    '#### MACs per block',
    '',
    mdTable(
      ['block', 'before', 'after', 'change'],
      d.blocks.map((b) => [`\`${b.scope}\``, countText(b.before), countText(b.after), pctText(b.before, b.after)]),
    ),
  );
  const w = d.weightsUnreferenced;
  out.push('', `Weights no longer referenced: ${w.length ? `${w.length} tensors, ${bytesText(w.reduce((a, x) => a + x.bytes, 0))}` : 'none'}.`);
  return out.join('\n');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Horizontal bars per block: before (grey) and after (blue), to scale. */
function blocksSvg(d: GraphDiff): string {
  const rows = d.blocks;
  const max = Math.max(1, ...rows.flatMap((b) => [b.before, b.after]));
  const label = 190;
  const width = 640;
  const bar = width - label - 90;
  const h = 30;
  const parts = rows.map((b, i) => {
    const y = 10 + i * h;
    const wb = (b.before / max) * bar;
    const wa = (b.after / max) * bar;
    return [
      `<text x="${label - 8}" y="${y + 15}" text-anchor="end" class="lbl">${escapeHtml(b.scope)}</text>`,
      `<rect class="before" x="${label}" y="${y}" width="${wb.toFixed(1)}" height="11"><title>before: ${countText(b.before)} MACs</title></rect>`,
      `<rect class="after" x="${label}" y="${y + 12}" width="${wa.toFixed(1)}" height="11"><title>after: ${countText(b.after)} MACs</title></rect>`,
      `<text x="${(label + Math.max(wb, wa) + 6).toFixed(1)}" y="${y + 15}" class="val">${countText(b.after)}</text>`,
    ].join('');
  });
  const height = 20 + rows.length * h + 20;
  return `<svg id="blocks-chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="MACs per block before and after">${parts.join('')}<rect class="before" x="${label}" y="${height - 16}" width="12" height="10"/><text x="${label + 16}" y="${height - 7}" class="lbl">before</text><rect class="after" x="${label + 80}" y="${height - 16}" width="12" height="10"/><text x="${label + 96}" y="${height - 7}" class="lbl">after</text></svg>`;
}

function htmlTable(headers: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function diffHtml(diffs: GraphDiff[], title: string): string {
  const sections = diffs.map((d, k) => {
    const m = d.macs;
    const ops = d.ops.filter((o) => o.before !== o.after);
    const scopes = [...d.nodes.removedByScope.map((s) => ['removed', s] as const), ...d.nodes.addedByScope.map((s) => ['added', s] as const)];
    const io = (['inputs', 'outputs'] as const).flatMap((x) => [
      ...d[x].removed.map((i) => [x, 'removed', i.name, i.dtype, shapeText(i.shape)]),
      ...d[x].added.map((i) => [x, 'added', i.name, i.dtype, shapeText(i.shape)]),
    ]);
    return `<section id="diff-${k}"><h2>${escapeHtml(d.a.label)} → ${escapeHtml(d.b.label)}</h2>
${htmlTable(
  ['', 'before', 'after', 'change'],
  [
    ['nodes', d.a.nodes, d.b.nodes, pctText(d.a.nodes, d.b.nodes)],
    ['parameters', countText(d.params.before), countText(d.params.after), pctText(d.params.before, d.params.after)],
    ['MACs conv+linear', countText(m.before.linear), countText(m.after.linear), pctText(m.before.linear, m.after.linear)],
    ['MACs attention products', countText(m.before.attention), countText(m.after.attention), pctText(m.before.attention, m.after.attention)],
  ],
)}
<p>MACs at ${escapeHtml(
      Object.entries(m.sizes)
        .map(([a, b]) => `${a}=${b}`)
        .join(', '),
    )}.</p>
<h3>MACs per block</h3>
${k === 0 ? blocksSvg(d) : blocksSvg(d).replace('id="blocks-chart"', `id="blocks-chart-${k}"`)}
${io.length ? `<h3>Inputs and outputs</h3>${htmlTable(['', 'change', 'name', 'dtype', 'shape'], io)}` : ''}
${
  scopes.length
    ? `<h3>Nodes by module</h3>${htmlTable(
        ['change', 'module', 'nodes'],
        scopes.map(([c, s]) => [c, s.scope, s.whole ? `${s.nodes} (whole module)` : `${s.nodes} of ${s.of}`]),
      )}`
    : ''
}
${
  ops.length
    ? `<h3>Op counts (changed)</h3>${htmlTable(
        ['op', 'before', 'after', 'change'],
        ops.map((o) => [o.op, o.before, o.after, change(o.before, o.after)]),
      )}`
    : ''
}
<p>Weights no longer referenced: ${d.weightsUnreferenced.length ? `${d.weightsUnreferenced.length} tensors, ${bytesText(d.weightsUnreferenced.reduce((a, x) => a + x.bytes, 0))}` : 'none'}.</p>
</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:960px}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}
.before{fill:#b0b0b0}.after{fill:#3a78c2}.lbl,.val{font:12px system-ui,sans-serif;fill:#333}
</style></head>
<body><h1>${escapeHtml(title)}</h1>
${sections.join('\n')}
</body></html>
`;
}
