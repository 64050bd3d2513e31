// DPM-Solver++ multistep (order 1 or 2), as diffusers' DPMSolverMultistepScheduler with
// algorithm_type dpmsolver++: one model call per step, the previous step's x0 prediction kept for
// order 2, first order on the first step and on the last when the final sigma is zero
// (lower_order_final / euler_at_final / final_sigmas_type), in torch's float32 (log and exp as
// torch's SLEEF kernels compute them: float32-math.ts).
import type { SchedulerConfig } from './config.js';
import { expf, logf } from './float32-math.js';
import { alphasCumprod, arange, interpAtIndex, linspace, roundHalfEven, trainingSigmas } from './noise-schedule.js';
import { evaluationOrder, type Scheduler } from './scheduler.js';

const f = Math.fround;

/** The timestep where lambda_min_clipped cuts the schedule (num_train_timesteps without it). */
function lastTimestep(c: SchedulerConfig, ac: Float32Array): number {
  const n = c.num_train_timesteps;
  if (c.lambda_min_clipped === -Infinity) return n;
  // lambda_t = log(sqrt(abar)) - log(sqrt(1 - abar)), flipped to ascending; searchsorted (left).
  const lambdas = Array.from(ac, (a) => f(logf(f(Math.sqrt(a))) - logf(f(Math.sqrt(f(1 - a)))))).reverse();
  let idx = 0;
  while (idx < lambdas.length && lambdas[idx]! < c.lambda_min_clipped) idx++;
  return n - idx;
}

export function dpmTimesteps(c: SchedulerConfig, steps: number, ac: Float32Array = alphasCumprod(c)): number[] {
  const last = lastTimestep(c, ac);
  const spacing = c.timestep_spacing ?? 'linspace';
  if (spacing === 'linspace')
    return linspace(0, last - 1, steps + 1)
      .map(roundHalfEven)
      .reverse()
      .slice(0, -1);
  if (spacing === 'leading') {
    const ratio = Math.floor(last / (steps + 1));
    return Array.from({ length: steps + 1 }, (_, i) => i * ratio)
      .reverse()
      .slice(0, -1)
      .map((t) => t + c.steps_offset);
  }
  return arange(last, 0, -c.num_train_timesteps / steps).map((t) => roundHalfEven(t) - 1);
}

export function dpmSolverPP(c: SchedulerConfig, steps: number): Scheduler {
  const ac = alphasCumprod(c);
  const timesteps = dpmTimesteps(c, steps, ac);
  const train = trainingSigmas(ac);
  const last = c.final_sigmas_type === 'zero' ? 0 : train[0]!;
  const sigmas = [...timesteps.map((t) => f(interpAtIndex(t, train))), last];
  const alphaSigma = (s: number) => {
    const a = f(1 / f(Math.sqrt(f(f(s * s) + 1))));
    return { a, s: f(s * a) };
  };
  const lambdaOf = (p: { a: number; s: number }) => f(logf(p.a) - logf(p.s));
  const order = evaluationOrder('dpmpp-2m');
  let previous: Float32Array | null = null; // model_outputs[-2] (x0 prediction of the last step)
  let lowerOrderNums = 0;
  const n = timesteps.length;
  return {
    name: 'dpmpp-2m',
    className: 'DPMSolverMultistepScheduler',
    steps,
    order: 1,
    timesteps,
    sigmas,
    initNoiseSigma: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      order(k, n);
      const lowerFinal = k === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
      // convert_model_output: the x0 prediction (dpmsolver++).
      const s0 = alphaSigma(sigmas[k]!);
      let x0: Float32Array;
      if (c.prediction_type === 'epsilon') x0 = x.map((v, i) => f(v - f(s0.s * out[i]!)) / s0.a);
      else if (c.prediction_type === 'sample') x0 = out.slice();
      else x0 = x.map((v, i) => f(s0.a * v) - f(s0.s * out[i]!));
      const m1 = previous;
      previous = x0;
      const t = alphaSigma(sigmas[k + 1]!);
      const h = f(lambdaOf(t) - lambdaOf(s0));
      const em1 = f(expf(-h) - 1); // torch.exp(-h) - 1.0
      const ratio = f(t.s / s0.s);
      const c0 = f(t.a * em1);
      const next = new Float32Array(x.length);
      if (c.solver_order === 1 || lowerOrderNums < 1 || lowerFinal || !m1) {
        for (let i = 0; i < x.length; i++) next[i] = f(ratio * x[i]!) - f(c0 * x0[i]!);
      } else {
        const s1 = alphaSigma(sigmas[k - 1]!);
        const h0 = f(lambdaOf(s0) - lambdaOf(s1));
        const r0 = f(h0 / h);
        const inv = f(1 / r0);
        if (c.solver_type === 'midpoint') {
          const c1 = f(0.5 * c0);
          for (let i = 0; i < x.length; i++) {
            const d1 = f(inv * f(x0[i]! - m1[i]!));
            next[i] = f(f(ratio * x[i]!) - f(c0 * x0[i]!)) - f(c1 * d1);
          }
        } else {
          const c1 = f(t.a * f(f(em1 / h) + 1));
          for (let i = 0; i < x.length; i++) {
            const d1 = f(inv * f(x0[i]! - m1[i]!));
            next[i] = f(f(ratio * x[i]!) - f(c0 * x0[i]!)) + f(c1 * d1);
          }
        }
      }
      if (lowerOrderNums < c.solver_order) lowerOrderNums++;
      return next;
    },
    addNoise(x0, noise, k) {
      const p = alphaSigma(sigmas[k]!);
      return x0.map((v, i) => f(p.a * v) + f(p.s * noise[i]!));
    },
  };
}
