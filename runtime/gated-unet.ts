// The gated sampler (SPEC.md §3): runs a compiled folder the way the official TGATE does.
// Before the gate, the planning graph at batch 2B with CFG; at step G-1 it also keeps the
// cross-attention outputs, averaged over the CFG pair; from G on, the fidelity graph at batch B
// fed those caches, without guidance. gateStep >= steps is the plain baseline, same loop.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { TgateError } from '../compiler/errors.js';
import type { Manifest } from '../compiler/manifest.js';
import { concatRows, firstChannels, guide, meanOfHalves, type Flat } from './batch-ops.js';
import { modelRoles, type ModelRoles } from './model-roles.js';
import { placeholder, useCacheFlag } from './placeholders.js';
import { numbersOf, valuesAs } from './tensor-values.js';
import { toHalfBits } from '../compiler/ir/dtype.js';
import { createScheduler, type SchedulerConfig } from './schedulers/index.js';
import { makeTensor, openSession, type SessionOptions } from './session.js';

export interface TensorInput {
  data: Flat;
  dims: number[];
}

export type Phase = 'planning' | 'gate' | 'fidelity';

export interface StepRecord {
  /** Index among the steps actually run (img2img starts mid-schedule). */
  k: number;
  steps: number;
  t: number;
  phase: Phase;
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
  gateStep: number;
  guidance: number;
  scheduler?: string;
  schedulerConfig?: SchedulerConfig;
  /** img2img: clean latents to start from, and how much of the schedule to run (0-1]. */
  image?: TensorInput;
  strength?: number;
  /** Keep every step's latents and guided model outputs. */
  keepTrajectory?: boolean;
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
  cfg: boolean;
  totalMs: number;
}

export interface LoadOptions extends SessionOptions {
  /** Open only the planning graph (baseline runs). */
  planningOnly?: boolean;
  /**
   * 'gated' (default): one session over gated.onnx, both variants as branches of an If node,
   * so one arena and one copy of pre-packed weights serve both phases. 'pair': a planning and a
   * fidelity session (each holds its own arena: measured 1.5x the baseline's peak RSS).
   */
  sessions?: 'gated' | 'pair';
}

/** How the sampler reaches the two variants. */
type Variants =
  | { kind: 'pair'; planning: ort.InferenceSession; fidelity: ort.InferenceSession | null }
  | { kind: 'gated'; session: ort.InferenceSession; useCache: string };

