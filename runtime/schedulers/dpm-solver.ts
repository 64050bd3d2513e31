// DPM-Solver++ multistep (order 1 or 2), as diffusers' DPMSolverMultistepScheduler with its
// defaults: one model call per step, the previous step's x0 prediction kept for order 2, first
// order on the last step when the final sigma is zero (lower_order_final).
import type { SchedulerConfig } from './config.js';
import { alphasCumprod, linspace, roundHalfEven, sigmaAt } from './noise-schedule.js';
import { splitPrediction, type Scheduler } from './scheduler.js';

function dpmTimesteps(c: SchedulerConfig, steps: number): number[] {
  const n = c.num_train_timesteps;
  const spacing = c.timestep_spacing ?? 'linspace';
  if (spacing === 'linspace') return linspace(0, n - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
  if (spacing === 'leading') {
    const ratio = Math.floor(n / (steps + 1));
    return Array.from({ length: steps + 1 }, (_, i) => roundHalfEven(i * ratio) + c.steps_offset).reverse().slice(0, -1);
  }
  const ratio = n / steps;
  return Array.from({ length: steps }, (_, i) => roundHalfEven(n - i * ratio) - 1);
}

export function dpmSolverPP(c: SchedulerConfig, steps: number): Scheduler {
  const ac = alphasCumprod(c);
  const timesteps = dpmTimesteps(c, steps);
  const last = c.final_sigmas_type === 'zero' ? 0 : Math.sqrt((1 - ac[0]!) / ac[0]!);
  const sigmas = [...timesteps.map((t) => sigmaAt(ac, t)), last];
  const alphaOf = (s: number) => 1 / Math.sqrt(s * s + 1);
  const lambdaOf = (s: number) => (s === 0 ? Infinity : Math.log(alphaOf(s)) - Math.log(s * alphaOf(s)));
  const history: Float32Array[] = [];
  let lowerOrderNums = 0;
  return {
    name: 'dpmpp-2m',
    timesteps,
    initNoiseSigma: 1,
    callsPerStep: 1,
    scaleModelInput: (x) => x,
    step(out, k, x) {
      const sigma = sigmas[k]!;
      const at = alphaOf(sigma);
      // The solver works on x0 predictions (dpmsolver++).
      const { x0 } = splitPrediction(c.prediction_type, out, x, at, sigma * at);
      history.push(x0);
      if (history.length > 2) history.shift();
      const n = timesteps.length;
      const lowerFinal = k === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
      const sT = sigmas[k + 1]!;
      const aT = alphaOf(sT);
      const sigT = sT * aT;
      const sig0 = sigma * at;
      const h = lambdaOf(sT) - lambdaOf(sigma);
      const phi = Math.expm1(-h); // exp(-h) - 1
      const next = new Float32Array(x.length);
      if (c.solver_order === 1 || lowerOrderNums < 1 || lowerFinal) {
        const r = sT === 0 ? 0 : sigT / sig0;
        for (let i = 0; i < x.length; i++) next[i] = r * x[i]! - aT * phi * x0[i]!;
      } else {
        const m0 = history[history.length - 1]!;
        const m1 = history[history.length - 2]!;
        const s1 = sigmas[k - 1]!;
        const h0 = lambdaOf(sigma) - lambdaOf(s1);
        const r0 = h0 / h;
        const r = sT === 0 ? 0 : sigT / sig0;
        for (let i = 0; i < x.length; i++) {
          const d1 = (m0[i]! - m1[i]!) / r0;
          next[i] = c.solver_type === 'midpoint'
            ? r * x[i]! - aT * phi * m0[i]! - 0.5 * aT * phi * d1
            : r * x[i]! - aT * phi * m0[i]! + aT * (phi / h + 1) * d1;
        }
      }
      if (lowerOrderNums < c.solver_order) lowerOrderNums++;
      return next;
    },
    addNoise(x0, noise, k) {
      const s = sigmas[k]!;
      const a = alphaOf(s);
      return Float32Array.from(x0, (v, i) => a * v + s * a * noise[i]!);
    },
  };
}
