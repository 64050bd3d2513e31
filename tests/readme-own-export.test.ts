// The README's "Use it on your own export" block, run as written: its `npx tgate` lines, in a
// folder where `sd-onnx` is the SD-1.x pipeline fixture (an optimum export of an SD-1.x
// pipeline). The export is left untouched, and the images are real PNGs of the UNet's native size.
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { decodePng } from '../runtime/pipeline/image.js';
import { tgate } from './helpers/cli.js';
import { folderDigest, ROOT, scratch } from './helpers/paths.js';
import { pipelineAvailable, pipelineCopy } from './helpers/pipeline-fixture.js';

function ownExportBlock(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('## Use it on your own export'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)![1]!;
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx tgate '));
}

const available = pipelineAvailable("the README's own-export block");
const maybe = available ? describe : describe.skip;

maybe('README: use it on your own export', () => {
  const cwd = scratch();
  afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

  test('compile and generate as written', () => {
    const commands = ownExportBlock();
    expect(commands.map((c) => c.split(' ')[2])).toEqual(['compile', 'generate', 'generate']);
    pipelineCopy(path.join(cwd, 'sd-onnx'));
    const before = folderDigest(path.join(cwd, 'sd-onnx'));
    for (const command of commands) {
      const args = [...command.replace(/^npx tgate /, '').matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
      const r = tgate(args, cwd);
      if (r.status !== 0) throw new Error(`${command}: exit ${r.status}\n${r.stderr}`);
    }
    expect(folderDigest(path.join(cwd, 'sd-onnx'))).toEqual(before);
    expect(fs.existsSync(path.join(cwd, 'sd-tgate/tgate.json'))).toBe(true);
    const tgated = decodePng(fs.readFileSync(path.join(cwd, 'astronaut.png')), 'astronaut.png');
    const baseline = decodePng(fs.readFileSync(path.join(cwd, 'baseline.png')), 'baseline.png');
    // sd15-tiny's sample_size 32 x the VAE's factor 8.
    expect([tgated.width, tgated.height, baseline.width, baseline.height]).toEqual([256, 256, 256, 256]);
    let diff = 0;
    for (let i = 0; i < tgated.data.length; i++) diff += Math.abs(tgated.data[i]! - baseline.data[i]!);
    expect(diff / tgated.data.length).toBeGreaterThan(0.1);
  });
});