export class GatedUNet {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly roles: ModelRoles,
    private readonly variants: Variants,
  ) {}

  static async load(dir: string, opts: LoadOptions = {}): Promise<GatedUNet> {
    const file = path.join(dir, 'tgate.json');
    if (!fs.existsSync(file)) {
      throw new TgateError('E_FILE_MISSING', `${dir} has no tgate.json: it is not a compiled folder.`, { subject: { file: dir }, hint: 'Compile the model first: tgate compile <model.onnx> -o <dir>.' });
    }
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
    if (manifest.format !== 'tgate/1') {
      throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has format ${JSON.stringify(manifest.format)}; this tgate reads tgate/1.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
    }
    for (const key of ['graphs', 'io', 'sites', 'removedInputs'] as const) {
      if (!manifest[key]) throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has no "${key}": it was not written by this version of tgate.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
    }
    const roles = modelRoles(manifest);
    const session: SessionOptions = { ...opts, threads: opts.threads ?? 0, optimization: opts.optimization ?? 'extended' };
    let variants: Variants;
    // Folders compiled before gated.onnx existed run as a planning/fidelity pair.
    if ((opts.sessions ?? 'gated') === 'gated' && !opts.planningOnly && manifest.graphs.gated) {
      variants = { kind: 'gated', session: await openSession(path.join(dir, manifest.graphs.gated), session), useCache: manifest.gated.useCacheInput };
    } else {
      const planning = await openSession(path.join(dir, manifest.graphs.planning), session);
      const fidelity = opts.planningOnly ? null : await openSession(path.join(dir, manifest.graphs.fidelity), session);
      variants = { kind: 'pair', planning, fidelity };
    }
    return new GatedUNet(dir, manifest, roles, variants);
  }

  /** 'gated' (one session, If node) or 'pair' (planning + fidelity sessions). */
  get sessions(): 'gated' | 'pair' {
    return this.variants.kind;
  }

  async release(): Promise<void> {
    const v = this.variants;
    if (v.kind === 'gated') await v.session.release();
    else {
      await v.planning.release();
      await v.fidelity?.release();
    }
  }

  /**
   * One model call. Through the gated model, the inputs the taken branch ignores get
   * placeholders: zero caches of one token in the planning branch, zero text of one token in
   * the fidelity branch (If evaluates only the branch it takes).
   */
  private async call(phase: Phase, feeds: Record<string, ort.Tensor>, fetches: string[], batch: number): Promise<ort.InferenceSession.ReturnType> {
    const v = this.variants;
    if (v.kind === 'pair') return (phase === 'fidelity' ? v.fidelity! : v.planning).run(feeds, fetches);
    const fidelity = phase === 'fidelity';
    feeds[v.useCache] = useCacheFlag(fidelity);
    if (fidelity) {
      for (const n of this.roles.text) {
        const spec = this.manifest.io.planning.inputs.find((i) => i.name === n)!;
        feeds[n] = placeholder(spec.shape, batch, spec.dtype);
      }
    } else {
      for (const c of this.roles.caches) {
        const site = this.manifest.sites.find((s) => s.id === c.id)!;
        feeds[c.gatedInput] = placeholder(site.shape, batch, site.dtype);
      }
    }
    const names = fetches.map((f) => this.roles.caches.find((c) => c.planningOutput === f)?.gatedOutput ?? f);
    const out = await v.session.run(feeds, names);
    return Object.fromEntries(names.map((n, i) => [fetches[i]!, out[n]!]));
  }

  /** A feed for a model input: float32 values become float16 where the model declares it. */
  private inputTensor(name: string, data: Flat, dims: number[]): ort.Tensor {
    const declared = this.manifest.io.planning.inputs.find((i) => i.name === name)?.dtype;
    if (declared === 'float16' && data instanceof Float32Array) return makeTensor('float16', valuesAs('float16', data), dims);
    return makeTensor(dtypeOf(data), data as never, dims);
  }

  private cacheChannels(id: string): number {
    const c = this.manifest.sites.find((s) => s.id === id)!.shape[2];
    if (typeof c !== 'number') throw new TgateError('E_UNSUPPORTED_MODEL', `Site ${id} has a symbolic channel count; tgate needs it fixed.`);
    return c;
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

  private checkInputs(o: GenerateOptions, cfg: boolean, B: number): void {
    const need = (set: Record<string, TensorInput> | undefined, which: string, names: string[]) => {
      for (const n of names) {
        const t = set?.[n];
        if (!t) throw new TgateError('E_USAGE', `Missing ${which} input "${n}".`, { hint: `Give ${which}.${n} (shape [${B}, ...]).` });
        if (t.dims[0] !== B) throw new TgateError('E_USAGE', `${which} input "${n}" has batch ${t.dims[0]}, but the latents have batch ${B}.`);
      }
    };
    const conditioned = [...this.roles.text, ...this.roles.conditioning];
    need(o.cond, 'cond', [...conditioned, ...this.roles.guidanceEmbedding]);
    if (cfg) need(o.uncond, 'uncond', conditioned);
  }

  async generate(o: GenerateOptions): Promise<GenerateResult> {
    const started = performance.now();
    const r = this.roles;
    const dims = o.latents.dims;
    const B = dims[0]!;
    const C = dims[1]!;
    // A guidance embedding means the model was distilled for guidance (LCM): no CFG pair.
    const cfg = o.guidance > 1 && r.guidanceEmbedding.length === 0;
    this.checkInputs(o, cfg, B);
    const G = Math.max(0, Math.floor(o.gateStep));
    if (G < o.steps && this.variants.kind === 'pair' && !this.variants.fidelity) throw new TgateError('E_USAGE', 'This GatedUNet was loaded with planningOnly; load it fully to gate.');
    const scheduler = createScheduler(o.scheduler ?? 'ddim', o.steps, o.schedulerConfig);
    const strength = o.strength ?? 1;
    if (!(strength > 0 && strength <= 1)) throw new TgateError('E_USAGE', `strength must be in (0, 1], not ${strength}.`);
    const start = o.image ? Math.max(o.steps - Math.min(Math.floor(o.steps * strength), o.steps), 0) : 0;
    let x: Float32Array = o.image
      ? scheduler.addNoise(o.image.data as Float32Array, o.latents.data as Float32Array, start)
      : Float32Array.from(o.latents.data as Float32Array, (v) => v * scheduler.initNoiseSigma);
    const run = o.steps - start;
    const caches: Record<string, Float32Array> = {};
    const records: StepRecord[] = [];
    const trajectory: Float32Array[] = [];
    const modelOutputs: Float32Array[] = [];
    // Conditioning and cache feeds do not change from step to step: built once, on first use.
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
    const cacheFeeds: Record<string, ort.Tensor> = {};
    const gatedModel = this.variants.kind === 'gated';
    // A static-batch export runs every call at its fixed batch: rows are repeated to fill it and
    // only the first `batch` rows of each output are used (correct, without the batch saving).
    const fixed = typeof r.latent.shape[0] === 'number' ? r.latent.shape[0] : null;
    for (let k = 0; k < run; k++) {
      const stepStart = performance.now();
      const index = start + k;
      const t = scheduler.timesteps[index]!;
      const phase: Phase = k < G - 1 ? 'planning' : k === G - 1 ? 'gate' : 'fidelity';
      const paired = cfg && phase !== 'fidelity';
      const xin = scheduler.scaleModelInput(x, index);
      const batch = paired ? 2 * B : B;
      const feeds: Record<string, ort.Tensor> = {
        [r.latent.name]: this.inputTensor(r.latent.name, paired ? concatRows(xin, xin) : xin, [batch, ...dims.slice(1)]),
        [r.timestep.name]: this.timestepTensor(t, batch),
      };
      for (const n of r.guidanceEmbedding) feeds[n] = cond(n, false);
      let fetches = [r.output.name];
      if (phase === 'fidelity') {
        // After the gate the conditioning the fidelity graph still reads takes its uncond value
        // under CFG, as the official code does (SDXL's pooled embeds and time ids).
        for (const n of r.conditioning) feeds[n] = cfg ? uncond(n) : cond(n, false);
        Object.assign(feeds, cacheFeeds);
      } else {
        for (const n of [...r.text, ...r.conditioning]) feeds[n] = cond(n, paired);
        if (phase === 'gate') fetches = [r.output.name, ...r.caches.map((c) => c.planningOutput)];
      }
      const repeat = fixed !== null && fixed !== batch ? fixed / batch : 1;
      if (!Number.isInteger(repeat)) {
        throw new TgateError('E_USAGE', `The model was exported with a fixed batch of ${fixed}; batch ${batch} does not divide it.`, { hint: `Use a batch that divides ${fixed} (with CFG the model runs at twice the batch), or re-export with a dynamic batch axis.` });
      }
      if (repeat > 1) for (const [k, t] of Object.entries(feeds)) if (t.dims.length > 0 && t.dims[0] === batch) feeds[k] = repeatRows(t, repeat);
      const callStart = performance.now();
      const fullOut = await this.call(phase, feeds, fetches, batch * repeat);
      const modelMs = performance.now() - callStart;
      const out = repeat > 1 ? firstRowsOf(fullOut, repeat) : fullOut;
      if (phase === 'gate') {
        for (const c of r.caches) {
          const v = numbersOf(out[c.planningOutput]!);
          // Averaging over the pair only when there is a pair: a batch of one is never split.
          caches[c.id] = paired ? meanOfHalves(v) : Float32Array.from(v);
          const channels = this.cacheChannels(c.id);
          const dtype = this.manifest.sites.find((s) => s.id === c.id)!.dtype;
          cacheFeeds[gatedModel ? c.gatedInput : c.fidelityInput] = makeTensor(dtype, valuesAs(dtype, caches[c.id]!), [B, caches[c.id]!.length / (B * channels), channels]);
        }
      }
      const raw = numbersOf(out[r.output.name]!);
      const outChannels = out[r.output.name]!.dims[1]!;
      const guided = paired ? guide(raw, o.guidance) : raw;
      // Learned variance (PixArt): guidance on the whole output, then the noise half.
      const eps = firstChannels(guided, B, outChannels, Math.min(C, outChannels));
      x = scheduler.step(eps, index, x);
      if (o.keepTrajectory) {
        trajectory.push(x);
        modelOutputs.push(eps);
      }
      const rec: StepRecord = { k, steps: run, t, phase, batch, modelMs, stepMs: performance.now() - stepStart };
      records.push(rec);
      o.onStep?.(rec);
    }
    return { latents: x, dims, records, trajectory, modelOutputs, caches, cfg, totalMs: performance.now() - started };
  }
}

function repeatRows(t: ort.Tensor, times: number): ort.Tensor {
  let data = t.data as Flat;
  for (let i = 1; i < times; i++) data = concatRows(data, t.data as Flat);
  return makeTensor(t.type, data as never, [t.dims[0]! * times, ...t.dims.slice(1)]);
}

/** The first 1/times of each output's rows: undoes repeatRows on the results. */
function firstRowsOf(out: ort.InferenceSession.ReturnType, times: number): ort.InferenceSession.ReturnType {
  return Object.fromEntries(Object.entries(out).map(([k, t]) => {
    const data = (t.data as Float32Array).subarray(0, t.data.length / times);
    return [k, makeTensor(t.type, data as never, [t.dims[0]! / times, ...t.dims.slice(1)])];
  }));
}

function dtypeOf(d: Flat): string {
  return d instanceof BigInt64Array ? 'int64' : d instanceof Int32Array ? 'int32' : 'float32';
}
