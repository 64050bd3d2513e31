// Each pass on graphs built in code: where it must change something (with counts) and where it
// must not, each rewrite proven in onnxruntime against the original graph.
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import type { Model } from '../ir/model.js';
import { verifyGraph } from '../ir/verify.js';
import { runPasses } from '../passes/pass-manager.js';
import type { Pass } from '../passes/pass.js';
import { GraphBuilder } from '../fixtures/graph-builder.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { cutAtValues } from '../passes/cut-at-values.js';
import { deadCodeElimination } from '../passes/dead-code-elimination.js';
import { exposeOutputs } from '../passes/expose-outputs.js';
import { pruneUnusedInputs } from '../passes/prune-unused-inputs.js';
import { topologicalSort } from '../passes/topological-sort.js';
import { data, maxAbsDiff, runOnce, specFeeds } from './helpers/ort.js';

/** y = Relu(x) * 2 plus dead branches: a chain off x, and a dead initializer use. */
function withDeadCode(): ModelSpec {
  const b = new GraphBuilder();
  const x = b.input('x', ['n', 8]);
  const two = b.constant([2], []);
  const live = b.op('Mul', [b.op('Relu', [x]), two]);
  const dead1 = b.op('Exp', [x]);
  b.op('MatMul', [b.op('Neg', [dead1]), b.weight('unused.w', [8, 8])]);
  b.nodes.push({ op: 'Identity', inputs: [live], outputs: ['y'], name: 'out' });
  b.output('y', ['n', 8]);
  return b.model();
}

function load(spec: ModelSpec): Model {
  return decodeModel(encodeModelSpec(spec), 'test.onnx');
}

async function sameOutputs(spec: ModelSpec, rewritten: Model, dims: Record<string, number>): Promise<void> {
  const feeds = specFeeds(spec, dims);
  const a = await runOnce(encodeModelSpec(spec), feeds);
  const b = await runOnce(encodeModel(rewritten), feeds);
  for (const o of spec.outputs) expect(maxAbsDiff(data(a[o.name]), data(b[o.name]))).toBe(0);
}

function run(m: Model, passes: Pass[]) {
  return runPasses(m.graph, passes, { verifyEach: true });
}

describe('dead-code-elimination', () => {
  it('removes dead chains and the initializers only they read', async () => {
    const spec = withDeadCode();
    const m = load(spec);
    const [rec] = run(m, [deadCodeElimination]);
    expect(rec!.result).toEqual({ changed: true, counts: { nodesRemoved: 3, initializersRemoved: 1 } });
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Constant', 'Relu', 'Mul', 'Identity']);
    await sameOutputs(spec, m, { n: 3 });
  });

  it('changes nothing in a graph without dead code', () => {
    const m = load(tinyUnetSpec());
    const before = encodeModel(m);
    const [rec] = run(m, [deadCodeElimination]);
    expect(rec!.result.changed).toBe(false);
    expect(Buffer.from(encodeModel(m)).equals(Buffer.from(before))).toBe(true);
  });

  it('keeps graph inputs even when unused', () => {
    const m = load(withDeadCode());
    run(m, [deadCodeElimination]);
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['x']);
  });
});

describe('topological-sort', () => {
  it('keeps an already sorted graph exactly as it is', () => {
    const m = load(tinyUnetSpec());
    const order = m.graph.nodes.slice();
    const [rec] = run(m, [topologicalSort]);
    expect(rec!.result).toEqual({ changed: false, counts: { nodesMoved: 0 } });
    expect(m.graph.nodes).toEqual(order);
  });

  it('sorts a shuffled graph, and the result runs identically', async () => {
    const spec = tinyUnetSpec();
    // decode sorts an unsorted file itself (io/decode.ts); an edit can still leave the IR unsorted.
    const m = load(spec);
    m.graph.setNodeOrder(m.graph.nodes.slice().reverse());
    expect(verifyGraph(m.graph).length).toBeGreaterThan(0);
    const [rec] = run(m, [topologicalSort]);
    expect(rec!.result.changed).toBe(true);
    expect(verifyGraph(m.graph)).toEqual([]);
    await sameOutputs(spec, m, { batch_size: 1, height: 8, width: 8, sequence_length: 5 });
  });
});

