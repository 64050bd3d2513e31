// The schedulers: names, factories, diffusers config handling.
export { createScheduler, SCHEDULERS, SCHEDULER_CLASSES, type CreateSchedulerOptions, type SchedulerName } from './create.js';
export { img2imgStart, type NormalGenerator, type Scheduler } from './scheduler.js';
export { parseSchedulerConfig, STABLE_DIFFUSION_CONFIG, type SchedulerConfig } from './config.js';
export { parseDiffusersJson, readDiffusersJson } from './diffusers-json.js';
export { CLASS_DEFAULTS, resolveSchedulerConfig, schedulerFromConfig, type ResolvedSchedulerConfig, type SchedulerFromConfigOptions } from './from-config.js';
