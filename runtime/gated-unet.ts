// The gated sampler (SPEC.md §3): runs a compiled folder the way the official TGATE does.
// Before the gate, batch 2B with CFG; self-attention (v2) computed, stored at warm_up and every
// sp_interval-th step and reused in between; at step G-1 the cross- and self-attention outputs
// are kept, averaged over the CFG pair; from G on, batch B fed the cross caches, without
// guidance, self-attention recomputed every fi_interval-th step. build/schedule.ts decides each
// step; gateStep >= steps with version 1 is the plain baseline, same loop.
// The model calls go through variant-runner.ts (as compile's proof does), the feeds through
// unet-feeds.ts; this file is the loop: schedule, caches, guidance, scheduler update, checks.
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import type { Manifest } from '../build/manifest.js';
import type { VariantName } from '../build/variants.js';
import { firstChannels, guide, meanOfPair } from './batch-ops.js';
import { AttentionChangeRecorder, type AttentionChange } from './convergence.js';
import { modelRoles, type CacheSite, type ModelRoles } from './model-roles.js';
import { openCompiledGraph, readManifest, resolveSchedule, variantsFor, type TgateOptions } from './compiled-folder.js';
import { planSchedule, variantsUsed, type Phase, type PlannedStep, type ScheduleOptions, type SiteAction } from '../build/schedule.js';
import { numbersOf } from './tensor-values.js';
import { checkGenerateRequest } from './generate-inputs.js';
import { latentMultiple } from './latent-multiple.js';
import { checkFiniteStep } from './tensor-checks.js';
import { createScheduler, img2imgStart, type Scheduler, type SchedulerConfig } from './schedulers/index.js';
import type { Feeds, SessionOptions } from './session.js';
import type { InferModel } from './remote/sequence-model.js';
import { StatefulCalls, type StatefulSequence, type WireStats } from './stateful-calls.js';
import { UNetFeeds, type TensorInput } from './unet-feeds.js';
import { runnerLayout, VariantRunner, type VariantSessions } from './variant-runner.js';

export type { Phase } from '../build/schedule.js';
export { readManifest, resolveSchedule, variantsFor, type TgateOptions } from './compiled-folder.js';
export type { TensorInput } from './unet-feeds.js';

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
  /** DeepCache: 'store' on a full step, 'reuse' on a shallow one, 'compute' without DeepCache. */
  deep: SiteAction;
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
  /** With recordAttention: per step from k = 1, ||o_k - o_k-1|| / ||o_k-1|| averaged over sites (convergence.ts). */
  attentionChange: AttentionChange[];
  /** Against a stateful model (a server): the requests and the bytes sent and received; null in process. */
  wire: WireStats | null;
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

/** A generation under way: what prepare() settled, and what the steps carry from one to the next. */
interface Run {
  o: GenerateOptions;
  B: number;
  C: number;
  cfg: boolean;
  dims: number[];
  scheduler: Scheduler;
  /** The schedule's index of the first evaluation run (img2img starts mid-schedule). */
  start: number;
  plan: PlannedStep[];
  schedule: ScheduleOptions;
  feeds: UNetFeeds;
  /** Site caches by id: cross from the gate on; self as last stored (2B before the gate, B after). */
  siteCaches: Map<string, ort.Tensor>;
  /** The cross-attention caches taken at the gate step, as returned. */
  caches: Record<string, Float32Array>;
  attention: AttentionChangeRecorder | null;
  /** Against a stateful model: this generation's sequence (its id, its requests and bytes). */
  sequence: StatefulSequence | null;
}

