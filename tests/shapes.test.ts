// Symbolic shape inference checked against the shapes onnxruntime actually produces: every
// tensor of each model is exposed as an output, the model runs at two different size bindings,
// and each inferred shape, evaluated under the binding, must equal the real one. Plus the
// symbolic algebra on its own.
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import { dtypeName } from '../ir/dtype.js';
import { concreteShape, inferShapes } from '../analyses/shapes/infer.js';
import { Sym } from '../analyses/shapes/sym.js';
import { makeFeeds } from '../runtime/prove.js';
import { writeOptimizedModel } from '../runtime/session.js';
import { writeTinyUnet } from './helpers/models.js';
import { f32, runOnce } from './helpers/ort.js';
import { FIXTURES, ROOT, scratch, sharedAvailable } from './helpers/paths.js';
import { tgate } from './helpers/cli.js';
import { inconsistentWhereSpec, withInconsistentWhere } from './helpers/inconsistent-where.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';

describe('Sym', () => {
  const h = Sym.named('height');
  const w = Sym.named('width');
  it('multiplies, adds and divides exactly, and prints canonically', () => {
    expect(h.mul(w).floorDiv(Sym.of(4))!.toString()).toBe('height/2*width/2');
    expect(h.mul(w).floorDiv(Sym.of(2))!.toString()).toBe('height*width/2');
    expect(h.mul(w).floorDiv(h)!.toString()).toBe('width');
    expect(h.add(Sym.of(2)).sub(Sym.of(3)).toString()).toBe('height-1');
    expect(Sym.of(7).floorDiv(Sym.of(2))!.value).toBe(3);
    expect(Sym.of(-1).floorDiv(Sym.of(2))!.value).toBe(-1);
    expect(h.mul(Sym.of(2)).add(h).toString()).toBe('3*height');
    expect(h.add(w).floorDiv(h)).toBeNull();
  });
  it('takes a stride as exact on the symbolic part: floor((h + 2 - 3) / 2) + 1 = h/2', () => {
    expect(
      h
        .add(Sym.of(2 - 3))
        .floorDiv(Sym.of(2))!
        .add(Sym.of(1))
        .toString(),
    ).toBe('height/2');
    expect(h.mul(w).floorDiv(Sym.of(4))!.evaluate({ height: 8, width: 6 })).toBe(12);
    expect(h.evaluate({})).toBeNull();
  });
});

/** Infers, then runs the model with every tensor exposed and compares at each binding. */
async function checkAgainstOrt(file: string, bindings: Record<string, number>[]): Promise<{ tensors: number; unknown: number }> {
  const model = decodeModel(fs.readFileSync(file), path.basename(file));
  const g = model.graph;
  const inferred = inferShapes(g);
  expect(inferred.unsupported).toEqual({});
  const inner = g.nodes.flatMap((n) => n.outputs).filter((v): v is NonNullable<typeof v> => !!v && !g.isGraphOutput(v));
  for (const v of inner) {
    v.type ??= { dtype: inferred.facts.get(v)?.dtype || 1, shape: null };
    g.addOutput(v);
  }
  const probe = path.join(scratch(), 'all-outputs.onnx');
  fs.writeFileSync(probe, encodeModel(model));
  let unknown = 0;
  let tensors = 0;
  const inputs = g.inputs.filter((v) => !v.constant).map((v) => ({ name: v.name, dtype: dtypeName(v.type!.dtype), shape: v.type!.shape! }));
  for (const sizes of bindings) {
    const out = await runOnce(probe, makeFeeds(inputs, sizes, 3));
    for (const [name, t] of Object.entries(out)) {
      const shape = concreteShape(inferred.facts.get(g.value(name)!)?.shape ?? null, sizes);
      if (!shape || shape.some((d) => d === null)) {
        unknown++;
        continue;
      }
      if (shape.join('x') !== t.dims.join('x')) throw new Error(`${name}: inferred [${shape.join(', ')}], onnxruntime [${t.dims.join(', ')}]`);
      tensors++;
    }
  }
  return { tensors, unknown };
}

describe('shape inference against onnxruntime (committed models)', () => {
  it.each([
    ['tiny-unet', 'fixtures/models/tiny-unet.onnx', 133],
    ['pixart-tiny (a PyTorch export)', 'fixtures/models/pixart-tiny.onnx', 484],
  ])('%s: every tensor, at two bindings', async (_label, file, count) => {
    const r = await checkAgainstOrt(path.join(ROOT, file), [
      { batch_size: 2, height: 8, width: 16, sequence_length: 5 },
      { batch_size: 1, height: 16, width: 8, sequence_length: 3 },
    ]);
    expect(r).toEqual({ tensors: 2 * count, unknown: 0 });
  });
});

describe('shape inference against onnxruntime (fused and optimized forms)', () => {
  const sizes = [
    { batch_size: 2, height: 8, width: 16, sequence_length: 5 },
    { batch_size: 1, height: 16, width: 8, sequence_length: 3 },
  ];
  it.each(['ms-mha', 'onnx'] as const)('fused attention (%s): every tensor', async (attention) => {
    const file = writeTinyUnet(path.join(scratch(), 'src'), { attention });
    const r = await checkAgainstOrt(file, sizes);
    expect(r.unknown).toBe(0);
    expect(r.tensors).toBeGreaterThan(100);
  });
  it('onnxruntime-optimized (FusedMatMul, SkipLayerNormalization, ...): every tensor', async () => {
    const work = scratch();
    const file = path.join(work, 'opt.onnx');
    await writeOptimizedModel(writeTinyUnet(path.join(work, 'src')), file, 'extended');
    const ops = decodeModel(fs.readFileSync(file), 'opt').graph.nodes.map((n) => n.opType);
    expect(ops).toContain('FusedMatMul');
    const r = await checkAgainstOrt(file, sizes);
    expect(r.unknown).toBe(0);
  });
});

