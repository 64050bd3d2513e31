// The one way a compiled folder's variants are run, by the sampler and by compile's proof alike:
// "variant X at batch B on these inputs and these cached site tensors". Over separate sessions
// the variant's own graph gets the inputs it still reads and the caches it takes; over a gated
// model the variant's run flag is set (the others cleared) and every input the taken If branch
// ignores gets a placeholder. A static-batch export runs at its batch: rows repeated, then trimmed.
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import { gatedSourceOutputs } from '../build/gated-model.js';
import { latentInput } from '../build/latent-factor.js';
import type { SiteKind, SiteRole } from '../build/variants.js';
import { firstRows, repeatRows } from './batch-ops.js';
import { placeholder, runFlag } from './placeholders.js';
import { runModel, type Feeds } from './session.js';

type Shape = readonly (string | number | null)[];

/** A cached site as the runner feeds and fetches it. */
export interface RunnerSite {
  id: string;
  kind: SiteKind;
  /** Its name as a variant's output and input (the cut keeps the name). */
  tensor: string;
  /** Its input name in the gated models. */
  gatedInput: string;
  dtype: string;
  /** The cut's shape: a placeholder takes its fixed dims. */
  shape: Shape;
}

/** What the runner knows of a compiled folder: read from its manifest, or from compile's proof request. */
export interface RunnerLayout {
  /** The source's inputs: a placeholder for one a variant no longer reads takes its shape and dtype. */
  inputs: readonly { name: string; dtype: string; shape: Shape }[];
  /** The source outputs a call fetches, by name: from a variant's own graph, or under their gated names (gatedSourceOutputs). */
  outputs: readonly string[];
  /** Each variant's cut decisions by site id (a site it does not hold is absent), and the source inputs it no longer reads. */
  variants: readonly { name: string; cuts: Readonly<Record<string, SiteRole>>; removedInputs: readonly string[] }[];
  sites: readonly RunnerSite[];
  /** The batch a static-batch export was made for (null: a dynamic batch axis). */
  fixedBatch: number | null;
}

/** A gated model's variants: the flag that selects each, the names its results come out under. */
export interface GatedLayout {
  variants: readonly { name: string; flag: string; output: string; siteOutputs: Readonly<Record<string, string>> }[];
}

export type VariantSessions =
  { kind: 'separate'; sessions: Map<string, ort.InferenceSession> } | { kind: 'gated'; session: ort.InferenceSession; model: GatedLayout };

export interface VariantCall {
  variant: string;
  /** Rows of this call (2B with CFG); placeholders and a static export's repetition follow it. */
  batch: number;
  /** Model inputs by name; those the variant does not read are dropped or replaced. */
  feeds: Feeds;
  /** Site tensors by site id: those the variant takes as inputs must be here. */
  caches: ReadonlyMap<string, ort.Tensor>;
  /** The sites whose outputs to return (the variant must compute them). */
  fetch: readonly Pick<RunnerSite, 'id' | 'tensor'>[];
}

export interface VariantResult {
  /** The model outputs, by the source's output names. */
  outputs: Record<string, ort.Tensor>;
  /** The fetched site outputs, by site id. */
  sites: Map<string, ort.Tensor>;
  /** Time inside session.run. */
  modelMs: number;
}

/** session.run as the caller wants failures reported (the sampler: a coded error naming the variant). */
export type RunSession = (session: ort.InferenceSession, feeds: Feeds, fetches: string[], what: string) => Promise<Record<string, ort.Tensor>>;

/**
 * The one builder of a runner's layout, for the sampler (from a manifest) and the proof (from its
 * request) alike: what is fixed by the export (the batch of a static export, its latent's first
 * dim) is read here.
 */
export function runnerLayout(parts: Omit<RunnerLayout, 'fixedBatch'>): RunnerLayout {
  const fixed = latentInput(parts.inputs)?.shape[0];
  return { ...parts, fixedBatch: typeof fixed === 'number' ? fixed : null };
}

export class VariantRunner {
  constructor(
    readonly layout: RunnerLayout,
    readonly sessions: VariantSessions,
    private readonly runSession: RunSession = runModel,
  ) {}

  async release(): Promise<void> {
    const s = this.sessions;
    if (s.kind === 'gated') await s.session.release();
    else for (const x of s.sessions.values()) await x.release();
  }

  private variant(name: string) {
    const v = this.layout.variants.find((x) => x.name === name);
    if (!v) throw new TgateError('E_INTERNAL', `No ${name} variant (the variants: ${this.layout.variants.map((x) => x.name).join(', ')}).`);
    return v;
  }

  private role(variant: string, c: RunnerSite): SiteRole | null {
    return this.variant(variant).cuts[c.id] ?? null;
  }

