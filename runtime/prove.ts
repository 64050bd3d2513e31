// The numerical proof of a compile: run the source and every variant in onnxruntime on seeded
// feeds at small sizes. Planning must reproduce the source bit for bit; every variant that takes
// caches, fed the planning graph's site outputs, must reproduce it within tolerance; every cached
// tensor's concrete shape must match the symbolic shape the manifest claims; every gated model's
// branches must equal their variant graphs bit for bit. Every variant and gated model runs
// through the sampler's variant-runner.ts, so the proof exercises the sampler's feeding code.
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { gatedSourceOutputs } from '../build/gated-model.js';
import { latentInput } from '../build/latent-factor.js';
import type { ProofReport, ProofRequest } from '../build/proof.js';
import { evalDim } from '../ir/dims.js';
import { numbersOf } from './tensor-values.js';
import { bindDims, makeFeeds, PROBE_DEFAULTS, type ProbeOptions } from './probe-feeds.js';
import { sampleOrderError } from './prove-rows.js';
import { openSession, type Feeds, type OrtTensor } from './session.js';
import { runnerLayout, VariantRunner, type RunnerLayout, type RunnerSite, type RunSession, type VariantSessions } from './variant-runner.js';

export { bindDims, makeFeeds, type ProbeOptions } from './probe-feeds.js';
export { evalDim };

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

function fail(msg: string): never {
  throw new TgateError('E_VERIFY_FAILED', msg, { hint: PROOF_HINT });
}

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

const scaleOf = (t: OrtTensor) => Math.max(1, maxAbs(numbersOf(t)));

/** onnxruntime's own failures reach compile as they are: the proof is not the sampler's user-facing run. */
const runRaw: RunSession = (session, feeds, fetches) => session.run(feeds, fetches);

/** What every check shares: the request, the probe, and the runner's view of the compiled graphs. */
interface Probe {
  req: ProofRequest;
  tolerance: number;
  feeds: Feeds;
  /** The probe batch: the latent's rows (a static export's own batch, so rows are never repeated). */
  batch: number;
  layout: RunnerLayout;
  /** The planning graph's site outputs by site id: the caches every other variant is fed. */
  caches: ReadonlyMap<string, OrtTensor>;
}

/** The proof request's parts of the runner's layout; a cut's dtype is known once the planning graph ran. */
function proofLayout(req: ProofRequest, dtypes: ReadonlyMap<string, string>): RunnerLayout {
  return runnerLayout({
    inputs: req.inputs,
    outputs: req.outputs.map((o) => o.name),
    variants: req.variants,
    sites: req.cached.map((c): RunnerSite => ({ ...c, dtype: dtypes.get(c.id) ?? 'float32' })),
  });
}

/** Runs one variant through the runner; returns its outputs and fetched sites by tensor name (as the graph names them). */
async function runVariant(
  p: Probe,
  sessions: VariantSessions,
  variant: string,
  feeds: Feeds,
  fetch: readonly RunnerSite[],
): Promise<Record<string, OrtTensor>> {
  const res = await new VariantRunner(p.layout, sessions, runRaw).call({ variant, batch: p.batch, feeds, caches: p.caches, fetch });
  return { ...res.outputs, ...Object.fromEntries(fetch.map((c) => [c.tensor, res.sites.get(c.id)!])) };
}

