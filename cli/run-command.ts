// tgate run: one generation of a compiled folder with the gated sampler (or --baseline), tensors
// in and out as .npy. Inputs a user does not give are seeded random, and the command says so.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import type { Manifest, ManifestIo } from '../build/manifest.js';
import { checkDeepCache, DEEPCACHE_DEFAULTS, type DeepCacheOptions, type DeepCacheSchedule } from '../build/deepcache-steps.js';
import type { VariantName } from '../build/variants.js';
import { pipelineSchedulerConfig } from '../runtime/compiled-folder.js';
import { compiledLatentFactor } from '../runtime/pipeline/latent-factor.js';
import { latentMultiple } from '../runtime/latent-multiple.js';
import { usageError } from './args.js';
import { connectGatedUNet } from '../runtime/remote/connect-unet.js';
import { defaultModelName } from '../build/triton/export.js';
import { GatedUNet, readManifest, variantsFor, type GenerateOptions, type TensorInput, type TgateOptions } from '../runtime/gated-unet.js';
import { createScheduler, readDiffusersJson, schedulerFromConfig, SCHEDULERS } from '../runtime/schedulers/index.js';
import { MAX_STEPS } from '../runtime/schedulers/config-check.js';
import { TorchGenerator } from '../runtime/torch-random.js';
import { checkOutputFile, checkOutputFolder } from './output-check.js';
import { progressReporter } from './progress.js';
import { runMode, runSummary, runText } from './run-format.js';
import { note } from './reporter.js';
import { concreteShape, namedTensors, readNpyFile, seededNormal, writeNpyFile } from './tensor-args.js';

/** Parsed option values by long name (cli/args.ts ParsedArgs). */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function numberOption(v: Values, key: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v[key]);
  if (!Number.isFinite(n) || !check(n))
    throw new TgateError('E_USAGE', `--${key} must be ${what}, not "${v[key]}".`, {
      hint: `Give --${key} ${what}, or leave it out for its default (\`tgate help\` lists the options).`,
    });
  return n;
}

export function sessionOptions(v: Values) {
  const optimization = String(v.optimization);
  if (!['disabled', 'basic', 'extended', 'all'].includes(optimization))
    throw new TgateError('E_USAGE', `--optimization must be disabled, basic, extended or all, not "${optimization}".`, {
      hint: 'Leave it out for extended (the default).',
    });
  if (v.sessions !== 'gated' && v.sessions !== 'separate' && v.sessions !== 'pair')
    throw new TgateError('E_USAGE', `--sessions must be gated or separate, not "${v.sessions}".`, { hint: 'Leave it out for gated (the default).' });
  if (!['auto', 'on', 'off'].includes(v.prepacking as string))
    throw new TgateError('E_USAGE', `--prepacking must be auto, on or off, not "${v.prepacking}".`, { hint: 'Leave --prepacking out for auto (the default).' });
  for (const k of ['arena', 'mem-pattern'])
    if (v[k] !== 'on' && v[k] !== 'off')
      throw new TgateError('E_USAGE', `--${k} must be on or off, not "${v[k]}".`, { hint: `Leave --${k} out for on (the default).` });
  return {
    sessions: v.sessions as 'gated' | 'separate' | 'pair',
    arena: v.arena === 'on',
    memPattern: v['mem-pattern'] === 'on',
    threads: numberOption(v, 'threads', (n) => Number.isInteger(n) && n >= 0, 'a whole number (0 = one per core)'),
    optimization: optimization as 'disabled' | 'basic' | 'extended' | 'all',
    ...(v.prepacking === 'auto' ? {} : { prepacking: v.prepacking === 'on' }),
  };
}

export interface ScheduleArgs {
  steps: number;
  /** undefined: the family's default. */
  gateStep: number | undefined;
  /** tgate.deepcache is set when --deepcache N (N > 1) asks for DeepCache. */
  tgate: TgateOptions;
}

const optionalNumber = (v: Values, key: string, check: (n: number) => boolean, what: string) =>
  v[key] === undefined ? undefined : numberOption(v, key, check, what);

/** What the official TGATE + DeepCache combination forces (T-GATE main.py --deepcache): no self-attention reuse. */
const DEEPCACHE_FORCED = { 'sp-interval': 1, 'warm-up': 0, 'fi-interval': 1 } as const;

