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

/** What PNDM carries from one `step` call to the next (diffusers' scheduler attributes of the same names). */
interface PndmState {
  counter: number;
  ets: Float32Array[];
  curSample: Float32Array | null;
  /** null = diffusers' integer 0. */
  curModelOutput: Float32Array | null;
}

/** The fixed quantities of one schedule that every step reads. */
interface PndmSchedule {
  ac: Float32Array;
  finalAlpha: number;
  /** Training timesteps per inference step. */
  ratio: number;
  v: boolean;
  prk: number[];
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
  const s: PndmSchedule = {
    ac,
    finalAlpha: c.set_alpha_to_one ? 1 : ac[0]!,
    ratio: Math.floor(n / steps),
    v: c.prediction_type === 'v_prediction',
    prk,
  };
  const order = evaluationOrder('pndm');
  const state: PndmState = { counter: 0, ets: [], curSample: null, curModelOutput: null };
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
      return state.counter < prk.length && !c.skip_prk_steps ? stepPrk(s, state, out, t, x) : stepPlms(s, state, out, t, x);
    },
    addNoise: (x0, noise, k) => vpAddNoise(x0, noise, ac[timesteps[k]!]!),
  };
}

/** _get_prev_sample: formula (9) of the PNDM paper, in float32. */
function prevSample(s: PndmSchedule, sample: Float32Array, t: number, prev: number, out: Float32Array): Float32Array {
  const at = s.ac[t]!;
  const aPrev = prev >= 0 ? s.ac[prev]! : s.finalAlpha;
  const bt = f(1 - at);
  const bPrev = f(1 - aPrev);
  if (s.v) {
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
}

/** step_prk: one of the four Runge-Kutta evaluations, accumulating 1/6, 1/3, 1/3, 1/6 of them. */
function stepPrk(s: PndmSchedule, state: PndmState, out: Float32Array, timestep: number, sample: Float32Array): Float32Array {
  const diffToPrev = state.counter % 2 ? 0 : Math.floor(s.ratio / 2);
  const prev = timestep - diffToPrev;
  const t = s.prk[Math.floor(state.counter / 4) * 4]!;
  const add = (w: number) => {
    const ww = f(w);
    const acc = state.curModelOutput;
    state.curModelOutput = out.map((m, i) => (acc ? f(acc[i]! + f(ww * m)) : f(ww * m)));
  };
  if (state.counter % 4 === 0) {
    add(1 / 6);
    state.ets.push(out);
    state.curSample = sample;
  } else if (state.counter % 4 === 1 || state.counter % 4 === 2) {
    add(1 / 3);
  } else {
    const acc = state.curModelOutput;
    const w = f(1 / 6);
    out = out.map((m, i) => (acc ? f(acc[i]! + f(w * m)) : f(w * m)));
    state.curModelOutput = null;
  }
  const from = state.curSample ?? sample;
  const next = prevSample(s, from, t, prev, out);
  state.counter++;
  return next;
}

/** step_plms: the linear multistep step, with the warm-up pair of its first two evaluations. */
function stepPlms(s: PndmSchedule, state: PndmState, out: Float32Array, timestep: number, sample: Float32Array): Float32Array {
  let t = timestep;
  let prev = timestep - s.ratio;
  if (state.counter !== 1) {
    state.ets = state.ets.slice(-3);
    state.ets.push(out);
  } else {
    prev = timestep;
    t = timestep + s.ratio;
  }
  const e = state.ets;
  let combined: Float32Array;
  if (e.length === 1 && state.counter === 0) {
    combined = out;
    state.curSample = sample;
  } else if (e.length === 1 && state.counter === 1) {
    const e1 = e[0]!;
    combined = out.map((x, i) => f(x + e1[i]!) / 2);
    sample = state.curSample!;
    state.curSample = null;
  } else combined = plmsCombination(e);
  const next = prevSample(s, sample, t, prev, combined);
  state.counter++;
  return next;
}

/** The Adams-Bashforth combination of the last 2, 3 or 4 noise predictions (oldest first), in float32. */
function plmsCombination(e: Float32Array[]): Float32Array {
  const m = e.length;
  if (m === 2) {
    const [e2, e1] = [e[0]!, e[1]!];
    return e1.map((x, i) => f(f(3 * x) - e2[i]!) / 2);
  }
  if (m === 3) {
    const [e3, e2, e1] = [e[0]!, e[1]!, e[2]!];
    return e1.map((x, i) => f(f(f(23 * x) - f(16 * e2[i]!)) + f(5 * e3[i]!)) / 12);
  }
  const [e4, e3, e2, e1] = [e[m - 4]!, e[m - 3]!, e[m - 2]!, e[m - 1]!];
  const w = f(1 / 24);
  return e1.map((x, i) => f(w * f(f(f(f(55 * x) - f(59 * e2[i]!)) + f(37 * e3[i]!)) - f(9 * e4[i]!))));
}
