// A stateful gated model: the gated model (gated-model.ts) made to keep its caches as state, so a
// server that carries state from one request of a sequence to the next (Triton's implicit state)
// runs a whole schedule while each step sends only the latents, the timestep, the conditioning
// the step reads and a few flags. Every site is a state: `tgate.state.<id>` in, `tgate.state_out.<id>`
// out. The variants are If nodes side by side, as in the gated model, but chained: each If takes
// the state (and source outputs) the If before it gives, and gives them on, updated when its flag
// is set, passed through when not. Exactly one flag is set per step, so the last If gives the state
// of the variant that ran. Inside a variant's branch a site it computes is stored where the step
// keeps it (`tgate.keep.<kind>`), averaged over the CFG pair at the gate step (`tgate.pair_mean`,
// as the sampler's meanOfPair: cross and self sites only), and passed through otherwise; a site it
// is fed or does not hold is passed through. A step reads a kind of site or writes it, never both
// (a variant either takes a kind as input or computes it), so re-sending a step is harmless.
import { TgateError } from '../base/errors.js';
import { DTYPE } from '../ir/dtype.js';
import type { TensorType } from '../ir/value.js';
import { encodeStatefulModelPlan, type StatefulModelPlan, type StatefulBranchPlan } from '../io/stateful-model-proto.js';
import { runFlag, type GatedBranch, type GatedCache } from './gated-model.js';
import { SITE_KINDS, type SiteKind } from './variants.js';

export const stateInput = (id: string) => `tgate.state.${id}`;
export const stateOutput = (id: string) => `tgate.state_out.${id}`;
export const keepFlag = (kind: SiteKind) => `tgate.keep.${kind}`;
export const PAIR_MEAN_FLAG = 'tgate.pair_mean';

/**
 * The flag inputs (bool [1]) of a stateful model over these variants and kinds of cached site: the
 * one rule the planner, the Triton config, the export record, the client and the wire count follow.
 */
export function statefulFlags(variants: readonly string[], kinds: Iterable<SiteKind>) {
  const present = new Set(kinds);
  /** By variant name; exactly one set per request. */
  const runFlags: Record<string, string> = Object.fromEntries(variants.map((v) => [v, runFlag(v)]));
  /** Whether the step stores each kind of site the model caches. */
  const keepFlags: Partial<Record<SiteKind, string>> = Object.fromEntries(SITE_KINDS.filter((k) => present.has(k)).map((k) => [k, keepFlag(k)]));
  /** Whether stored cross/self sites are averaged over the CFG pair (the gate step); none with only a deep cut. */
  const pairMean = [...present].some((k) => k !== 'deep') ? PAIR_MEAN_FLAG : null;
  return { runFlags, keepFlags, pairMean, all: [...Object.values(runFlags), ...Object.values(keepFlags), ...(pairMean ? [pairMean] : [])] };
}

export type StatefulFlags = ReturnType<typeof statefulFlags>;

/** A stateful model's interface beyond the source's: what a client sends and a server carries. */
export interface StatefulInterface {
  flags: StatefulFlags;
  /** One state per cached site: its input and output names, element type and rank. */
  states: { id: string; kind: SiteKind; input: string; output: string; dtype: number; shape: (string | number | null)[] }[];
  /** The source outputs, under their own names. */
  outputs: { name: string; dtype: number; shape: (string | number | null)[] }[];
}

/** The flags are [1], not scalars: Triton carries no rank-0 tensor without a reshape, and If takes any single element. */
const FLAG_TYPE: TensorType = { dtype: DTYPE.bool, shape: [1] };

const untyped = (what: string, tensor: string) =>
  new TgateError('E_INTERNAL', `The stateful model needs the type of ${what} "${tensor}", and no variant graph gives one.`, {
    subject: { tensor },
    hint: 'This is a bug in tgate; please report it with the model.',
  });