  /** How many times a call's rows are repeated to fill a static export's batch (1 for a dynamic one). */
  repeatFor(batch: number): number {
    const fixed = this.layout.fixedBatch;
    const repeat = fixed !== null && fixed !== batch ? fixed / batch : 1;
    if (!Number.isInteger(repeat)) {
      throw new TgateError('E_USAGE', `The model was exported with a fixed batch of ${fixed}; batch ${batch} does not divide it.`, {
        hint: `Use a batch that divides ${fixed} (with CFG the model runs at twice the batch), or re-export with a dynamic batch axis.`,
      });
    }
    return repeat;
  }

  /** One model call (see the file's header). */
  async call(c: VariantCall): Promise<VariantResult> {
    const repeat = this.repeatFor(c.batch);
    let feeds = c.feeds;
    let caches = c.caches;
    if (repeat > 1) {
      // Only the first `batch` rows of each result are used: correct, without the batch saving.
      feeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.dims.length > 0 && t.dims[0] === c.batch ? repeatRows(t, repeat) : t]));
      caches = new Map([...caches].map(([id, t]) => [id, repeatRows(t, repeat)]));
    }
    const full = await this.run(c.variant, feeds, caches, c.fetch, c.batch * repeat);
    if (repeat === 1) return full;
    return {
      outputs: Object.fromEntries(Object.entries(full.outputs).map(([k, t]) => [k, firstRows(t, repeat)])),
      sites: new Map([...full.sites].map(([id, t]) => [id, firstRows(t, repeat)])),
      modelMs: full.modelMs,
    };
  }

  private async run(name: string, feeds: Feeds, caches: ReadonlyMap<string, ort.Tensor>, fetch: VariantCall['fetch'], batch: number): Promise<VariantResult> {
    const s = this.sessions;
    const what = `UNet (${name} variant)`;
    if (s.kind === 'separate') {
      const session = s.sessions.get(name);
      if (!session) throw new TgateError('E_INTERNAL', `The ${name} variant was not opened.`);
      const f = this.separateFeeds(name, feeds, caches);
      const outputs = this.layout.outputs;
      const started = performance.now();
      const res = await this.runSession(session, f, [...outputs, ...fetch.map((c) => c.tensor)], what);
      const modelMs = performance.now() - started;
      return { outputs: Object.fromEntries(outputs.map((o) => [o, res[o]!])), sites: new Map(fetch.map((c) => [c.id, res[c.tensor]!])), modelMs };
    }
    const gv = s.model.variants.find((x) => x.name === name);
    if (!gv) throw new TgateError('E_INTERNAL', `The gated model holds no ${name} variant.`);
    const f = this.gatedFeeds(s.model, name, feeds, caches, batch);
    const started = performance.now();
    // Every layout output, as over separate sessions: the first under the entry's name, the rest by the rule.
    const outputs = gatedSourceOutputs(gv, this.layout.outputs);
    const res = await this.runSession(s.session, f, [...outputs, ...fetch.map((c) => gv.siteOutputs[c.id]!)], what);
    const modelMs = performance.now() - started;
    return {
      outputs: Object.fromEntries(this.layout.outputs.map((o, i) => [o, res[outputs[i]!]!])),
      sites: new Map(fetch.map((c) => [c.id, res[gv.siteOutputs[c.id]!]!])),
      modelMs,
    };
  }

  /** A variant's own graph: the inputs it still reads, and the caches it takes under their tensor names. */
  private separateFeeds(name: string, feeds: Feeds, caches: ReadonlyMap<string, ort.Tensor>): Feeds {
    const removed = this.variant(name).removedInputs;
    const f: Feeds = {};
    for (const [k, t] of Object.entries(feeds)) if (!removed.includes(k)) f[k] = t;
    for (const c of this.layout.sites) if (this.role(name, c) === 'input') f[c.tensor] = this.cache(caches, c);
    return f;
  }

  /**
   * A gated model: this variant's flag on and the others off; inputs it ignores get placeholders
   * (zero tensors of one token: If evaluates only the branch it takes), as do the cache inputs of
   * the other branches.
   */
  private gatedFeeds(g: GatedLayout, name: string, feeds: Feeds, caches: ReadonlyMap<string, ort.Tensor>, batch: number): Feeds {
    const f: Feeds = { ...feeds };
    for (const x of g.variants) f[x.flag] = runFlag(x.name === name);
    for (const n of this.variant(name).removedInputs) {
      const io = this.layout.inputs.find((i) => i.name === n)!;
      f[n] = placeholder(io.shape, batch, io.dtype);
    }
    for (const c of this.layout.sites) {
      if (!g.variants.some((x) => this.role(x.name, c) === 'input')) continue;
      f[c.gatedInput] = this.role(name, c) === 'input' ? this.cache(caches, c) : placeholder(c.shape, batch, c.dtype);
    }
    return f;
  }

  private cache(caches: ReadonlyMap<string, ort.Tensor>, c: RunnerSite): ort.Tensor {
    const t = caches.get(c.id);
    if (!t) throw new TgateError('E_INTERNAL', `No cached tensor for site ${c.id}, which this variant takes as an input.`, { subject: { tensor: c.tensor } });
    return t;
  }
}
