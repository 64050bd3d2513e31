// The schedulers against diffusers v0.29.2 itself: fixtures/schedulers/*.json were written by
// fixtures/export/scheduler_refs.py running diffusers' scheduler code (from_config, set_timesteps,
// a full step loop with a synthetic model, img2img's add_noise and begin index, the generator
// draws of the stochastic ones). Timesteps must match exactly, sigmas and init_noise_sigma to the
// float32 bit, step outputs within 1e-6 relative. Then the sd15-pipeline-tiny references (when
// ../shared is present): the folder's PNDM config through from_config, the saved configs (one with
// -Infinity), the 25-step runs replayed from their recorded model outputs, img2img's add_noise.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import {
  CLASS_DEFAULTS,
  createScheduler,
  img2imgStart,
  parseDiffusersJson,
  readDiffusersJson,
  resolveSchedulerConfig,
  schedulerFromConfig,
  STABLE_DIFFUSION_CONFIG,
  type Scheduler,
} from '../runtime/schedulers/index.js';
import { expf, fmaf, logf } from '../runtime/schedulers/float32-math.js';
import { TorchGenerator } from '../runtime/torch-random.js';
import { FIXTURES, ROOT, readF32 } from './helpers/paths.js';

const f = Math.fround;
const REFS = path.join(ROOT, 'fixtures/schedulers');
const TOLERANCE = 1e-6;

interface Loop {
  steps: number;
  seed: number;
  outputs: number[][];
  next_draw: number[];
}
interface RefCase {
  name: string;
  scheduler: string;
  class: string;
  config: Record<string, unknown>;
  resolved: Record<string, unknown>;
  order: number;
  schedules: Record<string, { timesteps?: number[]; sigmas?: number[]; init_noise_sigma?: number; error?: string }>;
  txt2img?: Loop & { latents: number[] };
  img2img?: Loop & { strength: number; start: number; noisy: number[] };
  lcm_strength?: Loop & { strength: number; timesteps: number[]; noisy: number[] };
}

const FILES = ['pndm', 'ddim', 'euler', 'euler-ancestral', 'dpm', 'lcm'];
const refs = FILES.flatMap((file) => {
  const doc = JSON.parse(fs.readFileSync(path.join(REFS, `${file}.json`), 'utf8')) as { shape: number[]; cases: RefCase[] };
  return doc.cases.map((c) => ({ file, c, shape: doc.shape }));
});

/** The references' synthetic model: float32(0.3 * x + 0.1 * sin(t / 100)). */
const model = (x: Float32Array, t: number) => x.map((v) => 0.3 * v + 0.1 * Math.sin(t / 100));

/** max |ours - ref| / max |ref| (the reference numbers are float32 values). */
function relative(ours: Float32Array, ref: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(ours[i]! - f(ref[i]!)));
    den = Math.max(den, Math.abs(f(ref[i]!)));
  }
  return num / den;
}

const worst = new Map<string, { rel: number; where: string; exact: number; total: number }>();
function record(scheduler: string, where: string, ours: Float32Array, ref: number[]): number {
  const rel = relative(ours, ref);
  const w = worst.get(scheduler) ?? { rel: 0, where: '', exact: 0, total: 0 };
  if (rel >= w.rel) Object.assign(w, { rel, where });
  w.exact += ref.filter((v, i) => f(v) === ours[i]).length;
  w.total += ref.length;
  worst.set(scheduler, w);
  return rel;
}

afterAll(() => {
  for (const [name, w] of worst) {
    const worstText = w.rel === 0 ? 'worst step output 0 relative' : `worst step output ${w.rel.toExponential(2)} relative (${w.where})`;
    console.log(`${name}: ${worstText}; ${w.exact}/${w.total} values bit-identical to diffusers`);
  }
});

/** Runs evaluations start.. with the synthetic model, checking every output. */
function runLoop(s: Scheduler, x: Float32Array, start: number, outputs: number[][], label: string, scheduler: string): void {
  expect(s.timesteps.length - start).toBe(outputs.length);
  for (let k = start; k < s.timesteps.length; k++) {
    const eps = model(s.scaleModelInput(x, k), s.timesteps[k]!);
    x = s.step(eps, k, x);
    const rel = record(scheduler, `${label} evaluation ${k}`, x, outputs[k - start]!);
    if (!(rel <= TOLERANCE)) throw new Error(`${label}: evaluation ${k} is ${rel} relative from diffusers`);
  }
}

