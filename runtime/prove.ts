// The numerical proof of a compile: run source, planning and fidelity graphs in onnxruntime on
// seeded feeds at small sizes. Planning must reproduce the source bit for bit; fidelity, fed the
// planning graph's cached tensors, must reproduce it within tolerance; every cached tensor's
// concrete shape must match the symbolic shape the manifest claims.
import { TgateError } from '../compiler/errors.js';
import type { ProofReport, ProofRequest, TensorSpec } from '../compiler/proof.js';
import type { Dim } from '../compiler/ir/value.js';
import { toHalfBits } from '../compiler/ir/dtype.js';
import { numbersOf } from './tensor-values.js';
import { placeholder, useCacheFlag } from './placeholders.js';
import { SeededRandom } from './random.js';
import { makeTensor, openSession, type Feeds, type OrtTensor } from './session.js';

export interface ProbeOptions {
  seed?: number;
  batch?: number;
  /** Size of every other symbolic dim of a rank-4 (image) input. */
  spatial?: number;
  /** Size of every other symbolic dim (sequence lengths). */
  sequence?: number;
  /** Allowed |fidelity - source|, scaled by max(1, max |source|). */
  tolerance?: number;
}

const DEFAULTS = { seed: 1234, batch: 2, spatial: 16, sequence: 8, tolerance: 1e-4 };

/** Binds every symbolic dim of the inputs to a size; the same symbol always gets the same size. */
export function bindDims(inputs: TensorSpec[], o: Required<ProbeOptions>): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const t of inputs) {
    t.shape.forEach((d, i) => {
      if (typeof d !== 'string' || d in dims) return;
      dims[d] = i === 0 ? o.batch : t.shape.length === 4 ? o.spatial : o.sequence;
    });
  }
  return dims;
}

function concrete(shape: Dim[], dims: Record<string, number>, what: string): number[] {
  return shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (typeof d === 'string' && d in dims) return dims[d]!;
    if (d === null && i === 0) return 2;
    throw new TgateError('E_VERIFY_FAILED', `Cannot choose a size for dim ${i} of ${what} (${String(d)}).`, { subject: { tensor: what } });
  });
}

/** Evaluates a symbolic dim such as "height/2*width/2" under the bound sizes. */
export function evalDim(d: Dim, dims: Record<string, number>): number | null {
  if (typeof d === 'number') return d;
  if (typeof d !== 'string') return null;
  let value = 1;
  for (const factor of d.split('*')) {
    const [name, div] = factor.split('/');
    const base = /^\d+$/.test(name!) ? Number(name) : dims[name!];
    if (base === undefined) return null;
    value *= div === undefined ? base : base / Number(div);
  }
  return Number.isInteger(value) ? value : null;
}

export function makeFeeds(inputs: TensorSpec[], dims: Record<string, number>, seed: number): Feeds {
  const rng = new SeededRandom(seed);
  const feeds: Feeds = {};
  for (const t of inputs) {
    const shape = concrete(t.shape, dims, t.name);
    const n = shape.reduce((a, b) => a * b, 1);
    // Scalars are timesteps in diffusion models: a mid-schedule value, not noise.
    if (t.dtype === 'float32') feeds[t.name] = makeTensor('float32', shape.length === 0 ? Float32Array.of(500) : Float32Array.from({ length: n }, () => rng.normal()), shape);
    else if (t.dtype === 'float16') feeds[t.name] = makeTensor('float16', shape.length === 0 ? Uint16Array.of(toHalfBits(500)) : Uint16Array.from({ length: n }, () => toHalfBits(rng.normal())), shape);
    else if (t.dtype === 'int64') feeds[t.name] = makeTensor('int64', BigInt64Array.from({ length: n }, () => (shape.length === 0 ? 500n : 0n)), shape);
    else if (t.dtype === 'int32') feeds[t.name] = makeTensor('int32', Int32Array.from({ length: n }, () => (shape.length === 0 ? 500 : 0)), shape);
    else throw new TgateError('E_UNSUPPORTED_MODEL', `Input ${t.name} has type ${t.dtype}, which the proof cannot feed.`, { subject: { tensor: t.name }, hint: 'Compile with --no-verify.' });
  }
  return feeds;
}