/** Plans the stateful model over the variants of one compiled folder (io/stateful-model-proto.ts encodes and checks it). */
export function planStatefulModel(branches: GatedBranch[], caches: GatedCache[]): { plan: StatefulModelPlan; io: StatefulInterface } {
  const base = branches.find((b) => !Object.values(b.cuts).includes('input')) ?? branches[0]!;
  if (Object.values(base.cuts).includes('input'))
    throw new TgateError('E_INTERNAL', 'The stateful model needs a variant that computes every site (planning).', {
      hint: 'This is a bug in tgate; please report it with the model.',
    });
  const typeOf = (tensor: string): TensorType => {
    for (const b of branches) {
      const v = b.model.graph.value(tensor);
      if (v?.type?.dtype && v.type.shape) return v.type;
    }
    throw untyped('the cached site', tensor);
  };
  const siteSet = new Set(caches.map((c) => c.tensor));
  const sources = base.model.graph.outputs
    .filter((v) => !siteSet.has(v.name))
    .map((v) => {
      if (!v.type?.dtype || !v.type.shape) throw untyped('the source output', v.name);
      return { name: v.name, dtype: v.type.dtype, shape: v.type.shape };
    });
  const states = caches.map((c) => {
    const t = typeOf(c.tensor);
    return { id: c.id, kind: c.kind, input: stateInput(c.id), output: stateOutput(c.id), dtype: t.dtype, shape: t.shape! };
  });
  const flags = statefulFlags(
    branches.map((b) => b.name),
    caches.map((c) => c.kind),
  );
  const last = branches.length - 1;
  // The chain: branch k reads what branch k-1 gives; the first reads the state inputs and empty
  // source outputs, the last gives the graph's outputs under their final names.
  const sourceAt = (k: number, name: string) => (k < 0 ? `tgate.chain.start.${name}` : k === last ? name : `tgate.chain.${k}.${name}`);
  const stateAt = (k: number, id: string) => (k < 0 ? stateInput(id) : k === last ? stateOutput(id) : `tgate.chain.${k}.state.${id}`);
  const planned: StatefulBranchPlan[] = branches.map((b, k) => {
    const tag = b.name.replace(/-/g, '_');
    const roles = b.cuts;
    const renames: [string, string][] = [
      // The variant's source outputs get branch-local names (an outer name is never shadowed).
      ...sources.map((s): [string, string] => [s.name, `tgate.${b.name}.${s.name}`]),
      // A fed site reads the state the previous If gives, directly.
      ...caches.filter((c) => roles[c.id] === 'input').map((c): [string, string] => [c.tensor, stateAt(k - 1, c.id)]),
    ];
    for (const s of sources)
      if (!b.model.graph.outputs.some((v) => v.name === s.name))
        throw new TgateError('E_INTERNAL', `The ${b.name} variant does not give the source output "${s.name}".`, {
          hint: 'This is a bug in tgate; please report it with the model.',
        });
    return {
      variant: b.name,
      node: `tgate/${b.name}`,
      flag: runFlag(b.name),
      body: b.model.graph,
      renames,
      thenName: `tgate_${tag}`,
      elseName: `tgate_${tag}_idle`,
      sources: sources.map((s) => ({
        inner: `tgate.${b.name}.${s.name}`,
        prev: sourceAt(k - 1, s.name),
        out: sourceAt(k, s.name),
        dtype: s.dtype,
        rank: s.shape.length,
      })),
      states: states.map((s, i) => ({
        id: s.id,
        local: `tgate.${b.name}.state.${s.id}`,
        prev: stateAt(k - 1, s.id),
        out: stateAt(k, s.id),
        dtype: s.dtype,
        computed: roles[s.id] === 'output' ? caches[i]!.tensor : null,
        keep: flags.keepFlags[s.kind]!,
        pairMean: s.kind === 'deep' ? null : flags.pairMean,
      })),
    };
  });
  const extraInputs = [
    ...flags.all.map((name) => ({ name, type: FLAG_TYPE })),
    ...states.map((s) => ({ name: s.input, type: { dtype: s.dtype, shape: s.shape.map(() => null) } })),
  ];
  const plan: StatefulModelPlan = {
    base: base.model,
    name: 'tgate_stateful',
    starts: sources.map((s) => ({ name: sourceAt(-1, s.name), dtype: s.dtype, rank: s.shape.length })),
    branches: planned,
    extraInputs,
    outputs: [
      ...sources.map((s) => ({ name: s.name, type: { dtype: s.dtype, shape: s.shape } })),
      ...states.map((s) => ({ name: s.output, type: { dtype: s.dtype, shape: s.shape.map(() => null) } })),
    ],
  };
  return { plan, io: { flags, states, outputs: sources } };
}

/** The stateful model's bytes and interface. The variants' IR is left as it was. */
export function encodeStatefulModel(branches: GatedBranch[], caches: GatedCache[]): { bytes: Uint8Array; io: StatefulInterface } {
  const { plan, io } = planStatefulModel(branches, caches);
  return { bytes: encodeStatefulModelPlan(plan), io };
}