export async function proveArtifacts(req: ProofRequest, probe: ProbeOptions = {}): Promise<ProofReport> {
  const o = { ...PROBE_DEFAULTS, ...probe };
  const dims = bindDims(req.inputs, o);
  const feeds = makeFeeds(req.inputs, dims, o.seed);
  const latent = latentInput(req.inputs);
  const p: Probe = {
    req,
    tolerance: o.tolerance,
    feeds,
    batch: (latent && feeds[latent.name]?.dims[0]) ?? o.batch,
    layout: proofLayout(req, new Map()),
    caches: new Map(),
  };

  const source = await openForProof(req.sourcePath, 'source');
  const expected = await source.run(feeds);
  await source.release();

  const planned = await provePlanning(p, dims, expected);
  p.layout = proofLayout(req, new Map(req.cached.map((c) => [c.id, planned[c.tensor]!.type])));
  p.caches = new Map(req.cached.map((c) => [c.id, planned[c.tensor]!]));
  const { results, errors, tolerances } = await proveVariants(p, planned, expected);
  for (const g of req.gated) await proveGated(p, g, results);
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

/**
 * The planning graph (run through the runner over its own session): its outputs bit-identical to
 * the source's, every cut of the shape the manifest claims, its rows sample-major (prove-rows.ts).
 */
async function provePlanning(p: Probe, dims: Record<string, number>, expected: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
  const { req } = p;
  const spec = req.variants.find((v) => v.name === 'planning')!;
  const session = await openForProof(path.join(req.dir, spec.file), 'planning');
  try {
    for (const c of req.cached) if (!session.outputNames.includes(c.tensor)) fail(`The planning graph has no output ${c.tensor} for site ${c.id}.`);
    const sessions: VariantSessions = { kind: 'separate', sessions: new Map([['planning', session]]) };
    const run = (f: Feeds) => runVariant(p, sessions, 'planning', f, p.layout.sites);
    const planned = await run(p.feeds);
    for (const out of req.outputs) {
      if (!sameBits(planned[out.name]!, expected[out.name]!)) {
        const err = maxAbsDiff(numbersOf(planned[out.name]!), numbersOf(expected[out.name]!));
        fail(`The planning graph's output ${out.name} differs from the source's (max abs error ${err}); it must be bit-identical.`);
      }
    }
    for (const c of req.cached) {
      const t = planned[c.tensor]!;
      const claimed = c.shape.map((d) => evalDim(d, dims));
      if (claimed.length !== t.dims.length || claimed.some((d, i) => d !== null && d !== t.dims[i])) {
        fail(
          `Site ${c.id}: the manifest claims shape [${c.shape.join(', ')}] = [${claimed.join(', ')}] at the probe sizes, but the tensor is [${t.dims.join(', ')}].`,
        );
      }
    }
    // The CFG mean pairs the halves of each cut: they must be the halves of the batch (prove-rows.ts).
    const order = await sampleOrderError(req.cached, p.feeds, planned, run, p.tolerance, p.batch);
    if (order) fail(order);
    return planned;
  } finally {
    await session.release();
  }
}

/**
 * Every other variant, fed the planning graph's site outputs at the same inputs, must give the
 * source's outputs (and the site outputs it still computes) within tolerance.
 */
async function proveVariants(p: Probe, planned: Record<string, OrtTensor>, expected: Record<string, OrtTensor>) {
  const { req } = p;
  const results = new Map<string, Record<string, OrtTensor>>([['planning', planned]]);
  const tolerances: number[] = [];
  const errors: Record<string, number> = {};
  for (const v of req.variants) {
    if (v.name === 'planning') continue;
    const computed = p.layout.sites.filter((c) => v.cuts[c.id] === 'output');
    const session = await openForProof(path.join(req.dir, v.file), v.name);
    let got: Record<string, OrtTensor>;
    try {
      got = await runVariant(p, { kind: 'separate', sessions: new Map([[v.name, session]]) }, v.name, p.feeds, computed);
    } finally {
      await session.release();
    }
    results.set(v.name, got);
    let worst = 0;
    for (const out of req.outputs) {
      const tol = withinTolerance(out.dtype, scaleOf(expected[out.name]!), p.tolerance);
      tolerances.push(tol);
      const err = maxAbsDiff(numbersOf(got[out.name]!), numbersOf(expected[out.name]!));
      if (!(err <= tol)) fail(`The ${v.name} graph fed the cached tensors differs from the source on ${out.name} by ${err} (tolerance ${tol}).`);
      worst = Math.max(worst, err);
    }
    for (const c of computed) {
      const tol = withinTolerance(planned[c.tensor]!.type, scaleOf(planned[c.tensor]!), p.tolerance);
      const err = maxAbsDiff(numbersOf(got[c.tensor]!), numbersOf(planned[c.tensor]!));
      if (!(err <= tol)) fail(`The ${v.name} graph's output for site ${c.id} differs from the planning graph's by ${err} (tolerance ${tol}).`);
    }
    errors[v.name] = worst;
  }
  return { results, errors, tolerances };
}

/**
 * A gated model: each branch, run through the runner as the sampler runs it (its flag set, the
 * inputs it ignores given placeholders), must give its variant's outputs bit for bit.
 */
async function proveGated(p: Probe, g: ProofRequest['gated'][number], results: Map<string, Record<string, OrtTensor>>): Promise<void> {
  const { req } = p;
  const session = await openForProof(path.join(req.dir, g.file), `gated (${g.file})`);
  try {
    for (const gv of g.variants) {
      const v = req.variants.find((x) => x.name === gv.name)!;
      const computed = p.layout.sites.filter((c) => v.cuts[c.id] === 'output');
      const lost = computed.find((c) => !gv.siteOutputs[c.id]);
      if (lost) {
        throw new TgateError(
          'E_VERIFY_FAILED',
          `${g.file}: the ${gv.name} branch does not output site ${lost.id} (${lost.tensor}), which ${v.file} computes.`,
          {
            subject: { file: path.join(req.dir, g.file), tensor: lost.tensor },
            hint: PROOF_HINT,
          },
        );
      }
      const got = await runVariant(p, { kind: 'gated', session, model: g }, gv.name, p.feeds, computed);
      const want = results.get(gv.name)!;
      const gatedNames = gatedSourceOutputs(
        gv,
        req.outputs.map((o) => o.name),
      );
      req.outputs.forEach((o, i) => {
        if (!sameBits(got[o.name]!, want[o.name]!)) fail(`${g.file}: the ${gv.name} branch's ${gatedNames[i]} differs from ${v.file}'s ${o.name}.`);
      });
      for (const c of computed) {
        if (!sameBits(got[c.tensor]!, want[c.tensor]!))
          fail(`${g.file}: the ${gv.name} branch's ${gv.siteOutputs[c.id]} differs from ${v.file}'s ${c.tensor}.`);
      }
    }
  } finally {
    await session.release();
  }
}
