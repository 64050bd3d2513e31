// The gated model's structural check on real gated models, built as compile builds them from the
// committed tiny UNet: the model as built passes and runs in onnxruntime; a copy broken in one
// way (a flag of another type, a branch missing an output, a branch reading a name nothing
// defines, an output of another element type) is refused with E_INTERNAL naming the If; a variant
// graph that does not type what the gated model needs is refused before anything is guessed.
import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import ort from 'onnxruntime-node';
import { ModelProtoSchema, TensorProto_DataType as DT, type GraphProto, type ModelProto, type ValueInfoProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { planSites, readSource } from '../build/compile-plan.js';
import { planGatedModel, type GatedBranch } from '../build/gated-model.js';
import { buildVariant, variantsFor, type VariantName } from '../build/variants.js';
import { decodeModel } from '../io/decode.js';
import { encodeModel } from '../io/encode.js';
import { checkGatedModel, encodeGatedModelPlan } from '../io/gated-model-proto.js';
import { evalDim } from '../ir/dims.js';
import { DTYPE } from '../ir/dtype.js';
import { data, maxAbsDiff, runOnce } from './helpers/ort.js';
import { ROOT } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SET: VariantName[] = ['planning', 'reuse-self', 'fidelity'];

/** The variants of gated-v2.onnx, built from the tiny UNet as compile builds them. */
function build() {
  const src = readSource(TINY);
  const sites = planSites(src, undefined);
  const variants = variantsFor(sites.targets).map((spec) => buildVariant(() => src.loaded.decode(), spec, sites.targets));
  const branches: GatedBranch[] = SET.map((name) => {
    const v = variants.find((x) => x.spec.name === name)!;
    return { name, model: v.model, cuts: v.cuts };
  });
  const caches = sites.cachedSites.map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor }));
  return { branches, caches, sites };
}

const built = build();
const { plan, variants: io } = planGatedModel(built.branches, built.caches);
const bytes = encodeGatedModelPlan(plan);
/** A fresh copy of the gated model, to break. */
const fresh = (): ModelProto => fromBinary(ModelProtoSchema, bytes);

const ifOf = (m: ModelProto, variant: string) => m.graph!.node.find((n) => n.name === `tgate/${variant}`)!;
const branchOf = (m: ModelProto, variant: string, which: 'then_branch' | 'else_branch'): GraphProto =>
  ifOf(m, variant).attribute.find((a) => a.name === which)!.g!;
function setElemType(vi: ValueInfoProto, dtype: number): void {
  if (vi.type?.value.case !== 'tensorType') throw new Error(`${vi.name} has no tensor type`);
  vi.type.value.value.elemType = dtype;
}

/** The TgateError fn throws (failing the test when it throws nothing, or something else). */
function refusal(fn: () => void): TgateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TgateError);
    return e as TgateError;
  }
  throw new Error('expected a refusal, got none');
}