const fromRef = (c: RefCase, steps: number, generator?: TorchGenerator, strength?: number) =>
  schedulerFromConfig(c.config, {
    steps,
    source: `${c.name}.json`,
    name: c.scheduler,
    ...(generator ? { generator } : {}),
    ...(strength !== undefined ? { strength } : {}),
  });

describe.each(refs.map(({ file, c, shape }) => [file, c.name, c, shape] as const))('%s / %s against diffusers', (_file, _name, c, shape) => {
  it('from_config gives the class diffusers builds, with its config', () => {
    const r = resolveSchedulerConfig(c.config, 'cfg.json', c.scheduler);
    expect(r.className).toBe(c.class);
    const expected = Object.fromEntries(Object.entries(c.resolved).map(([k, v]) => [k, v === '-Infinity' ? -Infinity : v === 'Infinity' ? Infinity : v]));
    expect(r.config).toEqual(expected);
    if (c.config._class_name === c.class) expect(resolveSchedulerConfig(c.config, 'cfg.json').config).toEqual(expected);
    expect(fromRef(c, 4, new TorchGenerator(0)).order).toBe(c.order);
  });

  it('timesteps exactly, sigmas and init_noise_sigma to the float32 bit', () => {
    for (const [n, ref] of Object.entries(c.schedules)) {
      const steps = Number(n);
      if (ref.error) {
        expect(() => fromRef(c, steps, new TorchGenerator(0))).toThrow(TgateError);
        continue;
      }
      const s = fromRef(c, steps, new TorchGenerator(0));
      expect(s.steps).toBe(steps);
      expect(s.timesteps).toEqual(ref.timesteps);
      expect(s.initNoiseSigma).toBe(f(ref.init_noise_sigma!));
      if (ref.sigmas) expect(s.sigmas).toEqual(ref.sigmas.map(f));
    }
  });

  if (c.txt2img)
    it('text-to-image: every step output within 1e-6 relative', () => {
      const t = c.txt2img!;
      const g = new TorchGenerator(t.seed);
      const s = fromRef(c, t.steps, g);
      const noise = g.randn(shape);
      expect(Array.from(noise)).toEqual(t.latents.map(f));
      const x = noise.map((v) => v * s.initNoiseSigma);
      runLoop(s, x, 0, t.outputs, `${c.name} txt2img`, c.scheduler);
      // The steps drew from the generator what diffusers' steps drew.
      expect(Array.from(g.randn([16]))).toEqual(t.next_draw.map(f));
    });

  if (c.img2img)
    it('img2img (get_timesteps, begin index, add_noise): every step within 1e-6 relative', () => {
      const t = c.img2img!;
      const g = new TorchGenerator(t.seed);
      const s = fromRef(c, t.steps, g);
      const start = img2imgStart(s, t.strength);
      expect(start).toBe(t.start);
      const x0 = g.randn(shape);
      const noise = g.randn(shape);
      const noisy = s.addNoise(x0, noise, start);
      expect(record(c.scheduler, `${c.name} add_noise`, noisy, t.noisy)).toBeLessThanOrEqual(TOLERANCE);
      runLoop(s, noisy, start, t.outputs, `${c.name} img2img`, c.scheduler);
      expect(Array.from(g.randn([16]))).toEqual(t.next_draw.map(f));
    });

  if (c.lcm_strength)
    it('LCM img2img pipeline: strength in set_timesteps, from evaluation 0', () => {
      const t = c.lcm_strength!;
      const g = new TorchGenerator(t.seed);
      const s = fromRef(c, t.steps, g, t.strength);
      expect(s.timesteps).toEqual(t.timesteps);
      const x0 = g.randn(shape);
      const noise = g.randn(shape);
      const noisy = s.addNoise(x0, noise, 0);
      expect(record(c.scheduler, `${c.name} add_noise`, noisy, t.noisy)).toBeLessThanOrEqual(TOLERANCE);
      runLoop(s, noisy, 0, t.outputs, `${c.name} strength`, c.scheduler);
      expect(Array.from(g.randn([16]))).toEqual(t.next_draw.map(f));
    });
});