function sameBits(a: OrtTensor, b: OrtTensor): boolean {
  const x = a.data as unknown as ArrayBufferView;
  const y = b.data as unknown as ArrayBufferView;
  if (x.byteLength !== y.byteLength) return false;
  const u = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const v = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
  return true;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

const PROOF_HINT = 'This is a tgate bug or an unsupported export; report it with the model, or compile with --no-verify to inspect the graphs.';

/** Opens a graph for the proof; a graph onnxruntime refuses is a failed proof, not a crash. */
async function openForProof(file: string, what: string): Promise<Awaited<ReturnType<typeof openSession>>> {
  try {
    return await openSession(file);
  } catch (cause) {
    throw new TgateError('E_VERIFY_FAILED', `onnxruntime could not load the ${what} graph: ${(cause as Error).message}`, {
      subject: { file },
      hint: PROOF_HINT,
      cause,
    });
  }
}

export async function proveArtifacts(req: ProofRequest, probe: ProbeOptions = {}): Promise<ProofReport> {
  const o = { ...DEFAULTS, ...probe };
  const dims = bindDims(req.inputs, o);
  const feeds = makeFeeds(req.inputs, dims, o.seed);
  const fail = (msg: string): never => {
    throw new TgateError('E_VERIFY_FAILED', msg, { hint: PROOF_HINT });
  };

  const source = await openForProof(req.sourcePath, 'source');
  const expected = await source.run(feeds);
  await source.release();

  const planning = await openForProof(req.planningPath, 'planning');
  const planned = await planning.run(feeds);
  await planning.release();
  for (const out of req.outputs) {
    if (!sameBits(planned[out.name]!, expected[out.name]!)) {
      const err = maxAbsDiff(numbersOf(planned[out.name]!), numbersOf(expected[out.name]!));
      fail(`The planning graph's output ${out.name} differs from the source's (max abs error ${err}); it must be bit-identical.`);
    }
  }
  for (const c of req.cached) {
    const t = planned[c.planningOutput];
    if (!t) fail(`The planning graph has no output ${c.planningOutput} for site ${c.id}.`);
    const claimed = c.shape.map((d) => evalDim(d, dims));
    if (claimed.length !== t!.dims.length || claimed.some((d, i) => d !== null && d !== t!.dims[i])) {
      fail(`Site ${c.id}: the manifest claims shape [${c.shape.join(', ')}] = [${claimed.join(', ')}] at the probe sizes, but the tensor is [${t!.dims.join(', ')}].`);
    }
  }

  const fidelityFeeds: Feeds = {};
  for (const [k, v] of Object.entries(feeds)) if (!req.fidelityDropsInputs.includes(k)) fidelityFeeds[k] = v;
  for (const c of req.cached) fidelityFeeds[c.fidelityInput] = planned[c.planningOutput]!;
  const fidelity = await openForProof(req.fidelityPath, 'fidelity');
  const got = await fidelity.run(fidelityFeeds);
  await fidelity.release();
  let worst = 0;
  let scale = 1;
  for (const out of req.outputs) {
    const e = numbersOf(expected[out.name]!);
    worst = Math.max(worst, maxAbsDiff(numbersOf(got[out.name]!), e));
    scale = Math.max(scale, maxAbs(e));
  }
  // float16 outputs: onnxruntime's CPU runs many float16 ops through inserted float32 casts, and
  // the cast placement follows the graph, so the fidelity graph may round differently from the
  // source by an ulp or two: allow 4 float16 ulps at the output's magnitude.
  const half = req.outputs.some((out) => out.dtype === 'float16');
  const tolerance = Math.max(o.tolerance * scale, half ? 4 * 2 ** (Math.floor(Math.log2(scale)) - 10) : 0);
  if (!(worst <= tolerance)) fail(`The fidelity graph fed the cached tensors differs from the source by ${worst} (tolerance ${tolerance}).`);

  // The gated model: its planning branch must give the planning graph's outputs, its fidelity
  // branch the fidelity graph's, bit for bit. Inputs the taken branch ignores get placeholders.
  const gated = await openForProof(req.gatedPath, 'gated');
  const planningFeeds: Feeds = { ...feeds, [req.useCacheInput]: useCacheFlag(false) };
  for (const c of req.cached) {
    const t = planned[c.planningOutput]!;
    planningFeeds[c.gatedInput] = placeholder(c.shape, t.dims[0]!, t.type);
  }
  const gp = await gated.run(planningFeeds);
  const fidelityGatedFeeds: Feeds = { ...feeds, [req.useCacheInput]: useCacheFlag(true) };
  for (const name of req.fidelityDropsInputs) {
    const spec = req.inputs.find((i) => i.name === name)!;
    fidelityGatedFeeds[name] = placeholder(spec.shape, feeds[name]!.dims[0] ?? 1, spec.dtype);
  }
  for (const c of req.cached) fidelityGatedFeeds[c.gatedInput] = planned[c.planningOutput]!;
  const gf = await gated.run(fidelityGatedFeeds);
  await gated.release();
  for (const out of req.outputs) {
    if (!sameBits(gp[out.name]!, planned[out.name]!)) fail(`The gated model's planning branch differs from the planning graph on ${out.name}.`);
    if (!sameBits(gf[out.name]!, got[out.name]!)) fail(`The gated model's fidelity branch differs from the fidelity graph on ${out.name}.`);
  }
  for (const c of req.cached) {
    if (!sameBits(gp[c.gatedOutput]!, planned[c.planningOutput]!)) fail(`The gated model's cache output ${c.gatedOutput} differs from the planning graph's ${c.planningOutput}.`);
  }
  return { probe: { seed: o.seed, dims }, planningBitExact: true, fidelityMaxAbsError: worst, tolerance, shapesConfirmed: true, gatedBitExact: true };
}
