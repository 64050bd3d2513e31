// The IR keeps producer/use links right through every edit, refuses removals that would orphan a
// use (changing nothing), and the verifier catches broken graphs.
import { decodeModel } from '../io/decode.js';
import { encodeModelSpec } from '../fixtures/model-spec.js';
import type { Graph } from '../ir/graph.js';
import { verifyGraph } from '../ir/verify.js';
import { GraphBuilder } from '../fixtures/graph-builder.js';

/** x -> Relu -> a -> Neg -> b (output); a also -> Exp -> c (output). */
function chain(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [2]);
  const a = b.op('Relu', [x]);
  b.nodes.push({ op: 'Neg', inputs: [a], outputs: ['b'], name: 'neg' });
  b.nodes.push({ op: 'Exp', inputs: [a], outputs: ['c'], name: 'exp' });
  b.output('b', [2]);
  b.output('c', [2]);
  return decodeModel(encodeModelSpec(b.model()), 'chain.onnx').graph;
}

describe('IR', () => {
  it('records producers and uses', () => {
    const g = chain();
    const a = g.nodes[0]!.outputs[0]!;
    expect(a.producer).toBe(g.nodes[0]);
    expect(
      a
        .uses()
        .map((u) => u.node.opType)
        .sort(),
    ).toEqual(['Exp', 'Neg']);
    expect(g.value('x')!.uses()).toHaveLength(1);
    expect(verifyGraph(g)).toEqual([]);
  });

  it('setInput moves the use from the old value to the new one', () => {
    const g = chain();
    const neg = g.nodes[1]!;
    const x = g.value('x')!;
    const a = neg.inputs[0]!;
    neg.setInput(0, x);
    expect(a.uses().map((u) => u.node)).not.toContain(neg);
    expect(x.uses().map((u) => u.node)).toContain(neg);
    expect(verifyGraph(g)).toEqual([]);
  });

  it('uses() is a snapshot, so rewiring while iterating is safe', () => {
    const g = chain();
    const a = g.nodes[0]!.outputs[0]!;
    const x = g.value('x')!;
    const seen: string[] = [];
    for (const u of a.uses()) {
      u.node.setInput(u.index, x);
      seen.push(u.node.opType);
    }
    expect(seen.sort()).toEqual(['Exp', 'Neg']);
    expect(a.useCount).toBe(0);
  });

  it('replaceAllUsesWith rewires every use and, when asked, graph outputs', () => {
    const g = chain();
    const a = g.nodes[0]!.outputs[0]!;
    const x = g.value('x')!;
    expect(g.replaceAllUsesWith(a, x)).toBe(2);
    expect(a.useCount).toBe(0);
    const b = g.value('b')!;
    expect(g.replaceAllUsesWith(b, x, { includeGraphOutputs: true })).toBe(1);
    expect(g.outputs[0]).toBe(x);
  });

  it('refuses to remove a node whose output is used, and changes nothing', () => {
    const g = chain();
    const relu = g.nodes[0]!;
    const before = g.nodes.length;
    expect(() => g.removeNode(relu)).toThrow(/still used/);
    expect(g.nodes.length).toBe(before);
    expect(g.value('x')!.useCount).toBe(1);
    expect(verifyGraph(g)).toEqual([]);
  });

  it('refuses to remove a node producing a graph output', () => {
    const g = chain();
    expect(() => g.removeNode(g.nodes[1]!)).toThrow(/graph output/);
    expect(g.nodes).toHaveLength(3);
  });

  it('promoteToInput keeps the name and uses and leaves the producer dangling', () => {
    const g = chain();
    const relu = g.nodes[0]!;
    const a = relu.outputs[0]!;
    g.promoteToInput(a, { dtype: 1, shape: [2] });
    expect(a.producer).toBeNull();
    expect(g.isGraphInput(a)).toBe(true);
    expect(a.useCount).toBe(2);
    expect(relu.outputs[0]!.name).toBe(`${a.name}__cut`);
    expect(relu.outputs[0]!.useCount).toBe(0);
    expect(verifyGraph(g)).toEqual([]);
  });

  it('freshName never collides', () => {
    const g = chain();
    expect(g.freshName('x')).toBe('x_1');
    g.createValue('x_1');
    expect(g.freshName('x')).toBe('x_2');
    expect(g.freshName('new')).toBe('new');
    expect(() => g.createValue('x')).toThrow(/already exists/);
  });

  it('the verifier reports a use before definition', () => {
    const g = chain();
    g.setNodeOrder([g.nodes[1]!, g.nodes[0]!, g.nodes[2]!]);
    expect(verifyGraph(g).join('\n')).toMatch(/before it is defined/);
  });

  it('refuses to remove a graph input something reads', () => {
    const g = chain();
    expect(() => g.removeInput(g.value('x')!)).toThrow(/used by/);
    expect(g.inputs).toHaveLength(1);
  });
});
