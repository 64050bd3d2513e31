// The proof of an exported stateful model (build/triton/export.ts): whole generations run twice on
// the same seeded inputs, in process over the compiled folder's variants and against the staged
// stateful model under Triton's implicit-state semantics (remote/implicit-state.ts), and every
// step's latents must match bit for bit. The plans cover each kind of step the model serves: TGATE
// v1 and v2 (stored and reused self-attention, the gate's CFG mean) and, with a deep cut, DeepCache
// alone and with TGATE. Both sides run one thread with pre-packing off, so the arithmetic is the same
// (an If branch computes what its variant's own session does: compile's proof checks that).
import type { StatefulProofReport, StatefulProofRequest } from '../build/triton/export.js';
import { tritonDataType } from '../build/triton/model-config.js';
import { dtypeName } from '../ir/dtype.js';
import type { ScheduleOptions } from '../build/schedule.js';
import { GatedUNet, variantsFor, type GenerateOptions } from './gated-unet.js';
import { modelRoles } from './model-roles.js';
import { bindDims, makeFeeds, PROBE_DEFAULTS } from './probe-feeds.js';
import { ImplicitStateModel } from './remote/implicit-state.js';
import { openSession, type SessionOptions } from './session.js';
import { numbersOf } from './tensor-values.js';

const EXACT: SessionOptions = { threads: 1, optimization: 'extended', prepacking: false };
const STEPS = 8;
const GATE = 4;

type Plan = { name: string; gateStep: number; tgate: Partial<Omit<ScheduleOptions, 'gateStep'>> };

export async function proveStateful(req: StatefulProofRequest): Promise<StatefulProofReport> {
  const session = await openSession(req.model, EXACT);
  const model = new ImplicitStateModel(
    session,
    req.states.map((s) => ({
      input_name: s.input,
      output_name: s.output,
      data_type: tritonDataType(dtypeName(s.dtype)),
      dims: s.shape.map(() => -1),
      initial_state: { dims: s.shape.map(() => 1), zero_data: true },
    })),
    { name: 'stateful' },
  );
  const remote = GatedUNet.remote(req.compiled, model);
  try {
    const m = remote.manifest;
    const hasSelf = m.sites.some((s) => s.cached && s.kind === 'self');
    const hasDeep = m.sites.some((s) => s.cached && s.kind === 'deep');
    const plans: Plan[] = [
      { name: 'tgate-v1', gateStep: GATE, tgate: { version: 1 } },
      ...(hasSelf ? [{ name: 'tgate-v2', gateStep: GATE, tgate: { version: 2 as const, spInterval: 2, warmUp: 1, fiInterval: 2 } }] : []),
      ...(hasDeep
        ? [
            {
              name: 'deepcache-n3',
              gateStep: STEPS,
              tgate: { version: 1 as const, deepcache: { interval: 3, branch: m.deepcache?.branch ?? 0, schedule: 'uniform' as const } },
            },
            {
              name: 'tgate+deepcache-n2',
              gateStep: GATE,
              tgate: { version: 1 as const, deepcache: { interval: 2, branch: m.deepcache?.branch ?? 0, schedule: 'uniform' as const } },
            },
          ]
        : []),
    ];
    const inputs = generateInputs(remote);
    const report: StatefulProofReport = { plans: [] };
    for (const p of plans) {
      const o: GenerateOptions = { ...inputs, steps: STEPS, gateStep: p.gateStep, tgate: p.tgate, guidance: 7.5, scheduler: 'ddim', keepTrajectory: true };
      // In process as `tgate run` opens a folder: the smallest gated model holding the plan's
      // variants, one plan at a time (a full-size UNet's sessions are large).
      const local = await GatedUNet.load(req.compiled, { ...EXACT, variants: variantsFor(m, STEPS, p.gateStep, p.tgate) });
      const a = await local.generate(o).finally(() => local.release());
      const b = await remote.generate(o);
      let maxAbsDiff = 0;
      let bitExact = a.trajectory.length === b.trajectory.length;
      a.trajectory.forEach((x, k) => {
        const y = b.trajectory[k]!;
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i]! - y[i]!);
          if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
          if (!Object.is(x[i], y[i])) bitExact = false;
        }
      });
      report.plans.push({ name: p.name, plan: a.records.map((r) => r.variant).join(' '), bitExact, maxAbsDiff });
    }
    return report;
  } finally {
    await remote.release();
  }
}

/** Seeded latents and conditioning at the sizes compile's proof ran (its probe dims), one sample. */
function generateInputs(u: GatedUNet): Pick<GenerateOptions, 'latents' | 'cond' | 'uncond'> {
  const m = u.manifest;
  const roles = modelRoles(m);
  const probe = m.verification.skipped ? undefined : m.verification.probe.dims;
  const specs = m.source.inputs.map((i) => ({ name: i.name, dtype: 'float32', shape: i.shape.map((d) => (d === '?' ? null : d)) }));
  const dims = { ...bindDims(specs, { ...PROBE_DEFAULTS, batch: 1 }), ...probe };
  const batchDim = roles.latent.shape[0];
  if (typeof batchDim === 'string') dims[batchDim] = 1;
  const conditioning = [...roles.text, ...roles.conditioning];
  const of = (seed: number, names: string[]) => {
    const feeds = makeFeeds(
      specs.filter((s) => names.includes(s.name)),
      dims,
      seed,
    );
    return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { data: Float32Array.from(numbersOf(t)), dims: [...t.dims] }]));
  };
  // A guidance embedding (LCM's timestep_cond) is conditioning without a CFG pair: cond only.
  return { latents: of(1, [roles.latent.name])[roles.latent.name]!, cond: of(2, [...conditioning, ...roles.guidanceEmbedding]), uncond: of(3, conditioning) };
}
