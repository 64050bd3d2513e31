// The IR text printer and the visible variant pipeline, on the committed fixture models: the
// printed text is deterministic and shows every node of the graph; the pipeline runs in its
// declared order and reports counts that the printed graphs agree with; --print-ir-after prints
// the graphs the compile writes; --json carries the pass records.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import type { VariantName } from '../build/variants.js';
import { decodeModel } from '../io/decode.js';
import { DTYPE } from '../ir/dtype.js';
import { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import type { PassRecord } from '../passes/pass-manager.js';
import { VARIANT_PIPELINE, variantPipeline } from '../passes/variant-pipeline.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const PIXART = path.join(ROOT, 'fixtures/models/pixart-tiny.onnx');

/** The node lines of a printed graph (the part that does not depend on where the weights live). */
const nodeLines = (text: string) =>
  text
    .slice(text.indexOf('\n nodes ('))
    .split('\n')
    .filter((l) => l.startsWith('  '));

describe('printGraph', () => {
  it.each([TINY, PIXART])('%s: deterministic, one line per node in graph order, with io and initializers', (file) => {
    const bytes = fs.readFileSync(file);
    const g = decodeModel(bytes, file).graph;
    const text = printGraph(g);
    expect(printGraph(decodeModel(bytes, file).graph)).toBe(text);
    expect(text).toMatch(
      new RegExp(`inputs \\(${g.inputs.length}\\):[\\s\\S]*outputs \\(${g.outputs.length}\\):[\\s\\S]*initializers \\(${g.initializers.length}\\):`),
    );
    const lines = nodeLines(text);
    expect(lines).toHaveLength(g.nodes.length);
    g.nodes.forEach((n, i) => {
      const outs = n.outputs.map((v) => (v ? `%${v.name}` : '_')).join(', ');
      expect(lines[i]!.startsWith(`  ${outs} = ${n.opType}`)).toBe(true);
    });
  });

  it('prints inputs with their types, ops with their attributes and domains', () => {
    const text = printGraph(decodeModel(fs.readFileSync(TINY), TINY).graph);
    expect(text).toMatch(/\n {2}%sample: float32\[batch_size,4,height,width\]\n/);
    expect(text).toMatch(/= Transpose\(%[^)]+\) \{perm=\[0, 2, 3, 1\]\}/);
    expect(text).toMatch(/= Softmax\(%[^)]+\) \{axis=-1\}/);
    // Weights are described, never printed; small constants show their numbers.
    expect(text).toMatch(/\n {2}%conv_in\.weight: float32\[16,4,3,3\]\n/);
    expect(text).toMatch(/= Constant\(\) \{value=tensor int64\[3\] = \[0, -1, 16\]\}/);
    // float32 attributes in the fewest digits that read back the same.
    expect(text).toMatch(/= LayerNormalization\([^)]+\) \{axis=-1, epsilon=0\.00001\}/);
  });

  it('quotes names that are not plain, so a comma, quote or newline in a name cannot be misread', () => {
    const g = new Graph({ name: 'odd names' });
    const type = { dtype: DTYPE.float32, shape: [2] };
    const x = g.createValue('x, y', type);
    g.addInput(x);
    const said = g.createValue('say "hi"\nnext', type);
    g.createNode({ opType: 'Relu', name: 'my node', inputs: [x], outputs: [said] });
    const plain = g.createValue('/blocks.0/attn1/Softmax_output_0', type);
    g.createNode({ opType: 'Neg', name: '/blocks.0/Neg', inputs: [said], outputs: [plain] });
    g.setOutputs([plain]);
    const text = printGraph(g);
    expect(text).toContain('\n  %"x, y": float32[2]\n');
    expect(nodeLines(text)).toEqual([
      '  %"say \\"hi\\"\\nnext" = Relu(%"x, y")  # "my node"',
      '  %/blocks.0/attn1/Softmax_output_0 = Neg(%"say \\"hi\\"\\nnext")  # /blocks.0/Neg',
    ]);
  });
});

