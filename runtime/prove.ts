// The numerical proof of a compile: run the source and every variant in onnxruntime on seeded
// feeds at small sizes. Planning must reproduce the source bit for bit; every variant that takes
// caches, fed the planning graph's site outputs, must reproduce it within tolerance; every cached
// tensor's concrete shape must match the symbolic shape the manifest claims; every gated model's
// branches must equal their variant graphs bit for bit.
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import type { ProofReport, ProofRequest, TensorSpec } from '../build/proof.js';
import type { Dim } from '../ir/value.js';
import { evalDim } from '../ir/dims.js';
import { toHalfBits } from '../ir/dtype.js';
import { numbersOf } from './tensor-values.js';
import { placeholder, runFlag } from './placeholders.js';
import { sampleOrderError } from './prove-rows.js';
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

export { evalDim };

export function makeFeeds(inputs: TensorSpec[], dims: Record<string, number>, seed: number): Feeds {
  const rng = new SeededRandom(seed);
  const feeds: Feeds = {};
  for (const t of inputs) {
    const shape = concrete(t.shape, dims, t.name);
    const n = shape.reduce((a, b) => a * b, 1);
    // Scalars are timesteps in diffusion models: a mid-schedule value, not noise.
    if (t.dtype === 'float32')
      feeds[t.name] = makeTensor('float32', shape.length === 0 ? Float32Array.of(500) : Float32Array.from({ length: n }, () => rng.normal()), shape);
    else if (t.dtype === 'float16')
      feeds[t.name] = makeTensor(
        'float16',
        shape.length === 0 ? Uint16Array.of(toHalfBits(500)) : Uint16Array.from({ length: n }, () => toHalfBits(rng.normal())),
        shape,
      );
    else if (t.dtype === 'int64')
      feeds[t.name] = makeTensor(
        'int64',
        BigInt64Array.from({ length: n }, () => (shape.length === 0 ? 500n : 0n)),
        shape,
      );
    else if (t.dtype === 'int32')
      feeds[t.name] = makeTensor(
        'int32',
        Int32Array.from({ length: n }, () => (shape.length === 0 ? 500 : 0)),
        shape,
      );
    else
      throw new TgateError('E_UNSUPPORTED_MODEL', `Input ${t.name} has type ${t.dtype}, which the proof cannot feed.`, {
        subject: { tensor: t.name },
        hint: 'Compile with --no-verify.',
      });
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

function withinTolerance(dtype: string, scale: number, tolerance: number): number {
  // float16 outputs: onnxruntime's CPU runs many float16 ops through inserted float32 casts, and
  // the cast placement follows the graph, so a cut graph may round differently from the source
  // by an ulp or two: allow 4 float16 ulps at the output's magnitude.
  return Math.max(tolerance * scale, dtype === 'float16' ? 4 * 2 ** (Math.floor(Math.log2(scale)) - 10) : 0);
}

export async function proveArtifacts(req: ProofRequest, probe: ProbeOptions = {}): Promise<ProofReport> {
  const o = { ...DEFAULTS, ...probe };
  const dims = bindDims(req.inputs, o);
  const feeds = makeFeeds(req.inputs, dims, o.seed);
  const fail = (msg: string): never => {
    throw new TgateError('E_VERIFY_FAILED', msg, { hint: PROOF_HINT });
  };
  const runGraph = async (file: string, what: string, f: Feeds): Promise<Record<string, OrtTensor>> => {
    const session = await openForProof(path.join(req.dir, file), what);
    try {
      return await session.run(f);
    } finally {
      await session.release();
    }
  };

  const source = await openForProof(req.sourcePath, 'source');
  const expected = await source.run(feeds);
  await source.release();

  const planningSpec = req.variants.find((v) => v.name === 'planning')!;
  const results = new Map<string, Record<string, OrtTensor>>();
  const planned = await runGraph(planningSpec.file, 'planning', feeds);
  results.set('planning', planned);
  for (const out of req.outputs) {
    if (!sameBits(planned[out.name]!, expected[out.name]!)) {
      const err = maxAbsDiff(numbersOf(planned[out.name]!), numbersOf(expected[out.name]!));
      fail(`The planning graph's output ${out.name} differs from the source's (max abs error ${err}); it must be bit-identical.`);
    }
  }
  for (const c of req.cached) {
    const t = planned[c.tensor];
    if (!t) fail(`The planning graph has no output ${c.tensor} for site ${c.id}.`);
    const claimed = c.shape.map((d) => evalDim(d, dims));
    if (claimed.length !== t!.dims.length || claimed.some((d, i) => d !== null && d !== t!.dims[i])) {
      fail(
        `Site ${c.id}: the manifest claims shape [${c.shape.join(', ')}] = [${claimed.join(', ')}] at the probe sizes, but the tensor is [${t!.dims.join(', ')}].`,
      );
    }
  }
  // The CFG mean pairs the halves of each cut: they must be the halves of the batch (prove-rows.ts).
  const order = await sampleOrderError(req.cached, feeds, planned, (f) => runGraph(planningSpec.file, 'planning', f), o.tolerance);
  if (order) fail(order);

  // Every other variant, fed the planning graph's site outputs at the same inputs, must give the
  // source's outputs (and the site outputs it still computes) within tolerance.
  const role = (v: ProofRequest['variants'][number], c: ProofRequest['cached'][number]) => (c.kind === 'cross' ? v.cross : v.self);
  const scaleOf = (t: OrtTensor) => Math.max(1, maxAbs(numbersOf(t)));
  const tolerances: number[] = [];
  const errors: Record<string, number> = {};
  for (const v of req.variants) {
    if (v.name === 'planning') continue;
    const f: Feeds = {};
    for (const [k, t] of Object.entries(feeds)) if (!v.removedInputs.includes(k)) f[k] = t;
    for (const c of req.cached) if (role(v, c) === 'input') f[c.tensor] = planned[c.tensor]!;
    const got = await runGraph(v.file, v.name, f);
    results.set(v.name, got);
    let worst = 0;
    for (const out of req.outputs) {
      const tol = withinTolerance(out.dtype, scaleOf(expected[out.name]!), o.tolerance);
      tolerances.push(tol);
      const err = maxAbsDiff(numbersOf(got[out.name]!), numbersOf(expected[out.name]!));
      if (!(err <= tol)) fail(`The ${v.name} graph fed the cached tensors differs from the source on ${out.name} by ${err} (tolerance ${tol}).`);
      worst = Math.max(worst, err);
    }
    for (const c of req.cached) {
      if (role(v, c) !== 'output') continue;
      const tol = withinTolerance(planned[c.tensor]!.type, scaleOf(planned[c.tensor]!), o.tolerance);
      const err = maxAbsDiff(numbersOf(got[c.tensor]!), numbersOf(planned[c.tensor]!));
      if (!(err <= tol)) fail(`The ${v.name} graph's output for site ${c.id} differs from the planning graph's by ${err} (tolerance ${tol}).`);
    }
    errors[v.name] = worst;
  }

  // Every gated model: each branch must give its variant's outputs bit for bit. Inputs the taken
  // branch ignores get placeholders.
  for (const g of req.gated) {
    const session = await openForProof(path.join(req.dir, g.file), `gated (${g.file})`);
    try {
      const fedByAny = req.cached.filter((c) =>
        g.variants.some(
          (x) =>
            role(
              req.variants.find((v) => v.name === x.name)!,
              c,
            ) === 'input',
        ),
      );
      for (const gv of g.variants) {
        const v = req.variants.find((x) => x.name === gv.name)!;
        const f: Feeds = { ...feeds };
        for (const other of g.variants) f[other.flag] = runFlag(other === gv);
        for (const n of v.removedInputs) {
          const spec = req.inputs.find((i) => i.name === n)!;
          f[n] = placeholder(spec.shape, feeds[n]!.dims[0] ?? 1, spec.dtype);
        }
        for (const c of fedByAny) {
          const t = planned[c.tensor]!;
          f[c.gatedInput] = role(v, c) === 'input' ? t : placeholder(c.shape, t.dims[0]!, t.type);
        }
        const fetch = [gv.output, ...Object.values(gv.siteOutputs)];
        const got = await session.run(f, fetch);
        const want = results.get(gv.name)!;
        const outName = req.outputs[0]!.name;
        if (!sameBits(got[gv.output]!, want[outName]!)) fail(`${g.file}: the ${gv.name} branch differs from ${v.file} on ${outName}.`);
        for (const c of req.cached) {
          const name = gv.siteOutputs[c.id];
          if (role(v, c) === 'output' && (!name || !sameBits(got[name]!, want[c.tensor]!)))
            fail(`${g.file}: the ${gv.name} branch's ${name ?? '(missing)'} differs from ${v.file}'s ${c.tensor}.`);
        }
      }
    } finally {
      await session.release();
    }
  }
  return {
    probe: { seed: o.seed, dims },
    planningBitExact: true,
    fidelityMaxAbsError: errors['fidelity'] ?? 0,
    variantMaxAbsErrors: errors,
    tolerance: Math.max(0, ...tolerances),
    shapesConfirmed: true,
    gatedBitExact: true,
  };
}
