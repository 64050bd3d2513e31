// Scheduler names the CLI and API accept, and the factory.
import { TgateError } from '../../compiler/errors.js';
import { STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
import { ddim } from './ddim.js';
import { dpmSolverPP } from './dpm-solver.js';
import { euler } from './euler.js';
import type { Scheduler } from './scheduler.js';

export const SCHEDULERS = ['ddim', 'euler', 'dpmpp-2m'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export function createScheduler(name: string, steps: number, config: SchedulerConfig = STABLE_DIFFUSION_CONFIG): Scheduler {
  if (!Number.isInteger(steps) || steps < 1) throw new TgateError('E_USAGE', `steps must be a positive whole number, not ${steps}.`);
  switch (name) {
    case 'ddim': return ddim(config, steps);
    case 'euler': return euler(config, steps);
    case 'dpmpp-2m': return dpmSolverPP(config, steps);
    default:
      throw new TgateError('E_USAGE', `Unknown scheduler "${name}".`, { hint: `Use one of ${SCHEDULERS.join(', ')}.` });
  }
}

export type { Scheduler } from './scheduler.js';
export { parseSchedulerConfig, STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
