// PNDM as diffusers' PNDMScheduler (Stable Diffusion 1.x's default): PLMS, a linear multistep
// method on the noise predictions, after either one pseudo-improved-Euler warm-up step
// (skip_prk_steps true: SD's setting) or 12 Runge-Kutta evaluations (false), in torch's float32.
//
// Model evaluations are not steps: with skip_prk_steps the timesteps repeat the second one
// (961, 921, 921, 881, ..., 1 for 25 leading steps: 26 evaluations). The first evaluation takes a
// provisional step to t - ratio; the second evaluates the model there and redoes the step from the
// first sample with the mean of both predictions. Like diffusers, `step` counts its calls (counter)
// and takes the timestep of evaluation k; it does not look at k otherwise, so an img2img run that
// starts mid-schedule runs the warm-up from its first evaluation, as diffusers does.
import { TgateError } from '../../base/errors.js';
import type { SchedulerConfig } from './config.js';
import { vpAddNoise } from './ddim.js';
import { alphasCumprod, arange, linspace, roundHalfEven } from './noise-schedule.js';
import { evaluationOrder, type Scheduler } from './scheduler.js';

const f = Math.fround;

/** PNDM's _timesteps (ascending), then the evaluation timesteps of set_timesteps. */
export function pndmTimesteps(c: SchedulerConfig, steps: number): { timesteps: number[]; prk: number[] } {
  const n = c.num_train_timesteps;
  const spacing = c.timestep_spacing ?? 'leading';
  let base: number[];
  if (spacing === 'linspace') base = linspace(0, n - 1, steps).map(roundHalfEven);
  else if (spacing === 'leading') {
    const ratio = Math.floor(n / steps);
    base = Array.from({ length: steps }, (_, i) => i * ratio + c.steps_offset);
  } else
    base = arange(n, 0, -n / steps)
      .map(roundHalfEven)
      .reverse()
      .map((t) => t - 1);
  if (c.skip_prk_steps) {
    const plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    return { timesteps: plms, prk: [] };
  }
  if (steps < 4) {
    throw new TgateError(
      'E_USAGE',
      `PNDM with skip_prk_steps false runs a Runge-Kutta warm-up over its last 4 timesteps: it needs at least 4 steps, not ${steps}.`,
      {
        hint: "Use 4 or more steps, or a config with skip_prk_steps true (Stable Diffusion's).",
      },
    );
  }
  // prk_timesteps = (repeat(_t[-4:], 2) + tile([0, n // steps // 2], 4))[:-1].repeat(2)[1:-1][::-1]
  const half = Math.floor(Math.floor(n / steps) / 2);
  const last4 = base.slice(-4);
  const rep = last4.flatMap((t) => [t, t + half]);
  const prk = rep
    .slice(0, -1)
    .flatMap((t) => [t, t])
    .slice(1, -1)
    .reverse();
  const plms = base.slice(0, -3).reverse();
  return { timesteps: [...prk, ...plms], prk };
}

