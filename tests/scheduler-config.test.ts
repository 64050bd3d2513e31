// Scheduler configs and step counts out of range (issue 12, item 7): each refused with the key,
// the valid range and the file, as E_BAD_CONFIG (a bad file: exit 3) or E_USAGE (a step count
// the config cannot make: exit 2), whichever way the config arrives (a file overlaid on the SD
// settings, diffusers' from_config, a SchedulerConfig built in code). And the property behind
// it: any scheduler that createScheduler returns steps a finite latent to a finite latent.
import fc from 'fast-check';
import { TgateError } from '../base/errors.js';
import {
  createScheduler,
  parseDiffusersJson,
  parseSchedulerConfig,
  resolveSchedulerConfig,
  SCHEDULERS,
  schedulerFromConfig,
  STABLE_DIFFUSION_CONFIG,
  type SchedulerConfig,
} from '../runtime/schedulers/index.js';
import { TorchGenerator } from '../runtime/torch-random.js';

function refusal(f: () => unknown): TgateError {
  try {
    f();
  } catch (e) {
    if (e instanceof TgateError) return e;
    throw new Error(`expected a TgateError, got ${(e as Error)?.stack ?? String(e)}`);
  }
  throw new Error('expected a refusal, got none');
}

const SD = STABLE_DIFFUSION_CONFIG;
const make = (name: string, steps: number, c: Partial<SchedulerConfig> = {}) =>
  createScheduler(name, steps, { ...SD, ...c }, { generator: new TorchGenerator(0) });

describe('steps against the scheduler', () => {
  it.each(SCHEDULERS.map((s) => [s]))('%s: more steps than training timesteps is a usage error with the range (never t = 1 or NaN)', (name) => {
    const e = refusal(() => make(name, 2000));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/steps must be a whole number from 1 to 1000 \(the scheduler's num_train_timesteps\), not 2000/);
    expect(e.hint).toMatch(/at most 1000/);
  });

  it('refuses 0, negative, fractional, non-numeric and astronomically many steps at once', () => {
    for (const steps of [0, -3, 2.5, NaN, Infinity, 1e9, '25' as unknown as number]) {
      const started = performance.now();
      expect(refusal(() => make('ddim', steps)).code).toBe('E_USAGE');
      expect(performance.now() - started).toBeLessThan(500);
    }
  });

  it('refuses step counts whose timesteps leave the table or repeat, naming what would happen and a count that works', () => {
    // SD's steps_offset 1 with 1000 leading steps: timestep 1000 of 0..999 (diffusers: IndexError).
    let e = refusal(() => make('ddim', 1000));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/DDIMScheduler cannot run 1000 steps .*steps_offset 1.*: it would sample timestep 1000, outside the training timesteps 0\.\.999/);
    expect(e.hint).toMatch(/\(999 works\)/);
    // Trailing spacing that rounds to -1 (diffusers silently reads alphas_cumprod[-1]).
    e = refusal(() => make('pndm', 499, { timestep_spacing: 'trailing' }));
    expect(e.message).toMatch(/timestep -1, outside/);
    // DPM-Solver++ with as many steps as timesteps: a repeated timestep, a zero step, NaN.
    e = refusal(() => make('dpmpp-2m', 1000, { timestep_spacing: 'linspace', steps_offset: 0 }));
    expect(e.message).toMatch(/timesteps must decrease/);
    // The counts just below are fine.
    expect(make('ddim', 999).timesteps[0]).toBe(999);
    expect(make('dpmpp-2m', 999, { timestep_spacing: 'linspace' }).timesteps).toHaveLength(999);
  });
});

