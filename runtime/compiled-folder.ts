// A compiled folder as the runtime sees it: its manifest, checked, the graphs it names opened
// only through the manifest's checks, and the schedule a generation runs on it (the user's
// options over the compiled family's official defaults), which decides the variants to open.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import { containedFile } from '../io/contained-file.js';
import { manifestGraph, readManifest, type Manifest, type ManifestGated, type ManifestVariant } from '../build/manifest.js';
import type { VariantName } from '../build/variants.js';
import { DEEPCACHE_FORCED_SELF, deepCacheOn, planSchedule, variantsUsed, type ScheduleOptions } from '../build/schedule.js';
import { checkSteps } from './schedulers/config-check.js';
import { checkDeepCache } from '../build/deepcache-steps.js';
import { openSession, type SessionOptions } from './session.js';

export { readManifest };

/**
 * A session over a graph the manifest names (a variant or a gated model): onnxruntime gets the
 * path only after manifestGraph's checks (inside the folder, a regular file, ONNX, its external
 * data inside the folder and long enough), and a graph it still cannot load is bad input.
 */
export async function openCompiledGraph(dir: string, m: Manifest, entry: ManifestVariant | ManifestGated, opts: SessionOptions): Promise<ort.InferenceSession> {
  const graph = manifestGraph(dir, m, entry);
  try {
    return await openSession(graph.path, opts);
  } catch (cause) {
    throw new TgateError('E_NOT_ONNX', `onnxruntime cannot load ${path.join(dir, entry.file)}: ${(cause as Error).message.split('\n')[0]}`, {
      subject: { file: path.join(dir, entry.file) },
      hint: 'The compiled folder is damaged or was made for another onnxruntime: recompile the model (tgate compile <model.onnx> -o <dir> --force).',
      cause,
    });
  }
}

/**
 * A pipeline folder's scheduler/scheduler_config.json, or null when it has none; when present it
 * must be a regular file inside the folder (a FIFO or a symlink out is refused, not read).
 */
export function pipelineSchedulerConfig(dir: string): string | null {
  const name = 'scheduler/scheduler_config.json';
  const file = path.join(dir, name);
  if (!exists(file)) return null;
  containedFile(dir, name, { kind: 'config', what: 'scheduler config' });
  return file;
}

/** Whether anything (a file, a folder, a FIFO, a dangling symlink) has this name. */
export function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The T-GATE schedule of a generation; unset fields take the compiled family's defaults. */
export type TgateOptions = Partial<Omit<ScheduleOptions, 'gateStep'>>;

/** The schedule a generation runs: the options given, the compiled family's defaults for the rest. */
export function resolveSchedule(m: Manifest, gateStep: number | undefined, t: TgateOptions = {}): ScheduleOptions {
  const selfCached = m.sites.some((s) => s.cached && s.kind === 'self');
  const version = t.version ?? (selfCached ? 2 : 1);
  if (version === 2 && !selfCached) {
    throw new TgateError('E_USAGE', 'TGATE v2 reuses self-attention, but this folder was compiled without self-attention sites.', {
      hint: 'Recompile with --sites all (the default), or run with --tgate-version 1.',
    });
  }
  const d = m.schedule;
  // An interval of 1 is DeepCache off (the official helper then runs every step full).
  const deepcache = t.deepcache && deepCacheOn(t) ? t.deepcache : null;
  if (t.deepcache) checkDeepCache(t.deepcache);
  if (deepcache) checkDeepCacheFolder(m, deepcache, t);
  return {
    version,
    gateStep: gateStep ?? d.gateStep,
    spInterval: t.spInterval ?? d.spInterval,
    fiInterval: t.fiInterval ?? d.fiInterval,
    warmUp: t.warmUp ?? d.warmUp,
    // Only a DeepCache plan says so (with the self-attention settings it really runs): a TGATE
    // schedule reads (and records) as before.
    ...(deepcache ? { ...DEEPCACHE_FORCED_SELF, deepcache } : {}),
  };
}

/**
 * A DeepCache plan needs the folder's cut to be the branch asked for, and, as the official TGATE +
 * DeepCache combination forces, no self-attention reuse (schedule.ts's effectiveSelf).
 */
function checkDeepCacheFolder(m: Manifest, dc: NonNullable<TgateOptions['deepcache']>, t: TgateOptions): void {
  const compiled = m.deepcache;
  if (!compiled || !('site' in compiled)) {
    const why = compiled ? `no DeepCache cut was found (${compiled.missing.code}: ${compiled.missing.reason})` : 'it was compiled with --no-deepcache';
    throw new TgateError('E_USAGE', `This folder has no DeepCache variants: ${why}.`, {
      hint: compiled ? 'DeepCache needs a UNet with skip connections (SD-1.x/2.x, SD-XL).' : 'Recompile without --no-deepcache.',
    });
  }
  if (compiled.branch !== dc.branch) {
    throw new TgateError('E_USAGE', `This folder was compiled for DeepCache branch ${compiled.branch}, not ${dc.branch}.`, {
      hint: `Run with --deepcache-branch ${compiled.branch}, or recompile with --deepcache-branch ${dc.branch} (branches 0..${compiled.branches - 1}).`,
    });
  }
  const forced = DEEPCACHE_FORCED_SELF;
  const reuse = (Object.keys(forced) as (keyof typeof forced)[]).filter((k) => t[k] !== undefined && t[k] !== forced[k]);
  if (reuse.length) {
    throw new TgateError(
      'E_USAGE',
      `DeepCache runs as the official TGATE + DeepCache combination does: no self-attention reuse, so ${reuse.join(', ')} cannot be set.`,
      {
        hint: "T-GATE's main.py --deepcache forces sp_interval 1, warm_up 0, fi_interval 1; leave those options out.",
      },
    );
  }
}

/** The variants a schedule over `steps` runs (what load should open). */
export function variantsFor(m: Manifest, steps: number, gateStep?: number, t: TgateOptions = {}): VariantName[] {
  // Plans `steps` steps: a count no scheduler can make is refused before the plan is built.
  checkSteps(steps);
  return variantsUsed(planSchedule(steps, false, resolveSchedule(m, gateStep, t)));
}
