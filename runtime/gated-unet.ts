// The gated sampler (SPEC.md §3): runs a compiled folder the way the official TGATE does.
// Before the gate, batch 2B with CFG; self-attention (v2) computed, stored at warm_up and every
// sp_interval-th step and reused in between; at step G-1 the cross- and self-attention outputs
// are kept, averaged over the CFG pair; from G on, batch B fed the cross caches, without
// guidance, self-attention recomputed every fi_interval-th step. runtime/schedule.ts decides each
// step; gateStep >= steps with version 1 is the plain baseline, same loop.
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import type { Manifest, ManifestGated } from '../build/manifest.js';
import type { VariantName } from '../build/variants.js';
import { concatRows, firstChannels, guide, meanOfHalves, type Flat } from './batch-ops.js';
import { modelRoles, type CacheSite, type ModelRoles } from './model-roles.js';
import { placeholder, runFlag } from './placeholders.js';
import { openCompiledGraph, readManifest, resolveSchedule, variantsFor, type TgateOptions } from './compiled-folder.js';
import { planSchedule, variantsUsed, type Phase, type ScheduleOptions, type SiteAction } from '../build/schedule.js';
import { numbersOf, valuesAs } from './tensor-values.js';
import { checkGenerateRequest } from './generate-inputs.js';
import { latentMultiple } from './latent-multiple.js';
import { checkFiniteStep } from './tensor-checks.js';
import { toHalfBits } from '../ir/dtype.js';
import { createScheduler, img2imgStart, type Scheduler, type SchedulerConfig } from './schedulers/index.js';
import { makeTensor, runModel, type SessionOptions } from './session.js';

export type { Phase } from '../build/schedule.js';
export { readManifest, resolveSchedule, variantsFor, type TgateOptions } from './compiled-folder.js';

export interface TensorInput {
  data: Flat;
  dims: number[];
}

export interface StepRecord {
  /** Index among the model evaluations actually run (img2img starts mid-schedule; PNDM evaluates once more than it steps). */
  k: number;
  steps: number;
  t: number;
  phase: Phase;
  /** The graph variant that ran, and what it did with each kind of site. */
  variant: VariantName;
  cross: SiteAction;
  self: SiteAction;
  batch: number;
  /** Time inside session.run, and the whole step (feeds, guidance, scheduler). */
  modelMs: number;
  stepMs: number;
}

export interface GenerateOptions {
  /** Initial noise [B, C, H, W] (scaled by the scheduler's init sigma); img2img: the noise to add. */
  latents: TensorInput;
  cond: Record<string, TensorInput>;
  uncond?: Record<string, TensorInput>;
  steps: number;
  /** The gate step G (default: the family's, from the manifest); >= steps with version 1 is the baseline. */
  gateStep?: number;
  tgate?: TgateOptions;
  guidance: number;
  /**
   * A scheduler name (configured by schedulerConfig), or a scheduler made for this generation
   * with `steps` steps (a pipeline makes it from its folder's config, holding its generator), or
   * a function that makes a fresh one (a scheduler keeps state: one per generation).
   */
  scheduler?: string | Scheduler | (() => Scheduler);
  schedulerConfig?: SchedulerConfig;
  /** img2img: clean latents to start from, and how much of the schedule to run (0-1]. */
  image?: TensorInput;
  strength?: number;
  /** Keep every step's latents and guided model outputs. */
  keepTrajectory?: boolean;
  /**
   * Fetch every attention output the step's variant computes and record, per step, the mean
   * relative change of the cross- and self-attention outputs since the previous step (the
   * convergence TGATE rests on). Costs a copy of every site output per step.
   */
  recordAttention?: boolean;
  onStep?: (r: StepRecord) => void;
}

export interface GenerateResult {
  latents: Float32Array;
  dims: number[];
  records: StepRecord[];
  trajectory: Float32Array[];
  modelOutputs: Float32Array[];
  /** The cross-attention caches taken at the gate step, by site id. */
  caches: Record<string, Float32Array>;
  schedule: ScheduleOptions;
  cfg: boolean;
  totalMs: number;
  /** With recordAttention: per step from k = 1, ||o_k - o_k-1|| / ||o_k-1|| averaged over sites. */
  attentionChange: { k: number; cross: number | null; self: number | null }[];
}