describe('from_config semantics', () => {
  const sd15 = {
    _class_name: 'PNDMScheduler',
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    num_train_timesteps: 1000,
    skip_prk_steps: true,
    steps_offset: 1,
    set_alpha_to_one: false,
    clip_sample: false,
  };

  it('the target class keeps the keys it knows, takes its own defaults for the rest, ignores the others', () => {
    // The Hub's SD-1.5 config has no timestep_spacing: DPM-Solver and Euler default to linspace,
    // DDIM and PNDM to leading.
    expect(resolveSchedulerConfig(sd15, 'c', 'dpmpp-2m').config).toMatchObject({
      timestep_spacing: 'linspace',
      steps_offset: 1,
      solver_order: 2,
      lambda_min_clipped: -Infinity,
    });
    expect(schedulerFromConfig(sd15, { steps: 25, source: 'c', name: 'dpmpp-2m' }).timesteps.slice(0, 3)).toEqual([999, 959, 919]);
    expect(schedulerFromConfig(sd15, { steps: 25, source: 'c', name: 'euler' }).timesteps[0]).toBe(999);
    expect(schedulerFromConfig(sd15, { steps: 25, source: 'c', name: 'ddim' }).timesteps[0]).toBe(961);
    // DDIM's own defaults: clip_sample and set_alpha_to_one true unless the config says otherwise.
    const bare = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 };
    expect(resolveSchedulerConfig(bare, 'c', 'ddim').config).toMatchObject({ clip_sample: true, set_alpha_to_one: true, steps_offset: 0 });
    expect(resolveSchedulerConfig(sd15, 'c', 'ddim').config).toMatchObject({ clip_sample: false, set_alpha_to_one: false, steps_offset: 1 });
    // Keys of other classes are not carried: PNDM has no clip_sample, DDIM no skip_prk_steps.
    expect(resolveSchedulerConfig(sd15, 'c').config).not.toHaveProperty('clip_sample');
    expect(resolveSchedulerConfig(sd15, 'c', 'ddim').config).not.toHaveProperty('skip_prk_steps');
    // LCM's defaults are SD's betas; PNDM's are linear 0.0001..0.02.
    expect(resolveSchedulerConfig({}, 'c', 'lcm').config).toMatchObject({
      beta_schedule: 'scaled_linear',
      original_inference_steps: 50,
      set_alpha_to_one: true,
    });
    expect(resolveSchedulerConfig({}, 'c', 'pndm').config).toMatchObject({ beta_schedule: 'linear', skip_prk_steps: false });
    // Keys diffusers recorded as defaulted count as absent.
    expect(
      resolveSchedulerConfig({ ...sd15, timestep_spacing: 'leading', _use_default_values: ['timestep_spacing'] }, 'c', 'euler').config.timestep_spacing,
    ).toBe('linspace');
    // Every class default table has exactly the keys of the class.
    expect(Object.keys(CLASS_DEFAULTS).sort()).toEqual([
      'DDIMScheduler',
      'DPMSolverMultistepScheduler',
      'EulerAncestralDiscreteScheduler',
      'EulerDiscreteScheduler',
      'LCMScheduler',
      'PNDMScheduler',
    ]);
  });

  it('diffusers-mapped names are accepted: deis -> dpmsolver++, logrho/bh1/bh2 -> midpoint', () => {
    const r = resolveSchedulerConfig({ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'deis', solver_type: 'bh2' }, 'c');
    expect(r.settings).toMatchObject({ algorithm_type: 'dpmsolver++', solver_type: 'midpoint' });
  });

  const refuse = (json: Record<string, unknown>, name: string | undefined, ...patterns: RegExp[]) => refuseAs('E_UNSUPPORTED_MODEL', json, name, ...patterns);
  const refuseAs = (code: string, json: Record<string, unknown>, name: string | undefined, ...patterns: RegExp[]) => {
    let err: unknown;
    try {
      schedulerFromConfig(json, { steps: 10, source: 'pipe/scheduler/scheduler_config.json', ...(name ? { name } : {}), generator: new TorchGenerator(0) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TgateError);
    const e = err as TgateError;
    expect(e.code).toBe(code);
    expect(e.subject.file).toBe('pipe/scheduler/scheduler_config.json');
    for (const p of patterns) expect(`${e.message} ${e.hint}`).toMatch(p);
  };

  it('refuses an unknown class, naming it, the file and what is supported (never DDIM instead)', () => {
    refuse(
      { _class_name: 'UniPCMultistepScheduler' },
      undefined,
      /UniPCMultistepScheduler/,
      /pipe\/scheduler\/scheduler_config\.json/,
      /PNDMScheduler \(pndm\)/,
      /LCMScheduler \(lcm\)/,
      /--scheduler/,
    );
    refuse({ beta_start: 0.00085 }, undefined, /no _class_name/);
  });

  it('refuses unsupported settings, naming the class, the key and the value', () => {
    refuse(
      { _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'sde-dpmsolver++' },
      undefined,
      /DPMSolverMultistepScheduler with algorithm_type = "sde-dpmsolver\+\+"/,
      /dpmsolver\+\+/,
    );
    refuse({ _class_name: 'DPMSolverMultistepScheduler', solver_order: 3 }, undefined, /solver_order = 3/, /1 and 2/);
    refuse({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true }, undefined, /use_karras_sigmas = true/);
    refuse({ _class_name: 'EulerDiscreteScheduler', use_karras_sigmas: true }, undefined, /EulerDiscreteScheduler with use_karras_sigmas/);
    refuse({ _class_name: 'EulerDiscreteScheduler', interpolation_type: 'log_linear' }, undefined, /interpolation_type = "log_linear"/);
    refuse({ _class_name: 'DDIMScheduler', thresholding: true }, undefined, /thresholding = true/);
    refuse({ _class_name: 'DDIMScheduler', rescale_betas_zero_snr: true }, undefined, /rescale_betas_zero_snr/);
    refuse({ _class_name: 'PNDMScheduler', prediction_type: 'sample' }, undefined, /prediction_type = "sample"/);
    refuse({ _class_name: 'DDIMScheduler', beta_schedule: 'sigmoid' }, undefined, /beta_schedule must be one of/);
    // A value of the wrong type is a malformed file, not an unsupported setting (exit 3, not 4).
    refuseAs('E_BAD_CONFIG', { _class_name: 'DDIMScheduler', steps_offset: '1' }, undefined, /steps_offset must be a whole number/);
    // A setting the target class does not know is ignored, as diffusers ignores it.
    expect(() =>
      schedulerFromConfig({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true }, { steps: 10, source: 'c', name: 'ddim' }),
    ).not.toThrow();
  });

  it('an unknown --scheduler name is a usage error listing the names', () => {
    expect(() => schedulerFromConfig({}, { steps: 10, source: 'c', name: 'heun' })).toThrow(/Unknown scheduler "heun"/);
  });

  it('generator-driven schedulers need the generator', () => {
    expect(() => createScheduler('euler-ancestral', 10)).toThrow(/generator/);
    expect(() => schedulerFromConfig({ _class_name: 'LCMScheduler' }, { steps: 4, source: 'c' })).toThrow(/generator/);
  });

  it('stateful schedulers refuse steps out of order', () => {
    const s = createScheduler('pndm', 10);
    const x = new Float32Array(4);
    s.step(x, 0, x);
    expect(() => s.step(x, 2, x)).toThrow(/in order/);
  });
});

describe('diffusers JSON', () => {
  it("reads Python's Infinity, -Infinity and NaN outside strings, and leaves strings alone", () => {
    const v = parseDiffusersJson(
      '{"lambda_min_clipped": -Infinity, "a": [Infinity, NaN, 1.5e3, -0.0], "s": "-Infinity NaN", "n": null, "u": "\\u00e9\\n"}',
      'c.json',
    ) as Record<string, unknown>;
    expect(v.lambda_min_clipped).toBe(-Infinity);
    expect(v.a).toEqual([Infinity, NaN, 1500, -0]);
    expect(v.s).toBe('-Infinity NaN');
    expect(v.u).toBe('é\n');
    expect(v.n).toBeNull();
  });

  it('names the file and the position of a malformed one', () => {
    expect(() => parseDiffusersJson('{\n  "a": 1,\n  "b": -Inf\n}', 'sched/scheduler_config.json')).toThrow(
      /sched\/scheduler_config\.json is not valid JSON: .* at line 3, column 8/,
    );
    // A file named by mistake (e.g. /etc/passwd through a symlink) is not quoted into the error.
    expect(() => parseDiffusersJson('root:x:0:0:root:/root:/bin/bash\n', 'sched.json')).toThrow(
      /^sched\.json is not valid JSON: unexpected character \(code 114\) at line 1, column 1 \(offset 0\)\.$/,
    );
    expect(() => parseDiffusersJson('{"a": 1,}', 'x.json')).toThrow(/x\.json .*line 1, column 9/);
    expect(() => parseDiffusersJson('{"a": "b}', 'x.json')).toThrow(/unterminated string/);
    expect(() => parseDiffusersJson('{"a": 1} 2', 'x.json')).toThrow(/after the JSON value/);
    try {
      parseDiffusersJson('[1 2]', 'y.json');
    } catch (e) {
      expect((e as TgateError).subject.file).toBe('y.json');
    }
  });

  it('agrees with JSON.parse on strict JSON', () => {
    for (const file of FILES) {
      const text = fs.readFileSync(path.join(REFS, `${file}.json`), 'utf8');
      expect(parseDiffusersJson(text, file)).toEqual(JSON.parse(text));
    }
  });
});

describe('float32 log/exp as torch computes them (SLEEF u10, AVX2)', () => {
  // torch.log / torch.exp of these float32 inputs (torch 1.13, Debian, AVX2): each one differs by
  // an ulp from the correctly rounded value, which Math.fround(Math.log(x)) would give.
  it.each([
    [0.3539097309112549, -1.0387133359909058],
    [1.1290743350982666, 0.12139812856912613],
    [1.430633544921875, 0.35811740159988403],
    [3.0086328983306885, 1.1014857292175293],
    [0.7198540568351746, -0.3287067711353302],
  ])('log(%f) = %f', (x, y) => {
    expect(logf(x)).toBe(f(y));
    expect(f(Math.log(x))).not.toBe(f(y));
  });
  it.each([
    [1.1122978925704956, 3.0413389205932617],
    [2.889786720275879, 17.989471435546875],
    [-4.2206268310546875, 0.014689434319734573],
    [8.729256629943848, 6181.1318359375],
  ])('exp(%f) = %f', (x, y) => {
    expect(expf(x)).toBe(f(y));
    expect(f(Math.exp(x))).not.toBe(f(y));
  });
  it('special values, and a single rounding in fmaf', () => {
    expect(logf(0)).toBe(-Infinity);
    expect(logf(1)).toBe(0);
    expect(logf(-1)).toBeNaN();
    expect(expf(-Infinity)).toBe(0);
    expect(expf(0)).toBe(1);
    expect(expf(101)).toBe(Infinity);
    // (1 + 2^-23) - 2^-24 (1 - 2^-46) = 1 + 2^-24 + 2^-70: just above the midpoint between 1 and
    // 1 + 2^-23, so it rounds up; rounded to double first it is the midpoint, which ties to 1.
    const a = f(2 ** -12 * (1 - 2 ** -23));
    const b = -f(2 ** -12 * (1 + 2 ** -23));
    const c = f(1 + 2 ** -23);
    expect(f(a * b + c)).toBe(1);
    expect(fmaf(a, b, c)).toBe(c);
    expect(fmaf(-a, b, -c)).toBe(-c);
  });
});

describe('img2imgStart', () => {
  it('is t_start * order of diffusers get_timesteps', () => {
    const pndm = createScheduler('pndm', 25);
    expect(pndm.timesteps.length).toBe(26);
    expect(img2imgStart(pndm, 0.6)).toBe(10);
    expect(pndm.timesteps.slice(10)).toHaveLength(16);
    expect(img2imgStart(createScheduler('ddim', 25), 0.6)).toBe(10);
    expect(img2imgStart(createScheduler('ddim', 25), 1)).toBe(0);
    expect(img2imgStart(createScheduler('ddim', 10), 0.35)).toBe(7); // int(3.5) = 3
    expect(() => img2imgStart(pndm, 1.5)).toThrow(/strength/);
  });
});

// The sd15-pipeline-tiny references: diffusers' StableDiffusionPipeline runs (shared fixture).
const PIPE = path.join(FIXTURES, 'sd15-pipeline-tiny');
const havePipe = fs.existsSync(path.join(PIPE, 'ref/index.json'));
if (!havePipe) console.log(`SKIPPED sd15-pipeline-tiny scheduler checks: ${PIPE} is absent.`);
const index = havePipe ? (JSON.parse(fs.readFileSync(path.join(PIPE, 'ref/index.json'), 'utf8')) as Record<string, any>) : null;
const NAMES: Record<string, string> = { pndm: 'pndm', ddim: 'ddim', euler: 'euler', dpm: 'dpmpp-2m' };

describe('sd15-pipeline-tiny references', () => {
  const check = (s: Scheduler, ref: { timesteps: number[]; init_noise_sigma: number; sigmas?: number[] }) => {
    expect(s.timesteps).toEqual(ref.timesteps);
    expect(s.initNoiseSigma).toBe(f(ref.init_noise_sigma));
    if (ref.sigmas) expect(s.sigmas).toEqual(ref.sigmas.map(f));
  };

  (havePipe ? it : it.skip).each(Object.keys(NAMES))("%s from the folder's PNDM config through from_config", (key) => {
    const file = path.join(PIPE, 'scheduler/scheduler_config.json');
    const s = schedulerFromConfig(readDiffusersJson(file), { steps: 25, source: file, name: key === 'pndm' ? undefined : NAMES[key]! });
    check(s, index!.schedulers[key]);
  });

  (havePipe ? it : it.skip).each(Object.keys(NAMES))('%s from its saved scheduler_config.json (its own _class_name)', (key) => {
    const file = path.join(PIPE, 'ref/schedulers', key, 'scheduler_config.json');
    const json = readDiffusersJson(file) as Record<string, unknown>;
    if (key === 'dpm') expect(json.lambda_min_clipped).toBe(-Infinity);
    const s = schedulerFromConfig(json, { steps: 25, source: file });
    expect(s.name).toBe(NAMES[key]);
    check(s, index!.schedulers[key]);
  });

  (havePipe ? it : it.skip).each(Object.keys(NAMES))('%s replays the 25-step baseline runs from their recorded guided model outputs', (key) => {
    for (const [id, run] of Object.entries(index!.runs as Record<string, any>)) {
      if (run.scheduler !== key || run.mode !== 'baseline' || !run.files.eps_per_step) continue;
      const s = schedulerFromConfig(readDiffusersJson(path.join(PIPE, 'scheduler/scheduler_config.json')), {
        steps: 25,
        source: 'scheduler_config.json',
        name: NAMES[key]!,
      });
      const eps = readF32(path.join(PIPE, 'ref', run.files.eps_per_step));
      const lat = readF32(path.join(PIPE, 'ref', run.files.latents_per_step));
      const noise = readF32(path.join(PIPE, 'ref', run.initial_noise));
      const n = noise.length;
      expect(s.timesteps.length).toBe(run.steps_recorded);
      let x: Float32Array = noise.map((v) => v * s.initNoiseSigma);
      for (let k = 0; k < s.timesteps.length; k++) {
        x = s.step(eps.subarray(k * n, (k + 1) * n), k, x);
        const rel = record(`${NAMES[key]} (sd15-pipeline-tiny)`, `${id} evaluation ${k}`, x, Array.from(lat.subarray(k * n, (k + 1) * n)));
        expect(rel).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  (havePipe ? it : it.skip).each(['pndm', 'ddim'])('%s img2img: start evaluation, timesteps and add_noise of the reference', (key) => {
    const ref = index!.img2img[key];
    const s = schedulerFromConfig(readDiffusersJson(path.join(PIPE, 'scheduler/scheduler_config.json')), {
      steps: 25,
      source: 'scheduler_config.json',
      name: NAMES[key]!,
    });
    const start = img2imgStart(s, ref.call.strength);
    expect(s.timesteps.slice(start)).toEqual(ref.timesteps);
    const init = readF32(path.join(PIPE, 'ref', ref.files.init_latents));
    const noise = readF32(path.join(PIPE, 'ref', ref.files.noise));
    const noisy = readF32(path.join(PIPE, 'ref', ref.files.noisy_latents));
    expect(relative(s.addNoise(init, noise, start), Array.from(noisy))).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('createScheduler keeps the CLI names working', () => {
  it.each(['ddim', 'euler', 'dpmpp-2m', 'pndm'])('%s with the Stable Diffusion config', (name) => {
    const s = createScheduler(name, 25, STABLE_DIFFUSION_CONFIG);
    expect(s.steps).toBe(25);
    expect(s.order).toBe(1);
    expect(s.timesteps.length).toBe(name === 'pndm' ? 26 : 25);
  });
});