describe('scheduler config values', () => {
  const file = 'sched/scheduler_config.json';
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['num_train_timesteps 0', { num_train_timesteps: 0 }, /num_train_timesteps must be a whole number from 1 to 100000 .*not 0/],
    ['num_train_timesteps negative', { num_train_timesteps: -5 }, /num_train_timesteps must be a whole number from 1 to 100000/],
    ['num_train_timesteps fractional', { num_train_timesteps: 999.5 }, /num_train_timesteps must be a whole number/],
    ['num_train_timesteps huge', { num_train_timesteps: 1e9 }, /num_train_timesteps must be a whole number from 1 to 100000/],
    ['beta_end >= 1', { beta_end: 1.5 }, /beta_end must be a number between 0 and 1 \(exclusive\), not 1\.5/],
    ['beta_start 0', { beta_start: 0 }, /beta_start must be a number between 0 and 1/],
    ['beta_start above beta_end', { beta_start: 0.02, beta_end: 0.01 }, /beta_start must be at most beta_end \(0\.01\)/],
    ['beta_start a string', { beta_start: '0.1' }, /beta_start must be a number/],
    ['trained_betas too short', { trained_betas: [0.1, 0.2] }, /trained_betas must be null or a list of num_train_timesteps \(1000\) numbers, not a list of 2/],
    [
      'trained_betas with 1',
      { num_train_timesteps: 3, trained_betas: [0.1, 1, 0.2] },
      /trained_betas\[1\] must be a number between 0 and 1 \(exclusive\), not 1/,
    ],
    ['trained_betas with NaN', { num_train_timesteps: 2, trained_betas: [0.1, NaN] }, /trained_betas\[1\] must be a number between 0 and 1/],
    ['steps_offset absurd', { steps_offset: 5000 }, /steps_offset must be a whole number from 0 to 999 \(below num_train_timesteps\), not 5000/],
    ['steps_offset negative', { steps_offset: -1 }, /steps_offset must be a whole number from 0 to 999/],
    ['clip_sample_range 0', { clip_sample_range: 0 }, /clip_sample_range must be a number > 0/],
  ];

  it.each(cases)('a file with %s: E_BAD_CONFIG naming the key, the range and the file (the SD overlay)', (_, json, message) => {
    const e = refusal(() => parseSchedulerConfig(json, file));
    expect(e.code).toBe('E_BAD_CONFIG');
    expect(e.message).toMatch(message);
    expect(e.message).toContain(file);
    expect(e.subject.file).toBe(file);
    expect(e.hint).toBeTruthy();
  });

  it.each(cases)('a file with %s: the same through from_config, for every class that reads the key', (_, json, message) => {
    for (const cls of ['DDIMScheduler', 'PNDMScheduler', 'EulerDiscreteScheduler', 'DPMSolverMultistepScheduler']) {
      if (!('clip_sample_range' in json) || cls === 'DDIMScheduler') {
        const e = refusal(() => schedulerFromConfig({ _class_name: cls, ...json }, { steps: 10, source: file }));
        expect([e.code, e.message]).toEqual(['E_BAD_CONFIG', expect.stringMatching(message)]);
        expect(e.subject.file).toBe(file);
      }
    }
  });

  it('a config built in code goes through the same checks (createScheduler is the one door)', () => {
    const e = refusal(() => createScheduler('ddim', 10, { ...SD, beta_end: 2 }));
    expect(e.code).toBe('E_BAD_CONFIG');
    expect(e.message).toMatch(/^Scheduler config: beta_end must be a number between 0 and 1/);
    expect(refusal(() => createScheduler('euler', 10, { ...SD, num_train_timesteps: '1000' as unknown as number })).code).toBe('E_BAD_CONFIG');
  });

  it('betas each in range whose product underflows to 0 are refused (every later sigma infinite)', () => {
    const e = refusal(() => parseSchedulerConfig({ num_train_timesteps: 100000, beta_schedule: 'linear', beta_start: 0.5, beta_end: 0.9 }, file));
    expect(e.code).toBe('E_BAD_CONFIG');
    expect(e.message).toMatch(/alphas_cumprod reach 0 at timestep \d+ of 100000/);
  });

  it('a config that is not a JSON object is E_BAD_CONFIG, both ways', () => {
    for (const text of ['[1, 2]', '5', '"ddim"', 'null']) {
      const json = parseDiffusersJson(text, file);
      expect(refusal(() => resolveSchedulerConfig(json, file)).code).toBe('E_BAD_CONFIG');
      expect(refusal(() => parseSchedulerConfig(json as Record<string, unknown>, file)).code).toBe('E_BAD_CONFIG');
    }
  });

  it('unknown keys are tolerated, as diffusers tolerates them', () => {
    const json = { _class_name: 'DDIMScheduler', _diffusers_version: '0.29.2', some_future_key: [1, 2], beta_schedule: 'scaled_linear' };
    expect(schedulerFromConfig(json, { steps: 10, source: file }).name).toBe('ddim');
    expect(parseSchedulerConfig(json, file).beta_schedule).toBe('scaled_linear');
  });
});

describe('any scheduler createScheduler makes stays finite', () => {
  it('random configs and step counts: refused with a TgateError, or every step of a finite latent is finite', () => {
    const config = fc.record({
      num_train_timesteps: fc.integer({ min: 1, max: 1200 }),
      beta_schedule: fc.constantFrom('linear', 'scaled_linear', 'squaredcos_cap_v2'),
      // Betas as trained schedules have them (SD 0.00085-0.012, DDPM 0.0001-0.02), and beyond: a
      // schedule whose noise ends many orders of magnitude above the data overflows float32 in
      // any sampler (a real model's output overflows first); the sampler's per-step check stops
      // those (runtime-inputs.test.ts).
      beta_start: fc.double({ min: 1e-6, max: 0.01, noNaN: true }),
      beta_end: fc.double({ min: 1e-6, max: 0.05, noNaN: true }),
      timestep_spacing: fc.constantFrom('leading', 'linspace', 'trailing', null),
      steps_offset: fc.integer({ min: 0, max: 3 }),
      prediction_type: fc.constantFrom('epsilon', 'v_prediction', 'sample'),
      set_alpha_to_one: fc.boolean(),
      skip_prk_steps: fc.boolean(),
      solver_order: fc.constantFrom(1, 2),
      original_inference_steps: fc.integer({ min: 1, max: 60 }),
    });
    const codes = new Set<string>();
    let made = 0;
    fc.assert(
      fc.property(config, fc.constantFrom(...SCHEDULERS), fc.integer({ min: 1, max: 1300 }), (c, name, steps) => {
        let s;
        try {
          s = createScheduler(name, steps, { ...SD, ...c } as SchedulerConfig, { generator: new TorchGenerator(0) });
        } catch (e) {
          if (!(e instanceof TgateError) || e.code === 'E_INTERNAL') throw e;
          codes.add(e.code);
          return;
        }
        made++;
        let x: Float32Array = Float32Array.from({ length: 8 }, (_, i) => (i - 3.5) * s.initNoiseSigma);
        for (let k = 0; k < s.timesteps.length; k++) {
          const xin = s.scaleModelInput(x, k);
          // A model's prediction is bounded (noise, a sample, a velocity): tanh stands in for one.
          x = s.step(
            xin.map((v) => Math.tanh(v)),
            k,
            x,
          );
          if (!x.every(Number.isFinite)) throw new Error(`${name} ${steps} steps ${JSON.stringify(c)}: evaluation ${k} gave ${Array.from(x)}`);
        }
      }),
      { numRuns: Number(process.env.TGATE_FUZZ_RUNS ?? 300), seed: 12 },
    );
    expect(made).toBeGreaterThan(50);
    expect([...codes].every((c) => ['E_USAGE', 'E_BAD_CONFIG', 'E_UNSUPPORTED_MODEL'].includes(c))).toBe(true);
  });
});
