// A compiled folder as the runtime sees it: its manifest, checked, and the schedule a generation
// runs on it (the user's options over the compiled family's official defaults), which decides the
// variants to open.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../compiler/errors.js';
import type { Manifest } from '../compiler/manifest.js';
import type { VariantName } from '../compiler/variants.js';
import { planSchedule, variantsUsed, type ScheduleOptions } from './schedule.js';

/** The T-GATE schedule of a generation; unset fields take the compiled family's defaults. */
export type TgateOptions = Partial<Omit<ScheduleOptions, 'gateStep'>>;

/** Reads and checks a compiled folder's tgate.json. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'tgate.json');
  if (!fs.existsSync(file)) {
    throw new TgateError('E_FILE_MISSING', `${dir} has no tgate.json: it is not a compiled folder.`, { subject: { file: dir }, hint: 'Compile the model first: tgate compile <model.onnx> -o <dir>.' });
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (cause) {
    throw new TgateError('E_UNSUPPORTED_MODEL', `${file} is not valid JSON (${(cause as Error).message}).`, { subject: { file }, hint: 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.', cause });
  }
  if (manifest.format !== 'tgate/2') {
    throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has format ${JSON.stringify(manifest.format)}; this tgate reads tgate/2.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
  }
  for (const key of ['variants', 'gated', 'sites', 'schedule', 'source'] as const) {
    if (!manifest[key]) throw new TgateError('E_UNSUPPORTED_MODEL', `${file} has no "${key}": it was not written by this version of tgate.`, { subject: { file }, hint: 'Recompile the model with this version of tgate.' });
  }
  return manifest;
}

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

