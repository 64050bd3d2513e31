/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The HTML diff opened in headless Chromium (Debian's `chromium`, driven by puppeteer-core): it
// renders its tables and the MACs-per-block chart, logs no console errors and fetches nothing
// beyond its own file.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
if (!CHROMIUM) console.log("SKIPPED the HTML rendering test: no chromium (CI installs Debian's `chromium`; apt-get install chromium)");

(CHROMIUM ? describe : describe.skip)('tgate diff --html in headless Chromium', () => {
  it('renders the summary, the tables and the chart, with no console errors or fetches', async () => {
    const work = scratch();
    const dir = path.join(work, 'tiny');
    await compile(path.join(ROOT, 'fixtures/models/tiny-unet.onnx'), { outDir: dir, prover: null });
    const file = path.join(work, 'diff.html');
    expect(tgate(['diff', dir, '--html', '-o', file]).status).toBe(0);
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|\b(src|href)=|url\(/);
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      const facts = await page.evaluate(() => {
        const box = (e: Element) => e.getBoundingClientRect();
        const sections = [...document.querySelectorAll('section')];
        const chart = document.querySelector('#blocks-chart')!;
        const bars = (cls: string) => [...chart.querySelectorAll(`rect.${cls}`)].slice(0, -1).map((r) => box(r).width);
        return {
          title: document.querySelector('h1')?.textContent,
          sections: sections.map((s) => s.querySelector('h2')?.textContent),
          tables: sections.map((s) => s.querySelectorAll('table').length),
          firstCell: document.querySelector('table td')?.textContent,
          chart: { width: box(chart).width, height: box(chart).height, labels: [...chart.querySelectorAll('text.lbl')].map((t) => t.textContent) },
          before: bars('before'),
          after: bars('after'),
        };
      });
      expect(problems).toEqual([]);
      expect(requests).toEqual([`file://${file}`]);
      expect(facts.title).toBe(`tgate diff: ${dir}`);
      expect(facts.sections).toEqual(
        ['reuse-self.onnx', 'fidelity.onnx', 'fidelity-reuse-self.onnx'].map((f) => `tiny-unet.onnx (planning.onnx: the source plus site outputs) → ${f}`),
      );
      for (const n of facts.tables) expect(n).toBeGreaterThanOrEqual(3);
      expect(facts.firstCell).toBe('nodes');
      expect(facts.chart.width).toBeGreaterThan(300);
      expect(facts.chart.labels).toEqual(['/conv_in', '/down', '/transformer_blocks.0', '/transformer_blocks.1', '/conv_out', 'before', 'after']);
      // Bars to scale: the transformer blocks shrink (self-attention reused), the rest stay.
      expect(facts.before[2]).toBeGreaterThan(facts.after[2]! * 2);
      expect(facts.after[0]).toBeCloseTo(facts.before[0]!, 5);
      expect(Math.min(...facts.after)).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