export class GatedUNet {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly roles: ModelRoles,
    /** In process, every model call goes through a runner (variant-runner.ts), as compile's proof does; against a stateful model (a server), through StatefulCalls. */
    private readonly calls: { kind: 'local'; runner: VariantRunner } | { kind: 'stateful'; stateful: StatefulCalls },
    /** The variants this instance opened. */
    readonly opened: VariantName[],
  ) {}

  /** The in-process runner (variant-runner.ts); a GatedUNet over a stateful model has none. */
  get runner(): VariantRunner {
    if (this.calls.kind !== 'local') throw new TgateError('E_USAGE', 'This GatedUNet runs a stateful model (a server); it has no in-process runner.');
    return this.calls.runner;
  }

  /**
   * A GatedUNet whose model calls go to a stateful gated model (build/stateful-model.ts) run with
   * implicit state: a Triton server through the KServe v2 client (remote/kserve-client.ts), or in
   * process (remote/implicit-state.ts). `dir` is the compiled folder the model was exported from:
   * only its tgate.json is read (and a pipeline's denoiser config); the weights stay on the server.
   */
  static remote(dir: string, model: InferModel): GatedUNet {
    const manifest = readManifest(dir);
    return new GatedUNet(
      dir,
      manifest,
      modelRoles(manifest),
      { kind: 'stateful', stateful: new StatefulCalls(manifest, model) },
      manifest.variants.map((v) => v.name),
    );
  }

  static async load(dir: string, opts: LoadOptions = {}): Promise<GatedUNet> {
    const manifest = readManifest(dir);
    const roles = modelRoles(manifest);
    // By default, what the family's default schedule runs; 50 steps reach every kind of step it
    // has (longer runs only add fidelity steps).
    const wanted: VariantName[] = opts.planningOnly ? ['planning'] : (opts.variants ?? variantsFor(manifest, 50));
    // Pre-packing off where more than one variant is open: onnxruntime packs the shared weights
    // once per If branch (or session), which made opening sd15-full's gated-v2.onnx 2.5x slower
    // than the source and held a packed copy per branch; unpacked, the steady 512 px step measured
    // the same (16.2 s vs 16.5 s) and the first step came sooner (bench/first-step.ts, README).
    const prepacking = opts.prepacking ?? wanted.length === 1;
    const session: SessionOptions = { ...opts, threads: opts.threads ?? 0, optimization: opts.optimization ?? 'extended', prepacking };
    for (const w of wanted) {
      if (!manifest.variants.some((v) => v.name === w))
        throw new TgateError('E_USAGE', `${dir} has no ${w} variant (compiled variants: ${manifest.variants.map((v) => v.name).join(', ')}).`, {
          hint: w.startsWith('shallow')
            ? 'The folder has no DeepCache variants (no cut was found, or it was compiled with --no-deepcache): recompile without --no-deepcache, or run without --deepcache.'
            : 'Recompile with --sites all (the default) for the TGATE v2 variants, or run with --tgate-version 1.',
        });
    }
    // The smallest gated model holding every wanted variant; one variant alone needs no If.
    const gatedModel = manifest.gated
      .filter((g) => wanted.every((w) => g.variants.some((v) => v.name === w)))
      .sort((a, b) => a.variants.length - b.variants.length)[0];
    let sessions: VariantSessions;
    let opened: VariantName[];
    if ((opts.sessions ?? 'gated') === 'gated' && wanted.length > 1 && gatedModel) {
      sessions = { kind: 'gated', session: await openCompiledGraph(dir, manifest, gatedModel, session), model: gatedModel };
      opened = gatedModel.variants.map((x) => x.name);
    } else {
      const separate = new Map<string, ort.InferenceSession>();
      for (const w of wanted)
        separate.set(
          w,
          await openCompiledGraph(
            dir,
            manifest,
            manifest.variants.find((v) => v.name === w)!,
            session,
          ),
        );
      sessions = { kind: 'separate', sessions: separate };
      opened = wanted.slice();
    }
    // The sites in the order the sampler feeds them: cross, then self.
    const layout = runnerLayout({
      inputs: manifest.source.inputs,
      outputs: [roles.output.name],
      variants: manifest.variants,
      sites: [...roles.cross, ...roles.self, ...(roles.deep ? [roles.deep] : [])],
    });
    return new GatedUNet(dir, manifest, roles, { kind: 'local', runner: new VariantRunner(layout, sessions) }, opened);
  }

  /** 'gated' (one session, If nodes), 'separate' (a session per variant) or 'stateful' (a stateful model, on a server). */
  get sessions(): 'gated' | 'separate' | 'stateful' {
    return this.calls.kind === 'local' ? this.calls.runner.sessions.kind : 'stateful';
  }

  async release(): Promise<void> {
    if (this.calls.kind === 'local') await this.calls.runner.release();
    else await this.calls.stateful.release();
  }

  /** What the latents' height and width must be multiples of (a compiled pipeline's), read on first use. */
  private sizeMultiple: ReturnType<typeof latentMultiple> | undefined;

  async generate(o: GenerateOptions): Promise<GenerateResult> {
    const started = performance.now();
    const run = this.prepare(o);
    let x = initialLatents(o, run.scheduler, run.start);
    const records: StepRecord[] = [];
    const trajectory: Float32Array[] = [];
    const modelOutputs: Float32Array[] = [];
    for (const step of run.plan) {
      const done = await this.step(run, step, x);
      x = done.x;
      if (o.keepTrajectory) {
        trajectory.push(x);
        modelOutputs.push(done.eps);
      }
      records.push(done.record);
      o.onStep?.(done.record);
    }
    const { dims, caches, schedule, cfg } = run;
    const attentionChange = run.attention?.changes ?? [];
    const wire = run.sequence ? { ...run.sequence.wire } : null;
    return { latents: x, dims, records, trajectory, modelOutputs, caches, schedule, cfg, totalMs: performance.now() - started, attentionChange, wire };
  }

  /** The request checked (generate-inputs.ts), the scheduler made, the schedule planned over the evaluations it runs. */
  private prepare(o: GenerateOptions): Run {
    // Shapes, dtypes, names, finiteness and numbers, before anything runs (generate-inputs.ts).
    if (this.sizeMultiple === undefined) this.sizeMultiple = latentMultiple(this.dir, this.manifest);
    const { B, C, cfg } = checkGenerateRequest(o, this.manifest, this.roles, this.sizeMultiple);
    const scheduler = schedulerOf(o);
    const strength = o.strength ?? 1;
    if (!(strength > 0 && strength <= 1)) throw new TgateError('E_USAGE', `strength must be in (0, 1], not ${strength}.`);
    // Model evaluations run (PNDM evaluates the model more often than it has steps) and, as the
    // official pipelines count them, the steps: img2img starts mid-schedule.
    const start = o.image ? img2imgStart(scheduler, strength) : 0;
    const evaluations = scheduler.timesteps.length - start;
    const steps = scheduler.steps - start / scheduler.order;
    if (steps < 1) {
      throw new TgateError('E_USAGE', `img2img with strength ${strength} over ${o.steps} steps runs no step (floor(${o.steps} x ${strength}) = 0).`, {
        hint: `Raise the strength to at least ${(1 / o.steps).toFixed(3)}, or the number of steps.`,
      });
    }
    const schedule = resolveSchedule(this.manifest, o.gateStep, o.tgate);
    const plan = planSchedule(steps, cfg, schedule, evaluations - steps * scheduler.order);
    const missing = variantsUsed(plan).filter((n) => !this.opened.includes(n));
    if (missing.length) {
      throw new TgateError(
        'E_USAGE',
        `This schedule runs the ${missing.join(', ')} variant(s), which this GatedUNet did not open (it opened ${this.opened.join(', ')}).`,
        { hint: 'Load with the variants the schedule needs: GatedUNet.load(dir, { variants: variantsFor(manifest, steps, gateStep, tgate) }).' },
      );
    }
    if (this.calls.kind === 'stateful' && o.recordAttention)
      throw new TgateError('E_USAGE', 'Recording attention needs the site outputs, which a stateful model keeps on the server.', {
        hint: 'Record attention in process (without --server).',
      });
    const feeds = new UNetFeeds(this.manifest.source.inputs, this.roles, o, B, cfg);
    const attention = o.recordAttention ? new AttentionChangeRecorder() : null;
    const sequence = this.calls.kind === 'stateful' ? this.calls.stateful.begin() : null;
    return { o, B, C, cfg, dims: o.latents.dims, scheduler, start, plan, schedule, feeds, siteCaches: new Map(), caches: {}, attention, sequence };
  }

  /** One step: the model call, the caches it stores, guidance and the scheduler's update, each checked for NaN. */
  private async step(run: Run, step: PlannedStep, x: Float32Array): Promise<{ x: Float32Array; eps: Float32Array; record: StepRecord }> {
    const { o, B, scheduler } = run;
    const { k, phase, paired } = step;
    const stepStart = performance.now();
    const index = run.start + k;
    const t = scheduler.timesteps[index]!;
    const batch = paired ? 2 * B : B;
    const feeds = run.feeds.step(scheduler.scaleModelInput(x, index), run.dims, t, phase, paired);
    const res = await this.modelCall(run, step, batch, feeds);
    // NaN or infinity stops the generation at the step it appears in, naming it (tensor-checks.ts).
    const where = `step ${k + 1}/${run.plan.length} (model evaluation ${index}, timestep ${t}, the ${step.variant} variant at batch ${batch})`;
    const eps = this.guided(run, res.output, paired, where);
    const next = scheduler.step(eps, index, x);
    checkFiniteStep(
      next,
      run.dims,
      `The latents after the ${scheduler.className} update at ${where}`,
      `The model's output was finite, the update overflowed float32: ${paired ? `the guidance scale (${o.guidance}) is too large, or ` : ''}the schedule's noise levels are too extreme (check the scheduler config's beta_start, beta_end, trained_betas, or use another scheduler).`,
    );
    const { variant, cross, self, deep } = step;
    const record: StepRecord = {
      k,
      steps: run.plan.length,
      t,
      phase,
      variant,
      cross,
      self,
      deep,
      batch,
      modelMs: res.modelMs,
      stepMs: performance.now() - stepStart,
    };
    return { x: next, eps, record };
  }

  /** The step's model call: in process with the caches kept here, or one request of the stateful model's sequence (the server keeps them). */
  private async modelCall(run: Run, step: PlannedStep, batch: number, feeds: Feeds): Promise<{ output: ort.Tensor; modelMs: number }> {
    if (run.sequence) return run.sequence.call(step, batch, feeds, step === run.plan[run.plan.length - 1]);
    const fetch = this.sitesToFetch(step, run.o.recordAttention === true);
    const res = await this.runner.call({ variant: step.variant, batch, feeds, caches: run.siteCaches, fetch });
    run.attention?.record(
      step.k,
      fetch.filter((c) => c.kind !== 'deep').map((c) => [c, res.sites.get(c.id)!]),
    );
    this.keepCaches(run, step, fetch, res.sites);
    return { output: res.outputs[this.roles.output.name]!, modelMs: res.modelMs };
  }

  /** The site outputs a step needs: those it stores (or, recording attention, every attention output its variant computes). */
  private sitesToFetch(step: PlannedStep, recordAttention: boolean): CacheSite[] {
    const r = this.roles;
    // Only what the step's variant computes: a shallow variant holds only its shallow network's sites.
    const cuts = this.manifest.variants.find((v) => v.name === step.variant)!.cuts;
    const deep = step.keepDeep && r.deep ? [r.deep] : [];
    const wanted = recordAttention ? [...r.cross, ...r.self] : [...(step.cross === 'store' ? r.cross : []), ...(step.keepSelf ? r.self : [])];
    return wanted.filter((c) => cuts[c.id] === 'output').concat(deep);
  }

  /** Stores what the step keeps: the gate step the mean over the CFG pair (both kinds), other stores the rows. */
  private keepCaches(run: Run, step: PlannedStep, fetched: CacheSite[], sites: Map<string, ort.Tensor>): void {
    for (const c of fetched) {
      // The deep feature is kept as computed, at the step's batch (the official helper stores it so).
      if (c.kind === 'deep') {
        if (step.keepDeep) run.siteCaches.set(c.id, sites.get(c.id)!);
        continue;
      }
      if (c.kind === 'cross' ? step.cross !== 'store' : !step.keepSelf) continue;
      // Halving axis 0 pairs samples at either site rank ([2B, T, C] or [2B·T, C]; batch-ops.ts).
      const kept = step.phase === 'gate' ? meanOfPair(sites.get(c.id)!, c.dtype, step.paired) : sites.get(c.id)!;
      run.siteCaches.set(c.id, kept);
      if (c.kind === 'cross') run.caches[c.id] = Float32Array.from(numbersOf(kept));
    }
  }

  /** The noise prediction: the model's output checked, guided over the CFG pair (checked), its noise channels. */
  private guided(run: Run, out: ort.Tensor, paired: boolean, where: string): Float32Array {
    const { o, B, C } = run;
    const raw = numbersOf(out);
    checkFiniteStep(
      raw,
      out.dims,
      `The UNet's output ${this.roles.output.name} at ${where}`,
      'The model overflows on these inputs: check the scale of the latents and the conditioning (noise latents are N(0, 1)); a float16 export overflows sooner than a float32 one.',
    );
    const outChannels = out.dims[1]!;
    const guided = paired ? guide(raw, o.guidance) : raw;
    if (paired)
      checkFiniteStep(
        guided,
        [B, ...out.dims.slice(1)],
        `The guided output (guidance ${o.guidance}) at ${where}`,
        'The guidance scale is too large for float32: use a smaller one (1-15 is usual).',
      );
    // Learned variance (PixArt): guidance on the whole output, then the noise half.
    return firstChannels(guided, B, outChannels, Math.min(C, outChannels));
  }
}

