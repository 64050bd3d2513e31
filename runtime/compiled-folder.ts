// A compiled folder as the runtime sees it: its manifest, checked, and the schedule a generation
// runs on it (the user's options over the compiled family's official defaults), which decides the
// variants to open.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../compiler/errors.js';
import { readManifest, type Manifest } from '../compiler/manifest.js';
import type { VariantName } from '../compiler/variants.js';
import { planSchedule, variantsUsed, type ScheduleOptions } from '../compiler/schedule.js';

export { readManifest };

/** A pipeline folder's scheduler/scheduler_config.json, or null when it has none. */
export function pipelineSchedulerConfig(dir: string): string | null {
  const file = path.join(dir, 'scheduler', 'scheduler_config.json');
  return fs.existsSync(file) ? file : null;
}

/** The T-GATE schedule of a generation; unset fields take the compiled family's defaults. */
export type TgateOptions = Partial<Omit<ScheduleOptions, 'gateStep'>>;

/** The schedule a generation runs: the options given, the compiled family's defaults for the rest. */
export function resolveSchedule(m: Manifest, gateStep: number | undefined, t: TgateOptions = {}): ScheduleOptions {
  const selfCached = m.sites.some((s) => s.cached && s.kind === 'self');
  const version = t.version ?? (selfCached ? 2 : 1);
  if (version === 2 && !selfCached) {
    throw new TgateError('E_USAGE', 'TGATE v2 reuses self-attention, but this folder was compiled without self-attention sites.', { hint: 'Recompile with --sites all (the default), or run with --tgate-version 1.' });
  }
  const d = m.schedule;
  return { version, gateStep: gateStep ?? d.gateStep, spInterval: t.spInterval ?? d.spInterval, fiInterval: t.fiInterval ?? d.fiInterval, warmUp: t.warmUp ?? d.warmUp };
}

/** The variants a schedule over `steps` runs (what load should open). */
export function variantsFor(m: Manifest, steps: number, gateStep?: number, t: TgateOptions = {}): VariantName[] {
  return variantsUsed(planSchedule(steps, false, resolveSchedule(m, gateStep, t)));
}

