// Attention in dead code is no site. The fuzz test found compile, inspect, bench and calibrate
// ending as internal errors (E_PASS_FAILED, exit 70) on a model whose graph output was removed or
// renamed to an intermediate tensor: the sites were found in nodes that no longer reach an
// output, and the cut then exposed a tensor dead-code elimination had removed.
import { describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { decodeModel } from '../io/decode.js';
import { findAttentionSites } from '../analyses/attention/find-sites.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');

function mutated(change: (m: ReturnType<typeof fromBinary<typeof ModelProtoSchema>>) => void): Uint8Array {
  const m = fromBinary(ModelProtoSchema, fs.readFileSync(TINY));
  change(m);
  return toBinary(ModelProtoSchema, m);
}

describe('attention that reaches no graph output', () => {
  const cases: [string, Uint8Array][] = [
    ['no graph output', mutated((m) => m.graph!.output.splice(0, 1))],
    ['the output renamed to an early tensor', mutated((m) => (m.graph!.output[0]!.name = m.graph!.node[5]!.output[0]!))],
  ];

  test.each(cases)('%s: every softmax rejected as dead code by the analysis', (_, bytes) => {
    const report = findAttentionSites(decodeModel(bytes, 'dead.onnx').graph);
    expect(report.sites).toEqual([]);
    expect(report.rejected.length).toBe(4);
    for (const r of report.rejected) expect(r).toMatchObject({ code: 'DEAD_CODE', at: [{ node: r.node }] });
  });

  test.each(cases)('%s: compile and inspect end with E_NO_CROSS_ATTENTION (exit 4), not an internal error', (_, bytes) => {
    const dir = scratch();
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, bytes);
    const c = tgate(['compile', file, '-o', path.join(dir, 'out'), '--no-verify']);
    expect(c.status).toBe(4);
    expect(c.stderr).toMatch(/E_NO_CROSS_ATTENTION[\s\S]*dead code/);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
    const i = tgate(['inspect', file]);
    expect(i.status).toBe(0);
    expect(i.stdout).toMatch(/dead code|no attention|0 cross/i);
  });

  test('the live tiny UNet keeps its four sites', () => {
    expect(findAttentionSites(decodeModel(fs.readFileSync(TINY), 'tiny-unet.onnx').graph).sites).toHaveLength(4);
  });
});