export interface LoadOptions extends SessionOptions {
  /** Open only the planning graph (baseline runs). */
  planningOnly?: boolean;
  /** The variants to open (default: those the compiled family's default schedule runs). */
  variants?: VariantName[];
  /**
   * 'gated' (default): one session over the smallest gated model holding the variants, so one
   * arena and one copy of pre-packed weights serve every step. 'separate' ('pair'): a session per
   * variant (each holds its own arena: measured 1.5x the baseline's peak RSS for two).
   */
  sessions?: 'gated' | 'separate' | 'pair';
}

/** How the sampler reaches the variants. */
type Variants = { kind: 'separate'; sessions: Map<VariantName, ort.InferenceSession> } | { kind: 'gated'; session: ort.InferenceSession; model: ManifestGated };

export class GatedUNet {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly roles: ModelRoles,
    private readonly variants: Variants,
    /** The variants this instance opened. */
    readonly opened: VariantName[],
  ) {}

  static async load(dir: string, opts: LoadOptions = {}): Promise<GatedUNet> {
    const manifest = readManifest(dir);
    const roles = modelRoles(manifest);
    const session: SessionOptions = { ...opts, threads: opts.threads ?? 0, optimization: opts.optimization ?? 'extended' };
    // By default, what the family's default schedule runs; 50 steps reach every kind of step it
    // has (longer runs only add fidelity steps).
    const wanted: VariantName[] = opts.planningOnly ? ['planning'] : (opts.variants ?? variantsFor(manifest, 50));
    for (const w of wanted) {
      if (!manifest.variants.some((v) => v.name === w))
        throw new TgateError('E_USAGE', `${dir} has no ${w} variant (compiled variants: ${manifest.variants.map((v) => v.name).join(', ')}).`, {
          hint: 'Recompile with --sites all (the default) for the TGATE v2 variants, or run with --tgate-version 1.',
        });
    }
    // The smallest gated model holding every wanted variant; one variant alone needs no If.
    const gatedModel = manifest.gated
      .filter((g) => wanted.every((w) => g.variants.some((v) => v.name === w)))
      .sort((a, b) => a.variants.length - b.variants.length)[0];
    let variants: Variants;
    let opened: VariantName[];
    if ((opts.sessions ?? 'gated') === 'gated' && wanted.length > 1 && gatedModel) {
      variants = { kind: 'gated', session: await openCompiledGraph(dir, manifest, gatedModel, session), model: gatedModel };
      opened = gatedModel.variants.map((x) => x.name);
    } else {
      const sessions = new Map<VariantName, ort.InferenceSession>();
      for (const w of wanted)
        sessions.set(
          w,
          await openCompiledGraph(
            dir,
            manifest,
            manifest.variants.find((v) => v.name === w)!,
            session,
          ),
        );
      variants = { kind: 'separate', sessions };
      opened = wanted.slice();
    }
    return new GatedUNet(dir, manifest, roles, variants, opened);
  }

  /** 'gated' (one session, If nodes) or 'separate' (a session per variant). */
  get sessions(): 'gated' | 'separate' {
    return this.variants.kind;
  }

  async release(): Promise<void> {
    const v = this.variants;
    if (v.kind === 'gated') await v.session.release();
    else for (const s of v.sessions.values()) await s.release();
  }

  private variantSpec(name: VariantName) {
    return this.manifest.variants.find((v) => v.name === name)!;
  }

  /**
   * One model call. `caches` holds the site tensors this variant takes, by site id. Through a
   * gated model, this variant's run flag is set (and the others cleared) and the inputs it
   * ignores get placeholders: zero tensors of one token (If evaluates only the branch it takes).
   */
  private async call(
    name: VariantName,
    feeds: Record<string, ort.Tensor>,
    caches: Map<string, ort.Tensor>,
    fetchSites: CacheSite[],
    batch: number,
  ): Promise<{ out: ort.Tensor; sites: Map<string, ort.Tensor> }> {
    const v = this.variants;
    const spec = this.variantSpec(name);
    const sites = [...this.roles.cross, ...this.roles.self];
    const role = (c: CacheSite) => (c.kind === 'cross' ? spec.cross : spec.self);
    const outName = this.roles.output.name;
    if (v.kind === 'separate') {
      const session = v.sessions.get(name)!;
      const f: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) if (!spec.removedInputs.includes(k)) f[k] = t;
      for (const c of sites) if (role(c) === 'input') f[c.tensor] = caches.get(c.id)!;
      const res = await runModel(session, f, [outName, ...fetchSites.map((c) => c.tensor)], `UNet (${name} variant)`);
      return { out: res[outName]!, sites: new Map(fetchSites.map((c) => [c.id, res[c.tensor]!])) };
    }
    const g = v.model;
    const f: Record<string, ort.Tensor> = { ...feeds };
    for (const x of g.variants) f[x.flag] = runFlag(x.name === name);
    for (const n of spec.removedInputs) {
      const io = this.manifest.source.inputs.find((i) => i.name === n)!;
      f[n] = placeholder(io.shape, batch, io.dtype);
    }
    const takesSite = (c: CacheSite) =>
      g.variants.some((x) => {
        const s = this.variantSpec(x.name);
        return (c.kind === 'cross' ? s.cross : s.self) === 'input';
      });
    for (const c of sites) {
      if (!takesSite(c)) continue;
      const site = this.manifest.sites.find((s) => s.id === c.id)!;
      f[c.gatedInput] = role(c) === 'input' ? caches.get(c.id)! : placeholder(site.shape, batch, c.dtype);
    }
    const gv = g.variants.find((x) => x.name === name)!;
    const res = await runModel(v.session, f, [gv.output, ...fetchSites.map((c) => gv.siteOutputs[c.id]!)], `UNet (${name} variant)`);
    return { out: res[gv.output]!, sites: new Map(fetchSites.map((c) => [c.id, res[gv.siteOutputs[c.id]!]!])) };
  }

  /** A feed for a model input: float32 values become float16 where the model declares it. */
  private inputTensor(name: string, data: Flat, dims: number[]): ort.Tensor {
    const declared = this.manifest.source.inputs.find((i) => i.name === name)?.dtype;
    if (declared === 'float16' && data instanceof Float32Array) return makeTensor('float16', valuesAs('float16', data), dims);
    return makeTensor(dtypeOf(data), data as never, dims);
  }

  private timestepTensor(t: number, batch: number): ort.Tensor {
    const ts = this.roles.timestep;
    const dims = ts.shape.length === 0 ? [] : ts.shape.map((d) => (typeof d === 'number' ? d : batch));
    const n = dims.reduce((a, b) => a * b, 1);
    if (ts.dtype === 'float32') return makeTensor('float32', new Float32Array(n).fill(t), dims);
    if (ts.dtype === 'float16') return makeTensor('float16', new Uint16Array(n).fill(toHalfBits(t)), dims);
    if (ts.dtype === 'int64') return makeTensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
    if (ts.dtype === 'int32') return makeTensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
    throw new TgateError('E_UNSUPPORTED_MODEL', `Timestep input ${ts.name} has type ${ts.dtype}; tgate feeds float32, int64 or int32 timesteps.`);
  }

  /**
   * Averages a stored pair over its halves when there is a pair: a batch of one is never split.
   * Halving axis 0 pairs samples at either site rank ([2B, T, C] or [2B·T, C]; batch-ops.ts).
   */
  private mean(c: CacheSite, t: ort.Tensor, paired: boolean): ort.Tensor {
    if (!paired) return t;
    const v = meanOfHalves(numbersOf(t));
    return makeTensor(c.dtype, valuesAs(c.dtype, v), [t.dims[0]! / 2, ...t.dims.slice(1)]);
  }

  /** What the latents' height and width must be multiples of (a compiled pipeline's), read on first use. */
  private sizeMultiple: ReturnType<typeof latentMultiple> | undefined;

  async generate(o: GenerateOptions): Promise<GenerateResult> {
    const started = performance.now();
    const r = this.roles;
    // Shapes, dtypes, names, finiteness and numbers, before anything runs (generate-inputs.ts).
    if (this.sizeMultiple === undefined) this.sizeMultiple = latentMultiple(this.dir, this.manifest);
    const { B, C, cfg } = checkGenerateRequest(o, this.manifest, r, this.sizeMultiple);
    const dims = o.latents.dims;
    const scheduler =
      typeof o.scheduler === 'function'
        ? o.scheduler()
        : typeof o.scheduler === 'object'
          ? o.scheduler
          : createScheduler(o.scheduler ?? 'ddim', o.steps, o.schedulerConfig);
    if (scheduler.steps !== o.steps)
      throw new TgateError('E_USAGE', `The scheduler was made for ${scheduler.steps} steps, but the generation asks for ${o.steps}.`);
    const strength = o.strength ?? 1;
    if (!(strength > 0 && strength <= 1)) throw new TgateError('E_USAGE', `strength must be in (0, 1], not ${strength}.`);
    // Model evaluations run (PNDM evaluates the model more often than it has steps) and, as the
    // official pipelines count them, the steps: img2img starts mid-schedule.
    const start = o.image ? img2imgStart(scheduler, strength) : 0;
    const evaluations = scheduler.timesteps.length - start;
    const run = scheduler.steps - start / scheduler.order;
    if (run < 1) {
      throw new TgateError('E_USAGE', `img2img with strength ${strength} over ${o.steps} steps runs no step (floor(${o.steps} x ${strength}) = 0).`, {
        hint: `Raise the strength to at least ${(1 / o.steps).toFixed(3)}, or the number of steps.`,
      });
    }
    const schedule = resolveSchedule(this.manifest, o.gateStep, o.tgate);
    const plan = planSchedule(run, cfg, schedule, evaluations - run * scheduler.order);
    const missing = variantsUsed(plan).filter((n) => !this.opened.includes(n));
    if (missing.length) {
      throw new TgateError(
        'E_USAGE',
        `This schedule runs the ${missing.join(', ')} variant(s), which this GatedUNet did not open (it opened ${this.opened.join(', ')}).`,
        { hint: 'Load with the variants the schedule needs: GatedUNet.load(dir, { variants: variantsFor(manifest, steps, gateStep, tgate) }).' },
      );
    }
    let x: Float32Array = o.image
      ? scheduler.addNoise(o.image.data as Float32Array, o.latents.data as Float32Array, start)
      : Float32Array.from(o.latents.data as Float32Array, (v) => v * scheduler.initNoiseSigma);
    checkFiniteStep(
      x,
      dims,
      o.image
        ? `The noised img2img latents (${scheduler.className}.add_noise at evaluation ${start})`
        : `The initial latents (x init_noise_sigma ${scheduler.initNoiseSigma})`,
      "The latents are too large for float32 at this noise level: noise latents are N(0, 1) (numpy.random.randn), clean latents the VAE's, scaled.",
    );
    const caches: Record<string, Float32Array> = {};
    const records: StepRecord[] = [];
    const trajectory: Float32Array[] = [];
    const modelOutputs: Float32Array[] = [];
    // Conditioning feeds do not change from step to step: built once, on first use.
    const condFeeds = new Map<string, ort.Tensor>();
    const cond = (name: string, paired: boolean): ort.Tensor => {
      const key = `${paired}:${name}`;
      let t = condFeeds.get(key);
      if (!t) {
        const c = o.cond[name]!;
        const u = paired ? o.uncond![name]! : null;
        t = u ? this.inputTensor(name, concatRows(u.data, c.data), [2 * B, ...c.dims.slice(1)]) : this.inputTensor(name, c.data, c.dims);
        condFeeds.set(key, t);
      }
      return t;
    };
    const uncondFeeds = new Map<string, ort.Tensor>();
    const uncond = (name: string): ort.Tensor => {
      if (!uncondFeeds.has(name)) uncondFeeds.set(name, this.inputTensor(name, o.uncond![name]!.data, o.uncond![name]!.dims));
      return uncondFeeds.get(name)!;
    };
    // Site caches by id: cross from the gate on; self as last stored (2B before the gate, B after).
    const siteCaches = new Map<string, ort.Tensor>();
    const attentionChange: GenerateResult['attentionChange'] = [];
    const previous = new Map<string, Float32Array>();
    // A static-batch export runs every call at its fixed batch: rows are repeated to fill it and
    // only the first `batch` rows of each output are used (correct, without the batch saving).
    const fixed = typeof r.latent.shape[0] === 'number' ? r.latent.shape[0] : null;
    for (const step of plan) {
      const { k, phase, paired } = step;
      const stepStart = performance.now();
      const index = start + k;
      const t = scheduler.timesteps[index]!;
      const xin = scheduler.scaleModelInput(x, index);
      const batch = paired ? 2 * B : B;
      const feeds: Record<string, ort.Tensor> = {
        [r.latent.name]: this.inputTensor(r.latent.name, paired ? concatRows(xin, xin) : xin, [batch, ...dims.slice(1)]),
        [r.timestep.name]: this.timestepTensor(t, batch),
      };
      for (const n of r.guidanceEmbedding) feeds[n] = cond(n, false);
      if (phase === 'fidelity') {
        // After the gate the conditioning the fidelity graph still reads takes its uncond value
        // under CFG, as the official code does (SDXL's pooled embeds and time ids).
        for (const n of r.conditioning) feeds[n] = cfg ? uncond(n) : cond(n, false);
      } else {
        for (const n of [...r.text, ...r.conditioning]) feeds[n] = cond(n, paired);
      }
      const spec = this.manifest.variants.find((v) => v.name === step.variant)!;
      const fetchSites = o.recordAttention
        ? [...(spec.cross === 'output' ? r.cross : []), ...(spec.self === 'output' ? r.self : [])]
        : [...(step.cross === 'store' ? r.cross : []), ...(step.keepSelf ? r.self : [])];
      const repeat = fixed !== null && fixed !== batch ? fixed / batch : 1;
      if (!Number.isInteger(repeat)) {
        throw new TgateError('E_USAGE', `The model was exported with a fixed batch of ${fixed}; batch ${batch} does not divide it.`, {
          hint: `Use a batch that divides ${fixed} (with CFG the model runs at twice the batch), or re-export with a dynamic batch axis.`,
        });
      }
      let fed = siteCaches;
      if (repeat > 1) {
        for (const [k, t] of Object.entries(feeds)) if (t.dims.length > 0 && t.dims[0] === batch) feeds[k] = repeatRows(t, repeat);
        fed = new Map([...siteCaches].map(([id, t]) => [id, repeatRows(t, repeat)]));
      }
      const callStart = performance.now();
      const full = await this.call(step.variant, feeds, fed, fetchSites, batch * repeat);
      const modelMs = performance.now() - callStart;
      const outT = repeat > 1 ? firstRows(full.out, repeat) : full.out;
      if (o.recordAttention)
        recordChange(
          attentionChange,
          previous,
          k,
          fetchSites.map((c) => [c, repeat > 1 ? firstRows(full.sites.get(c.id)!, repeat) : full.sites.get(c.id)!]),
        );
      for (const c of fetchSites) {
        if (c.kind === 'cross' ? step.cross !== 'store' : !step.keepSelf) continue;
        const got = repeat > 1 ? firstRows(full.sites.get(c.id)!, repeat) : full.sites.get(c.id)!;
        // The gate step keeps the mean over the CFG pair (both kinds); other stores keep the rows.
        const kept = phase === 'gate' ? this.mean(c, got, paired) : got;
        siteCaches.set(c.id, kept);
        if (c.kind === 'cross') caches[c.id] = Float32Array.from(numbersOf(kept));
      }
      const raw = numbersOf(outT);
      // NaN or infinity stops the generation at the step it appears in, naming it (tensor-checks.ts).
      const where = `step ${k + 1}/${plan.length} (model evaluation ${index}, timestep ${t}, the ${step.variant} variant at batch ${batch})`;
      checkFiniteStep(
        raw,
        outT.dims,
        `The UNet's output ${r.output.name} at ${where}`,
        'The model overflows on these inputs: check the scale of the latents and the conditioning (noise latents are N(0, 1)); a float16 export overflows sooner than a float32 one.',
      );
      const outChannels = outT.dims[1]!;
      const guided = paired ? guide(raw, o.guidance) : raw;
      if (paired)
        checkFiniteStep(
          guided,
          [B, ...outT.dims.slice(1)],
          `The guided output (guidance ${o.guidance}) at ${where}`,
          'The guidance scale is too large for float32: use a smaller one (1-15 is usual).',
        );
      // Learned variance (PixArt): guidance on the whole output, then the noise half.
      const eps = firstChannels(guided, B, outChannels, Math.min(C, outChannels));
      x = scheduler.step(eps, index, x);
      checkFiniteStep(
        x,
        dims,
        `The latents after the ${scheduler.className} update at ${where}`,
        `The model's output was finite, the update overflowed float32: ${paired ? `the guidance scale (${o.guidance}) is too large, or ` : ''}the schedule's noise levels are too extreme (check the scheduler config's beta_start, beta_end, trained_betas, or use another scheduler).`,
      );
      if (o.keepTrajectory) {
        trajectory.push(x);
        modelOutputs.push(eps);
      }
      const rec: StepRecord = {
        k,
        steps: plan.length,
        t,
        phase,
        variant: step.variant,
        cross: step.cross,
        self: step.self,
        batch,
        modelMs,
        stepMs: performance.now() - stepStart,
      };
      records.push(rec);
      o.onStep?.(rec);
    }
    return { latents: x, dims, records, trajectory, modelOutputs, caches, schedule, cfg, totalMs: performance.now() - started, attentionChange };
  }
}