/** The generation's scheduler: given, made by a function, or by name (a scheduler keeps state: one per generation). */
function schedulerOf(o: GenerateOptions): Scheduler {
  const scheduler =
    typeof o.scheduler === 'function'
      ? o.scheduler()
      : typeof o.scheduler === 'object'
        ? o.scheduler
        : createScheduler(o.scheduler ?? 'ddim', o.steps, o.schedulerConfig);
  if (scheduler.steps !== o.steps)
    throw new TgateError('E_USAGE', `The scheduler was made for ${scheduler.steps} steps, but the generation asks for ${o.steps}.`);
  return scheduler;
}

/** The noise scaled by the scheduler's init sigma, or (img2img) the clean latents noised at the first evaluation; checked. */
function initialLatents(o: GenerateOptions, scheduler: Scheduler, start: number): Float32Array {
  const x: Float32Array = o.image
    ? scheduler.addNoise(o.image.data as Float32Array, o.latents.data as Float32Array, start)
    : Float32Array.from(o.latents.data as Float32Array, (v) => v * scheduler.initNoiseSigma);
  checkFiniteStep(
    x,
    o.latents.dims,
    o.image
      ? `The noised img2img latents (${scheduler.className}.add_noise at evaluation ${start})`
      : `The initial latents (x init_noise_sigma ${scheduler.initNoiseSigma})`,
    "The latents are too large for float32 at this noise level: noise latents are N(0, 1) (numpy.random.randn), clean latents the VAE's, scaled.",
  );
  return x;
}