describe('the gated model check', () => {
  it('passes the gated model as built; each then-branch gives its variant graph outputs', () => {
    const m = fresh();
    expect(() => checkGatedModel(m, plan)).not.toThrow();
    expect(m.graph!.node.map((n) => n.opType)).toEqual(['If', 'If', 'If']);
    for (const b of built.branches) {
      const then = branchOf(m, b.name, 'then_branch');
      expect(then.output).toHaveLength(b.model.graph.outputs.length);
      expect(then.output[0]!.name).toBe(io.find((v) => v.name === b.name)!.output);
      expect(then.output.slice(1).map((o) => o.name)).toEqual(b.model.graph.outputs.slice(1).map((v) => v.name));
    }
  });

  it('runs in onnxruntime: the planning branch gives what the planning variant gives, the others empty tensors', async () => {
    const sizes = { batch_size: 1, height: 8, width: 8, sequence_length: 5 };
    const feeds: Record<string, ort.Tensor> = {};
    decodeModel(bytes, 'gated.onnx').graph.inputs.forEach((v, k) => {
      const dims = v.type!.shape!.map((d) => evalDim(d ?? 1, sizes)!);
      const n = dims.reduce((a, d) => a * d, 1);
      if (v.type!.dtype === DTYPE.bool) feeds[v.name] = new ort.Tensor('bool', Uint8Array.of(v.name === 'tgate.run.planning' ? 1 : 0), dims);
      else
        feeds[v.name] = new ort.Tensor(
          'float32',
          Float32Array.from({ length: n }, (_, j) => Math.sin(j * 0.37 + k)),
          dims,
        );
    });
    const planning = built.branches.find((b) => b.name === 'planning')!.model;
    const alone = await runOnce(encodeModel(planning), Object.fromEntries(planning.graph.inputs.map((v) => [v.name, feeds[v.name]!])));
    const gated = await runOnce(bytes, feeds);
    const names = io.find((v) => v.name === 'planning')!;
    const sites = Object.entries(names.siteOutputs);
    expect(sites.length).toBe(built.caches.length);
    expect(maxAbsDiff(data(gated[names.output]), data(alone[planning.graph.outputs[0]!.name]))).toBe(0);
    for (const [id, out] of sites) expect(maxAbsDiff(data(gated[out]), data(alone[built.caches.find((c) => c.id === id)!.tensor]))).toBe(0);
    expect(gated[io.find((v) => v.name === 'fidelity')!.output]!.dims).toEqual([0, 0, 0]);
  });

  it('refuses a flag that is not a bool scalar', () => {
    const m = fresh();
    setElemType(
      m.graph!.input.find((vi) => vi.name === 'tgate.run.fidelity')!,
      DT.FLOAT,
    );
    const e = refusal(() => checkGatedModel(m, plan));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.subject.node).toBe('tgate/fidelity');
    expect(e.message).toMatch(/not switched by a bool scalar graph input/);
  });

  it('refuses a then-branch missing one of its variant outputs', () => {
    const m = fresh();
    const then = branchOf(m, 'planning', 'then_branch');
    expect(then.output.length).toBeGreaterThan(1);
    then.output.pop();
    const e = refusal(() => checkGatedModel(m, plan));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.subject.node).toBe('tgate/planning');
    expect(e.message).toMatch(/then-branch of tgate\/planning gives \d+ outputs, its variant \d+/);
  });

  it('refuses a branch reading a value the outer graph does not define', () => {
    const m = fresh();
    const reader = branchOf(m, 'fidelity', 'then_branch').node.find((n) => n.input.some((i) => i.startsWith('tgate.cache.')))!;
    const k = reader.input.findIndex((i) => i.startsWith('tgate.cache.'));
    reader.input[k] = 'tgate.cache.nowhere';
    const e = refusal(() => checkGatedModel(m, plan));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.subject.node).toBe('tgate/fidelity');
    expect(e.message).toMatch(/reads "tgate\.cache\.nowhere", which the outer graph does not define/);
    // The same when the outer cache input itself is missing.
    const m2 = fresh();
    m2.graph!.input = m2.graph!.input.filter((vi) => !vi.name.startsWith('tgate.cache.'));
    const e2 = refusal(() => checkGatedModel(m2, plan));
    expect(e2.code).toBe('E_INTERNAL');
    expect(e2.message).toMatch(/reads "tgate\.cache\.[^"]+", which the outer graph does not define/);
  });

  it('refuses an output of another element type than the variant gives (then-branch, graph output)', () => {
    const m = fresh();
    setElemType(branchOf(m, 'planning', 'then_branch').output[1]!, DT.FLOAT16);
    const e = refusal(() => checkGatedModel(m, plan));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.message).toMatch(/of the then-branch of tgate\/planning is not of the variant's element type 1/);
    const m3 = fresh();
    setElemType(m3.graph!.output[0]!, DT.FLOAT16);
    expect(refusal(() => checkGatedModel(m3, plan)).message).toMatch(/of tgate\/planning is not a graph output of the variant's element type/);
  });

  it("ties the manifest's entries to the If nodes: its flag, its output and its site outputs", () => {
    // The entries as planned name each If's condition and outputs.
    plan.entries.forEach((e, i) => {
      const n = fresh().graph!.node[i]!;
      expect(e).toBe(io[i]);
      expect(n.input).toEqual([e.flag]);
      expect(n.output[0]).toBe(e.output);
      for (const name of Object.values(e.siteOutputs)) expect(n.output.slice(1)).toContain(name);
    });
    const entry = (name: string, change: Partial<(typeof io)[number]>) => ({
      ...plan,
      entries: plan.entries.map((e) => (e.name === name ? { ...e, ...change } : e)),
    });
    const flag = refusal(() => checkGatedModel(fresh(), entry('fidelity', { flag: 'tgate.run.planning' })));
    expect(flag.code).toBe('E_INTERNAL');
    expect(flag.subject.node).toBe('tgate/fidelity');
    expect(flag.message).toMatch(/manifest runs the fidelity variant by "tgate\.run\.planning", but tgate\/fidelity is switched by "tgate\.run\.fidelity"/);
    const planningOut = io.find((v) => v.name === 'planning')!.output;
    expect(refusal(() => checkGatedModel(fresh(), entry('reuse-self', { output: planningOut }))).message).toMatch(
      /manifest's output "tgate\.planning\.[^"]+" of the reuse-self variant is not the first output "tgate\.reuse-self\.[^"]+" of tgate\/reuse-self/,
    );
    const [id, site] = Object.entries(io.find((v) => v.name === 'planning')!.siteOutputs)[0]!;
    expect(refusal(() => checkGatedModel(fresh(), entry('fidelity', { siteOutputs: { [id]: site } }))).message).toMatch(
      /manifest's site output "tgate\.planning\.cache_out\.[^"]+" of the fidelity variant is not an output of tgate\/fidelity/,
    );
    expect(refusal(() => checkGatedModel(fresh(), { ...plan, entries: plan.entries.slice(1) })).message).toMatch(
      /3 nodes and 2 manifest entries for 3 variants/,
    );
  });

  it('refuses a cache input of another element type than the variant it feeds reads', () => {
    const { branches, caches } = build();
    // reuse-self is fed its self-attention sites; planning (the base) still computes them as float32.
    const fed = caches.find((c) => c.kind === 'self')!;
    const input = branches.find((b) => b.name === 'reuse-self')!.model.graph.value(fed.tensor)!;
    input.type = { dtype: DTYPE.float16, shape: input.type!.shape };
    const e = refusal(() => encodeGatedModelPlan(planGatedModel(branches, caches).plan));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.message).toMatch(
      new RegExp(`the variant input "${fed.tensor.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" of tgate/reuse-self is not an outer input "tgate\\.cache\\.`),
    );
  });

  it('refuses to plan when a variant output has no element type (no float32 guess)', () => {
    const { branches, caches } = build();
    const fidelity = branches.find((b) => b.name === 'fidelity')!.model.graph;
    fidelity.outputs[fidelity.outputs.length - 1]!.type = null;
    const e = refusal(() => planGatedModel(branches, caches));
    expect(e.code).toBe('E_INTERNAL');
    expect(e.subject.tensor).toBe(fidelity.outputs[fidelity.outputs.length - 1]!.name);
  });
});