export function pndm(c: SchedulerConfig, steps: number): Scheduler {
  if (c.prediction_type === 'sample') {
    throw new TgateError('E_UNSUPPORTED_MODEL', 'PNDMScheduler supports prediction_type "epsilon" and "v_prediction", not "sample" (diffusers raises too).', {
      hint: 'Use ddim, euler, dpmpp-2m or lcm for a model that predicts the sample.',
    });
  }
  const ac = alphasCumprod(c);
  const n = c.num_train_timesteps;
  const { timesteps, prk } = pndmTimesteps(c, steps);
  const finalAlpha = c.set_alpha_to_one ? 1 : ac[0]!;
  const ratio = Math.floor(n / steps);
  const v = c.prediction_type === 'v_prediction';
  const order = evaluationOrder('pndm');

  let counter = 0;
  let ets: Float32Array[] = [];
  let curSample: Float32Array | null = null;
  let curModelOutput: Float32Array | null = null; // null = diffusers' integer 0

  // _get_prev_sample: formula (9) of the PNDM paper, in float32.
  const prevSample = (sample: Float32Array, t: number, prev: number, out: Float32Array): Float32Array => {
    const at = ac[t]!;
    const aPrev = prev >= 0 ? ac[prev]! : finalAlpha;
    const bt = f(1 - at);
    const bPrev = f(1 - aPrev);
    if (v) {
      const sa = f(Math.sqrt(at));
      const sb = f(Math.sqrt(bt));
      out = out.map((m, i) => f(sa * m) + f(sb * sample[i]!));
    }
    const sampleCoeff = f(Math.sqrt(f(aPrev / at)));
    const denom = f(f(at * f(Math.sqrt(bPrev))) + f(Math.sqrt(f(f(at * bt) * aPrev))));
    const diff = f(aPrev - at);
    const next = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) next[i] = f(sampleCoeff * sample[i]!) - f(f(diff * out[i]!) / denom);
    return next;
  };

  const stepPrk = (out: Float32Array, timestep: number, sample: Float32Array): Float32Array => {
    const diffToPrev = counter % 2 ? 0 : Math.floor(ratio / 2);
    const prev = timestep - diffToPrev;
    const t = prk[Math.floor(counter / 4) * 4]!;
    const add = (w: number) => {
      const ww = f(w);
      const acc = curModelOutput;
      curModelOutput = out.map((m, i) => (acc ? f(acc[i]! + f(ww * m)) : f(ww * m)));
    };
    if (counter % 4 === 0) {
      add(1 / 6);
      ets.push(out);
      curSample = sample;
    } else if (counter % 4 === 1 || counter % 4 === 2) {
      add(1 / 3);
    } else {
      const acc = curModelOutput;
      const w = f(1 / 6);
      out = out.map((m, i) => (acc ? f(acc[i]! + f(w * m)) : f(w * m)));
      curModelOutput = null;
    }
    const from = curSample ?? sample;
    const next = prevSample(from, t, prev, out);
    counter++;
    return next;
  };

  const stepPlms = (out: Float32Array, timestep: number, sample: Float32Array): Float32Array => {
    let t = timestep;
    let prev = timestep - ratio;
    if (counter !== 1) {
      ets = ets.slice(-3);
      ets.push(out);
    } else {
      prev = timestep;
      t = timestep + ratio;
    }
    const e = ets;
    const m = e.length;
    let combined: Float32Array;
    if (m === 1 && counter === 0) {
      combined = out;
      curSample = sample;
    } else if (m === 1 && counter === 1) {
      const e1 = e[0]!;
      combined = out.map((x, i) => f(x + e1[i]!) / 2);
      sample = curSample!;
      curSample = null;
    } else if (m === 2) {
      const [e2, e1] = [e[0]!, e[1]!];
      combined = e1.map((x, i) => f(f(3 * x) - e2[i]!) / 2);
    } else if (m === 3) {
      const [e3, e2, e1] = [e[0]!, e[1]!, e[2]!];
      combined = e1.map((x, i) => f(f(f(23 * x) - f(16 * e2[i]!)) + f(5 * e3[i]!)) / 12);
    } else {
      const [e4, e3, e2, e1] = [e[m - 4]!, e[m - 3]!, e[m - 2]!, e[m - 1]!];
      const w = f(1 / 24);
      combined = e1.map((x, i) => f(w * f(f(f(f(55 * x) - f(59 * e2[i]!)) + f(37 * e3[i]!)) - f(9 * e4[i]!))));
    }
    const next = prevSample(sample, t, prev, combined);
    counter++;
    return next;
  };

  return {
    name: 'pndm',
    className: 'PNDMScheduler',
    steps,
    order: 1,
    timesteps,
    initNoiseSigma: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      order(k, timesteps.length);
      const t = timesteps[k]!;
      return counter < prk.length && !c.skip_prk_steps ? stepPrk(out, t, x) : stepPlms(out, t, x);
    },
    addNoise: (x0, noise, k) => vpAddNoise(x0, noise, ac[timesteps[k]!]!),
  };
}