describe('expose-outputs', () => {
  it('adds intermediate tensors as outputs without changing the original outputs', async () => {
    const spec = withDeadCode();
    const m = load(spec);
    const relu = m.graph.nodes.find((n) => n.opType === 'Relu')!.outputs[0]!.name;
    const [rec] = run(m, [exposeOutputs([{ tensor: relu, type: { dtype: 1, shape: ['n', 8] } }])]);
    expect(rec!.result.counts).toEqual({ outputsAdded: 1 });
    expect(m.graph.outputs.map((v) => v.name)).toEqual(['y', relu]);
    await sameOutputs(spec, m, { n: 2 });
    const feeds = specFeeds(spec, { n: 2 });
    const out = await runOnce(encodeModel(m), feeds);
    const x = data(feeds.x);
    expect(Array.from(data(out[relu]))).toEqual(Array.from(x, (v) => Math.max(0, v)));
  });

  it('does nothing for a tensor that is already an output', () => {
    const m = load(withDeadCode());
    const [rec] = run(m, [exposeOutputs([{ tensor: 'y', type: { dtype: 1, shape: ['n', 8] } }])]);
    expect(rec!.result.changed).toBe(false);
    expect(m.graph.outputs).toHaveLength(1);
  });

  it('fails with the tensor named when it does not exist', () => {
    const m = load(withDeadCode());
    expect(() => run(m, [exposeOutputs([{ tensor: 'nope', type: { dtype: 1, shape: [] } }])])).toThrow(/expose-outputs.*"nope"/);
  });
});

describe('cut-at-values', () => {
  it('replaces a computed tensor by an input; dead-code-elimination then removes what only fed it', async () => {
    const spec = withDeadCode();
    const m = load(spec);
    const reluOut = m.graph.nodes.find((n) => n.opType === 'Relu')!.outputs[0]!.name;
    const nodes = m.graph.nodes.length;
    const [cut] = run(m, [cutAtValues([{ tensor: reluOut, type: { dtype: 1, shape: ['n', 8] } }])]);
    // The cut only adds the input: the orphaned producer is the next pass's to remove.
    expect(cut!.result).toEqual({ changed: true, counts: { inputsAdded: 1 } });
    expect(m.graph.nodes).toHaveLength(nodes);
    const [dce] = run(m, [deadCodeElimination]);
    expect(dce!.result.counts).toEqual({ nodesRemoved: 4, initializersRemoved: 1 });
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['x', reluOut]);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Constant', 'Mul', 'Identity']);
    // Fed the value the original computed, the cut graph gives the original output.
    const feeds = specFeeds(spec, { n: 4 });
    const orig = await runOnce(encodeModelSpec(spec), feeds);
    const x = data(feeds.x);
    const relu = Float32Array.from(x, (v) => Math.max(0, v));
    const { f32 } = await import('./helpers/ort.js');
    const got = await runOnce(encodeModel(m), { x: feeds.x!, [reluOut]: f32(relu, [4, 8]) });
    expect(maxAbsDiff(data(got.y), data(orig.y))).toBe(0);
  });

  it('leaves a tensor that is already an input alone', () => {
    const m = load(withDeadCode());
    const [rec] = run(m, [cutAtValues([{ tensor: 'x', type: { dtype: 1, shape: ['n', 8] } }])]);
    expect(rec!.result.counts.inputsAdded).toBe(0);
    expect(m.graph.inputs).toHaveLength(1);
  });
});

describe('prune-unused-inputs', () => {
  it('removes inputs nothing reads and keeps the rest', () => {
    const spec = withDeadCode();
    spec.inputs.push({ name: 'unused', dtype: 1, shape: [3] });
    const m = load(spec);
    const [rec] = run(m, [pruneUnusedInputs]);
    expect(rec!.result.counts).toEqual({ inputsRemoved: 1 });
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['x']);
  });

  it('does nothing when every input is read', () => {
    const m = load(withDeadCode());
    const [rec] = run(m, [pruneUnusedInputs]);
    expect(rec!.result.changed).toBe(false);
  });
});

describe('pass manager', () => {
  it('names the failing pass and what ran before it', () => {
    const m = load(withDeadCode());
    const broken: Pass = {
      name: 'breaker',
      run: () => {
        throw new Error('boom');
      },
    };
    expect(() => run(m, [deadCodeElimination, broken])).toThrow(/Pass breaker failed \(after dead-code-elimination\): boom/);
  });

  it('catches a pass that leaves the graph invalid', () => {
    const m = load(withDeadCode());
    const scrambler: Pass = {
      name: 'scrambler',
      run: (g) => {
        g.setNodeOrder(g.nodes.slice().reverse());
        return { changed: true, counts: {} };
      },
    };
    expect(() => run(m, [scrambler])).toThrow(/scrambler left an invalid graph/);
  });
});