/** Appends step k's mean relative change per kind against the outputs kept from the step before. */
function recordChange(into: GenerateResult['attentionChange'], previous: Map<string, Float32Array>, k: number, outputs: [CacheSite, ort.Tensor][]): void {
  const sums: Record<'cross' | 'self', [number, number]> = { cross: [0, 0], self: [0, 0] };
  for (const [c, t] of outputs) {
    const now = Float32Array.from(numbersOf(t));
    const before = previous.get(c.id);
    if (before && before.length === now.length) {
      let num = 0;
      let den = 0;
      for (let i = 0; i < now.length; i++) {
        num += (now[i]! - before[i]!) ** 2;
        den += before[i]! ** 2;
      }
      sums[c.kind][0] += Math.sqrt(num / Math.max(den, 1e-30));
      sums[c.kind][1]++;
    }
    previous.set(c.id, now);
  }
  if (k > 0) into.push({ k, cross: sums.cross[1] ? sums.cross[0]! / sums.cross[1] : null, self: sums.self[1] ? sums.self[0]! / sums.self[1] : null });
}

function repeatRows(t: ort.Tensor, times: number): ort.Tensor {
  let data = t.data as Flat;
  for (let i = 1; i < times; i++) data = concatRows(data, t.data as Flat);
  return makeTensor(t.type, data as never, [t.dims[0]! * times, ...t.dims.slice(1)]);
}

/** The first 1/times of a tensor's rows: undoes repeatRows on a result. */
function firstRows(t: ort.Tensor, times: number): ort.Tensor {
  const data = (t.data as Float32Array).subarray(0, t.data.length / times);
  return makeTensor(t.type, data as never, [t.dims[0]! / times, ...t.dims.slice(1)]);
}

function dtypeOf(d: Flat): string {
  return d instanceof BigInt64Array ? 'int64' : d instanceof Int32Array ? 'int32' : 'float32';
}