const have = sharedAvailable('shape inference on the diffusers exports');
(have ? describe : describe.skip)('shape inference against onnxruntime (diffusers exports)', () => {
  it.each([
    ['sd15-tiny/model.onnx', 2930],
    ['sd15-tiny/model_opset14.onnx', 3110],
    ['sdxl-tiny/model.onnx', 5174],
  ])('%s: every tensor, at two bindings', async (file, count) => {
    const r = await checkAgainstOrt(path.join(FIXTURES, file), [
      { batch_size: 2, height: 16, width: 32, sequence_length: 7 },
      { batch_size: 1, height: 32, width: 16, sequence_length: 77 },
    ]);
    expect(r).toEqual({ tensors: 2 * count, unknown: 0 });
  });
});

describe('a shape rule that throws', () => {
  // A Where whose condition (2 tracked values) and branches (3 each) do not broadcast: the Where
  // rule throws on it. The analysis must not fail, and must say which node's rule failed and why.
  function inconsistentWhere(): { bytes: Uint8Array; where: string } {
    const { spec, where } = inconsistentWhereSpec();
    return { bytes: encodeModelSpec(spec), where };
  }

  it('is an invalid graph: onnxruntime refuses it', async () => {
    await expect(runOnce(inconsistentWhere().bytes, { x: f32(new Float32Array(12), [2, 6]) })).rejects.toThrow();
  });

  it('leaves the outputs unknown and records the node, op and error', () => {
    const { bytes, where } = inconsistentWhere();
    const g = decodeModel(bytes, 'inconsistent-where.onnx').graph;
    const inferred = inferShapes(g);
    expect(inferred.unsupported).toEqual({});
    expect(inferred.failures).toEqual([{ node: where, opType: 'Where', message: expect.stringMatching(/\S/) }]);
    const facts = (op: string) => inferred.facts.get(g.nodes.find((n) => n.opType === op)!.outputs[0]!)!;
    // The nodes before the failure keep what they know; the failed node and what depends on it are unknown.
    expect(facts('Equal').values!.map((v) => v!.value)).toEqual([1, 0]);
    expect(facts('Where').shape).toBeNull();
    expect(facts('Reshape').shape).toBeNull();
  });

  it('inspect --json and the text report name the failed node; compile notes it', () => {
    const work = scratch();
    const alone = path.join(work, 'where.onnx');
    const { bytes, where } = inconsistentWhere();
    fs.writeFileSync(alone, bytes);
    const r = tgate(['inspect', alone, '--json']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.shapeFailures).toEqual([{ node: where, opType: 'Where', message: expect.stringMatching(/\S/) }]);
    expect(report).not.toHaveProperty('unsupportedOps');
    const text = tgate(['inspect', alone]);
    expect(text.stdout).toMatch(new RegExp(`Shape rules that failed[\\s\\S]*${where.replace(/[/]/g, '\\/')}\\s+Where\\s+\\S`));
    // A model without failures carries no such field (the inspect goldens stay as they are).
    expect(JSON.parse(tgate(['inspect', path.join(ROOT, 'fixtures/models/tiny-unet.onnx'), '--json']).stdout)).not.toHaveProperty('shapeFailures');
    // The tiny UNet with the same Where beside it: compile (no proof: onnxruntime refuses the
    // Where) succeeds and notes the failure on stderr; --json carries it.
    const unet = withInconsistentWhere(tinyUnetSpec());
    const withUnet = path.join(work, 'unet-where.onnx');
    fs.writeFileSync(withUnet, encodeModelSpec(unet.spec));
    const c = tgate(['compile', withUnet, '-o', path.join(work, 'out'), '--no-verify', '--json']);
    expect(c.status).toBe(0);
    expect(c.stderr).toContain(`tgate: note: shape inference failed on Where node ${unet.where}: `);
    expect(JSON.parse(c.stdout).shapeFailures).toEqual([{ node: unet.where, opType: 'Where', message: expect.stringMatching(/\S/) }]);
    const quiet = tgate(['compile', path.join(ROOT, 'fixtures/models/tiny-unet.onnx'), '-o', path.join(work, 'plain'), '--no-verify', '--json']);
    expect(quiet.stderr).not.toMatch(/shape inference/);
    expect(JSON.parse(quiet.stdout)).not.toHaveProperty('shapeFailures');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('no rule fails on the committed models', () => {
    for (const file of ['tiny-unet.onnx', 'tiny-unet-self-only.onnx', 'pixart-tiny.onnx', 'pixart-tiny-ort-2d.onnx']) {
      const g = decodeModel(fs.readFileSync(path.join(ROOT, 'fixtures/models', file)), file).graph;
      expect({ file, failures: inferShapes(g).failures }).toEqual({ file, failures: [] });
    }
  });
});