/**
 * DeepCache's plan from --deepcache N and its companions, or null when off (no --deepcache, or N
 * 1). The branch defaults to the one the folder was compiled for (`compiledBranch`), so a folder
 * compiled with --deepcache-branch 3 runs without repeating it; a different one is the library's
 * coded refusal. Values are checked as the library checks them (build/deepcache-steps.ts).
 */
export function deepCacheArgs(v: Values, compiledBranch?: number): DeepCacheOptions | null {
  const companions = ['deepcache-branch', 'deepcache-center', 'deepcache-pow'].filter((k) => v[k] !== undefined);
  if (v['deepcache-schedule'] !== undefined && v['deepcache-schedule'] !== 'uniform') companions.push('deepcache-schedule');
  if (v.deepcache === undefined) {
    if (companions.length)
      throw new TgateError('E_USAGE', `--${companions[0]} needs --deepcache N: DeepCache is off without an interval.`, {
        hint: 'Add --deepcache 3 (the official interval), or leave out the --deepcache-* options.',
      });
    return null;
  }
  const interval = numberOption(
    v,
    'deepcache',
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_STEPS,
    `a whole number from 1 to ${MAX_STEPS} (the full-step interval; 1 = DeepCache off, the official loaders use ${DEEPCACHE_DEFAULTS.interval})`,
  );
  const branch =
    optionalNumber(v, 'deepcache-branch', (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0 (0: the shallowest cut)') ??
    compiledBranch ??
    DEEPCACHE_DEFAULTS.branch;
  const schedule = String(v['deepcache-schedule'] ?? DEEPCACHE_DEFAULTS.schedule) as DeepCacheSchedule;
  const o: DeepCacheOptions = { interval, branch, schedule };
  const center = optionalNumber(v, 'deepcache-center', (n) => Number.isInteger(n) && n >= 0, 'a step index (a whole number >= 0)');
  const pow = optionalNumber(v, 'deepcache-pow', (n) => n > 1, 'a number > 1');
  if (center !== undefined) o.center = center;
  if (pow !== undefined) o.pow = pow;
  // The library's checks (schedule name, center/pow only with quadratic), before any model opens.
  checkDeepCache(o);
  if (interval === 1) return null;
  const conflicting = (Object.keys(DEEPCACHE_FORCED) as (keyof typeof DEEPCACHE_FORCED)[]).filter(
    (k) => v[k] !== undefined && Number(v[k]) !== DEEPCACHE_FORCED[k],
  );
  if (conflicting.length) {
    throw new TgateError(
      'E_USAGE',
      `${conflicting.map((k) => `--${k} ${v[k]}`).join(', ')} conflicts with --deepcache ${interval}: DeepCache runs as the official TGATE + DeepCache combination does, with no self-attention reuse (sp_interval 1, warm_up 0, fi_interval 1).`,
      {
        hint: `Leave out ${conflicting.map((k) => `--${k}`).join(', ')} (T-GATE's main.py --deepcache forces them), or drop --deepcache for TGATE v2's self-attention reuse.`,
      },
    );
  }
  return o;
}

/**
 * The schedule from run/bench/generate options; --baseline is version 1 with a gate that never
 * comes (TGATE off), and with --deepcache N it is DeepCache alone.
 */
export function scheduleArgs(v: Values, compiledBranch?: number): ScheduleArgs {
  const steps = numberOption(
    v,
    'steps',
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_STEPS,
    `a whole number from 1 to ${MAX_STEPS} (at most the scheduler's num_train_timesteps, 1000 for SD)`,
  );
  const whole = (n: number) => Number.isInteger(n) && n >= 1;
  const gateStep = optionalNumber(v, 'gate-step', whole, 'a whole number >= 1');
  const version = optionalNumber(v, 'tgate-version', (n) => n === 1 || n === 2, '1 or 2') as 1 | 2 | undefined;
  const tgate: TgateOptions = {};
  if (version !== undefined) tgate.version = version;
  const sp = optionalNumber(v, 'sp-interval', whole, 'a whole number >= 1');
  const fi = optionalNumber(v, 'fi-interval', whole, 'a whole number >= 1');
  const warm = optionalNumber(v, 'warm-up', (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0');
  if (sp !== undefined) tgate.spInterval = sp;
  if (fi !== undefined) tgate.fiInterval = fi;
  if (warm !== undefined) tgate.warmUp = warm;
  const deepcache = deepCacheArgs(v, compiledBranch);
  if (v.baseline) return { steps, gateStep: Number.POSITIVE_INFINITY, tgate: { version: 1, ...(deepcache ? { deepcache } : {}) } };
  if (deepcache) tgate.deepcache = deepcache;
  return { steps, gateStep, tgate };
}

/** The branch a compiled folder's DeepCache variants were made for (undefined when it has none). */
export function compiledDeepCacheBranch(m: Manifest): number | undefined {
  return m.deepcache && 'site' in m.deepcache ? m.deepcache.branch : undefined;
}

/** The variants a run with these options opens: only those its schedule uses. */
export function variantsForArgs(dir: string, v: Values): VariantName[] {
  const m = readManifest(dir);
  const a = scheduleArgs(v, compiledDeepCacheBranch(m));
  return variantsFor(m, a.steps, a.gateStep, a.tgate);
}

/** A fresh scheduler per call (and generator, for the schedulers that draw noise), its name, and the img2img strength. */
function schedulerFrom(unet: GatedUNet, v: Values, seed: number, steps: number) {
  const name = v.scheduler === undefined ? undefined : String(v.scheduler);
  if (name !== undefined && !(SCHEDULERS as readonly string[]).includes(name))
    throw new TgateError('E_USAGE', `--scheduler must be one of ${SCHEDULERS.join(', ')}, not "${name}".`, {
      hint: "Leave it out for ddim (a compiled pipeline's own scheduler).",
    });
  // A compiled pipeline runs with its own scheduler, as generate does, unless told otherwise.
  const own = unet.manifest.pipeline && name === undefined ? pipelineSchedulerConfig(unet.dir) : null;
  const configFile = v['scheduler-config'] !== undefined ? String(v['scheduler-config']) : own;
  const config = configFile ? readDiffusersJson(configFile) : null;
  // A fresh scheduler (and generator, for the schedulers that draw noise) per generation: bench
  // repeats one request, and every repetition must draw the same numbers.
  const strength = v.image ? (v.strength === undefined ? 0.8 : numberOption(v, 'strength', (n) => n > 0 && n <= 1, 'in (0, 1]')) : undefined;
  const makeScheduler = () => {
    const generator = new TorchGenerator(seed);
    // A guidance-distilled UNet runs as diffusers' LatentConsistencyModel pipelines: its img2img
    // strength goes into the LCM scheduler's timesteps (the other schedulers ignore it).
    const extra = { generator, ...(strength !== undefined && unet.roles.guidanceEmbedding.length ? { strength } : {}) };
    return config ? schedulerFromConfig(config, { steps, source: configFile!, name, ...extra }) : createScheduler(name ?? 'ddim', steps, undefined, extra);
  };
  return { makeScheduler, scheduler: makeScheduler().name, strength };
}

/** The initial latents: --latents, else seeded noise at --batch/--height/--width (checked against the model); `notes` says so. */
function latentsFrom(unet: GatedUNet, v: Values, seed: number, notes: string[]): TensorInput {
  if (v.latents) return readNpyFile(String(v.latents));
  const r = unet.roles;
  const batch = numberOption(v, 'batch', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1');
  // Image pixels, over the model's latent factor (its pipeline's VAE; 8, or 1 in pixel space).
  const lf = compiledLatentFactor(unet.dir, unet.manifest);
  const f = lf.factor;
  // Unset sizes: a model exported with fixed latent sides (an onnxruntime-optimized static
  // graph) takes only those, so they are the default; otherwise SD's 512 px.
  const side = (i: 2 | 3) => (typeof r.latent.shape[i] === 'number' ? String((r.latent.shape[i] as number) * f) : '512');
  v = { ...v, height: v.height ?? side(2), width: v.width ?? side(3) };
  const what = `a positive multiple of ${f} (image pixels; the latent factor is ${lf.why})`;
  const h = numberOption(v, 'height', (n) => Number.isInteger(n) && n % f === 0 && n > 0, what);
  const w = numberOption(v, 'width', (n) => Number.isInteger(n) && n % f === 0 && n > 0, what);
  // A compiled pipeline's denoiser halves the latents a known number of times: a size it
  // cannot halve is this option's error, not a tensor's (runtime/latent-multiple.ts).
  const lm = latentMultiple(unet.dir, unet.manifest);
  if (lm && ((h / f) % lm.multiple !== 0 || (w / f) % lm.multiple !== 0)) {
    const px = f * lm.multiple;
    throw new TgateError(
      'E_USAGE',
      `--height ${h} --width ${w}: this pipeline takes multiples of ${px} pixels (the latent factor ${f} x ${lm.multiple}: ${lm.why}).`,
      { hint: `Use multiples of ${px}, e.g. --height ${Math.max(px, Math.round(h / px) * px)} --width ${Math.max(px, Math.round(w / px) * px)}.` },
    );
  }
  const channels = typeof r.latent.shape[1] === 'number' ? r.latent.shape[1] : 4;
  const latents = seededNormal([batch, channels, h / f, w / f], seed, `--batch ${batch} --height ${h} --width ${w}: the latents`);
  notes.push(`latents: seeded Gaussian noise [${latents.dims.join(', ')}] (seed ${seed}; latent ${h / f}x${w / f} for ${h}x${w} px)`);
  return latents;
}

/** --cond/--uncond checked against the model, the rest seeded random at batch `B`; `notes` says which. */
function conditioningFrom(unet: GatedUNet, v: Values, B: number, seed: number, guidance: number, notes: string[]) {
  const r = unet.roles;
  const cond = namedTensors(v.cond as string[], '--cond');
  const uncond = namedTensors(v.uncond as string[], '--uncond');
  const inputs = unet.manifest.source.inputs;
  checkConditioning(cond, '--cond', [...r.text, ...r.conditioning, ...r.guidanceEmbedding], inputs, B);
  checkConditioning(uncond, '--uncond', [...r.text, ...r.conditioning], inputs, B);
  const fill = (set: Record<string, TensorInput>, which: string, names: string[], offset: number) => {
    names.forEach((n, i) => {
      if (set[n]) return;
      set[n] = seededNormal(
        concreteShape(
          inputs.find((x) => x.name === n)!,
          B,
        ),
        seed + offset + i,
      );
      notes.push(`${which} ${n}: seeded random [${set[n]!.dims.join(', ')}] (give --${which} ${n}=FILE.npy)`);
    });
  };
  const conditioned = [...r.text, ...r.conditioning];
  fill(cond, 'cond', [...conditioned, ...r.guidanceEmbedding], 1000);
  if (guidance > 1 && r.guidanceEmbedding.length === 0) fill(uncond, 'uncond', conditioned, 2000);
  return { cond, uncond };
}

/** The generation request from run/bench options; `notes` says what was made up. */
export function generationFrom(unet: GatedUNet, v: Values): { options: GenerateOptions; notes: string[]; scheduler: string } {
  const notes: string[] = [];
  const { steps, gateStep, tgate } = scheduleArgs(v, compiledDeepCacheBranch(unet.manifest));
  const guidance = v.guidance === undefined ? unet.manifest.schedule.guidance : numberOption(v, 'guidance', (n) => n >= 0, 'a number >= 0');
  // The seed feeds torch's generator and tgate's: a whole number they both take exactly.
  const seed = numberOption(v, 'seed', Number.isSafeInteger, 'a whole number between -(2^53 - 1) and 2^53 - 1');
  const { makeScheduler, scheduler, strength } = schedulerFrom(unet, v, seed, steps);
  const latents = latentsFrom(unet, v, seed, notes);
  const { cond, uncond } = conditioningFrom(unet, v, latents.dims[0]!, seed, guidance, notes);
  const options: GenerateOptions = { latents, cond, uncond, steps, tgate, guidance, scheduler: makeScheduler };
  if (gateStep !== undefined) options.gateStep = gateStep;
  if (v.image) {
    options.image = readNpyFile(String(v.image));
    options.strength = strength!;
  } else if (v.strength !== undefined) {
    throw new TgateError('E_USAGE', '--strength needs --image (the clean latents to start from).', {
      hint: 'Give --image FILE.npy with --strength, or leave --strength out.',
    });
  }
  return { options, notes, scheduler };
}

/**
 * Conditioning given by name must be an input the model conditions on, with the model's rank,
 * the latents' batch and every fixed dim of the model's shape: a typo or a wrong file is an
 * error, never silently ignored or replaced.
 */
function checkConditioning(given: Record<string, TensorInput>, option: string, names: string[], inputs: ManifestIo[], batch: number): void {
  for (const [name, t] of Object.entries(given)) {
    const io = inputs.find((i) => i.name === name);
    if (!io || !names.includes(name)) {
      throw new TgateError('E_USAGE', `${option} ${name}: the model has no conditioning input "${name}".`, {
        hint: `Its conditioning inputs: ${names.join(', ') || '(none)'}.`,
      });
    }
    const want = io.shape.map((d, i) => (i === 0 ? batch : d));
    const ok = t.dims.length === want.length && want.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
    if (!ok) {
      throw new TgateError(
        'E_BAD_TENSOR',
        `${option} ${name} has shape [${t.dims.join(', ')}]; the model takes [${want.join(', ')}] (batch ${batch}, as the latents).`,
        {
          hint: `Give a tensor of shape [${want.map((d) => (typeof d === 'number' ? d : `<${d}>`)).join(', ')}].`,
        },
      );
    }
  }
}

export async function runGeneration(dir: string, v: Values, stderr: NodeJS.WriteStream): Promise<string> {
  if (fs.existsSync(dir) && fs.statSync(dir).isFile()) {
    throw new TgateError('E_USAGE', `${dir} is a file; tgate run takes a compiled folder.`, {
      hint: `Compile it first: tgate compile ${dir} -o out/<name>, then tgate run out/<name>.`,
    });
  }
  // Where the results go is checked before the model is even opened (cli/output-check.ts).
  const outFile = v.output !== undefined ? checkOutputFile(v.output, '-o', 'npy') : null;
  const trajectoryDir = v['save-trajectory'] !== undefined ? checkOutputFolder(v['save-trajectory'], '--save-trajectory') : null;
  const server = serverArgs(dir, v);
  const unet = server ? await remoteUNet(dir, server) : await GatedUNet.load(dir, { ...sessionOptions(v), variants: variantsForArgs(dir, v) });
  try {
    const { options, notes, scheduler } = generationFrom(unet, v);
    for (const n of notes) note(n, stderr);
    options.keepTrajectory = !!trajectoryDir;
    const progress = progressReporter(stderr, runMode(!!v.baseline, options.tgate?.deepcache));
    options.onStep = progress.step;
    const result = await unet.generate(options);
    progress.done();
    if (outFile) writeNpyFile(outFile, result.latents, result.dims);
    if (trajectoryDir) {
      fs.mkdirSync(trajectoryDir, { recursive: true });
      result.trajectory.forEach((x, k) => writeNpyFile(path.join(trajectoryDir, `latents_${String(k).padStart(3, '0')}.npy`), x, result.dims));
    }
    const summary = runSummary(
      { model: dir, baseline: !!v.baseline, options, variants: unet.opened, scheduler, output: outFile, trajectory: trajectoryDir, generatedInputs: notes },
      result,
    );
    return v.json ? JSON.stringify(summary, null, 2) : runText(summary, result);
  } finally {
    await unet.release();
  }
}

/**
 * --server URL [--model NAME] [--server-timeout S]: where the steps run, or null in process. The
 * two others without --server are refused (they would be ignored).
 */
export function serverArgs(dir: string, v: Values): { url: string; model: string; timeoutMs: number } | null {
  if (v.server === undefined) {
    const stray = (['model', 'server-timeout'] as const).filter((k) => v[k] !== undefined);
    if (stray.length)
      throw usageError(
        `${stray.map((k) => `--${k}`).join(' and ')} ${stray.length > 1 ? 'need' : 'needs'} --server URL: without it the models run here.`,
        `Add --server http://<host>:8000 to run on a Triton server, or leave out ${stray.map((k) => `--${k}`).join(' and ')}.`,
      );
    return null;
  }
  const seconds = v['server-timeout'] === undefined ? 300 : numberOption(v, 'server-timeout', (n) => n > 0, 'a number of seconds > 0');
  return { url: v.server as string, model: (v.model as string | undefined) ?? defaultModelName(dir), timeoutMs: seconds * 1000 };
}

/** The steps on a server that serves this folder's export (runtime/remote/connect-unet.ts). */
async function remoteUNet(dir: string, s: NonNullable<ReturnType<typeof serverArgs>>): Promise<GatedUNet> {
  return connectGatedUNet(dir, s.url, s.model, { timeoutMs: s.timeoutMs });
}