describe('the variant pipeline', () => {
  it('is declared in order, and a variant that cuts nothing runs the first pass only', () => {
    expect(VARIANT_PIPELINE).toEqual(['expose-outputs', 'cut-at-values', 'dead-code-elimination', 'prune-unused-inputs']);
    const t = { tensor: 'x', type: { dtype: 1, shape: [1] } };
    expect(variantPipeline({ exposed: [], cut: [t] }).map((p) => p.name)).toEqual([...VARIANT_PIPELINE]);
    expect(variantPipeline({ exposed: [t], cut: [] }).map((p) => p.name)).toEqual(['expose-outputs']);
  });

  it('runs per variant with records that the printed graphs agree with', async () => {
    const work = scratch();
    const seen: { variant: VariantName; record: PassRecord; text: string }[] = [];
    const r = await compile(TINY, {
      outDir: path.join(work, 'out'),
      prover: null,
      afterPass: (variant, record, graph) => seen.push({ variant, record, text: printGraph(graph, { title: variant }) }),
    });
    expect(Object.keys(r.passes)).toEqual(['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self']);
    for (const [name, records] of Object.entries(r.passes)) {
      expect(records.map((p) => p.pass)).toEqual(name === 'planning' ? ['expose-outputs'] : [...VARIANT_PIPELINE]);
      // The hook saw the same records, in the same order.
      expect(seen.filter((s) => s.variant === name).map((s) => s.record)).toEqual(records);
    }
    const fidelity = seen.filter((s) => s.variant === 'fidelity');
    const count = (text: string) => nodeLines(text).length;
    // cut-at-values adds inputs and removes nothing; dead-code-elimination removes what it says.
    const [, cut, dce, prune] = fidelity;
    expect(cut!.record.result.counts).toEqual({ inputsAdded: 2 });
    expect(count(cut!.text)).toBe(133);
    expect(count(dce!.text)).toBe(133 - dce!.record.result.counts.nodesRemoved!);
    expect(prune!.record.result.counts).toEqual({ inputsRemoved: 1 });
    expect(prune!.text).not.toMatch(/\n {2}%encoder_hidden_states:/);
    // What the last pass left is what compile wrote (nodes; the weights moved to the weights file).
    const written = printGraph(decodeModel(fs.readFileSync(path.join(work, 'out/fidelity.onnx')), 'fidelity.onnx').graph, { title: 'fidelity' });
    expect(nodeLines(written)).toEqual(nodeLines(prune!.text));
    expect(written).toMatch(/%conv_in\.weight: float32\[16,4,3,3\] external\(weights\.onnx_data@0\+2304\)/);
    fs.rmSync(work, { recursive: true, force: true });
  });
});

describe('tgate compile --print-ir-after and --json', () => {
  it('prints each variant after the named pass to stderr; --json carries the pass records', () => {
    const work = scratch();
    const r = tgate(['compile', TINY, '-o', path.join(work, 'a'), '--no-verify', '--json', '--print-ir-after', 'dead-code-elimination']);
    expect(r.status).toBe(0);
    // Planning runs expose-outputs only: three variants print.
    expect(r.stderr.match(/^--- IR of .*$/gm)).toEqual([
      '--- IR of reuse-self after dead-code-elimination: nodesRemoved 50, initializersRemoved 14',
      '--- IR of fidelity after dead-code-elimination: nodesRemoved 50, initializersRemoved 14',
      '--- IR of fidelity-reuse-self after dead-code-elimination: nodesRemoved 100, initializersRemoved 28',
    ]);
    expect(r.stderr).toMatch(/graph "fidelity-reuse-self" \{\n inputs \(/);
    const json = JSON.parse(r.stdout);
    expect(json.passes['fidelity-reuse-self']).toEqual([
      { pass: 'expose-outputs', result: { changed: false, counts: { outputsAdded: 0 } } },
      { pass: 'cut-at-values', result: { changed: true, counts: { inputsAdded: 4 } } },
      { pass: 'dead-code-elimination', result: { changed: true, counts: { nodesRemoved: 100, initializersRemoved: 28 } } },
      { pass: 'prune-unused-inputs', result: { changed: true, counts: { inputsRemoved: 1 } } },
    ]);
    // The pass records stay out of the manifest (tgate.json is unchanged by this option).
    expect(fs.readFileSync(path.join(work, 'a/tgate.json'), 'utf8')).not.toMatch(/dead-code-elimination/);
    const all = tgate(['compile', TINY, '-o', path.join(work, 'b'), '--no-verify', '--print-ir-after', 'all']);
    expect(all.status).toBe(0);
    expect(all.stderr.match(/^--- IR of /gm)).toHaveLength(1 + 3 * 4);
    // The artifacts do not depend on the option.
    for (const f of ['planning.onnx', 'fidelity.onnx', 'gated-v2-fi.onnx', 'tgate.json']) {
      expect(fs.readFileSync(path.join(work, 'b', f)).equals(fs.readFileSync(path.join(work, 'a', f)))).toBe(true);
    }
    const bad = tgate(['compile', TINY, '-o', path.join(work, 'c'), '--print-ir-after', 'dce']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--print-ir-after takes a pass of the variant pipeline or all, not "dce"\.\n.*: expose-outputs, cut-at-values/);
    fs.rmSync(work, { recursive: true, force: true });
  });
});
