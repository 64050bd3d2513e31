// DeepCache's step schedules equal the official code's: the uniform plans recorded from
// DeepCacheSDHelper and the official TGATE + DeepCache loader (../shared reference trajectories,
// DDIM and DPM-Solver++) and written out here, and the quadratic schedule's indices and final pow
// as the official `sample_from_quad_center` returns them, including the cases where it retries
// with a smaller pow or gives up. Bad values are coded usage errors.
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import {
  DEEPCACHE_DEFAULTS,
  DEEPCACHE_QUADRATIC_DEFAULTS,
  checkDeepCache,
  deepCacheFullSteps,
  deepCachePlanString,
  sampleFromQuadCenter,
  type DeepCacheOptions,
} from '../build/deepcache-steps.js';
import { FIXTURES } from './helpers/paths.js';

const uniform = (interval: number): DeepCacheOptions => ({ interval, branch: 0, schedule: 'uniform' });
const quadratic = (interval: number, center: number, pow: number): DeepCacheOptions => ({ interval, branch: 0, schedule: 'quadratic', center, pow });
const plan = (steps: number, o: DeepCacheOptions, resets?: number[]) => deepCachePlanString(deepCacheFullSteps(steps, o, resets));

function usageError(f: () => unknown, message: RegExp): TgateError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TgateError);
    const err = e as TgateError;
    expect(err.code).toBe('E_USAGE');
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
    return err;
  }
  throw new Error(`expected an E_USAGE error matching ${String(message)}`);
}

describe('uniform: DeepCacheSDHelper and the official TGATE + DeepCache loop', () => {
  it('runs a full step every N steps, restarting the count at each reset', () => {
    expect(plan(25, uniform(3))).toBe('FssFssFssFssFssFssFssFssF');
    expect(plan(25, uniform(5))).toBe('FssssFssssFssssFssssFssss');
    // T-GATE tgate/SD_DeepCache.py resets the helper before steps G-1 and G (G 10).
    expect(plan(25, uniform(3), [9, 10])).toBe('FssFssFssFFssFssFssFssFss');
    expect(plan(25, uniform(5), [9, 10])).toBe('FssssFsssFFssssFssssFssss');
    expect(plan(25, uniform(3), [4, 5])).toBe('FssFFFssFssFssFssFssFssFs');
    expect(plan(6, uniform(3), [0, 1])).toBe('FFssFs'); // G 1: resets before steps 0 and 1
    expect(plan(25, uniform(1), [9, 10])).toBe('F'.repeat(25)); // N 1: DeepCache off
    expect(plan(0, uniform(3))).toBe('');
  });

  it('ignores resets the run never reaches (a gate after the last step, or none)', () => {
    expect(plan(10, uniform(3), [24, 25])).toBe(plan(10, uniform(3)));
    expect(plan(10, uniform(3), [Infinity, Infinity])).toBe('FssFssFssF');
    expect(plan(10, uniform(3), [-1])).toBe('FssFssFssF');
  });

  it('matches every plan recorded from the official code (../shared reference trajectories)', () => {
    let checked = 0;
    // One loop over both folders; each is skipped with a printed reason when ../shared is absent.
    for (const scheduler of ['deepcache-ddim', 'deepcache-dpm']) {
      const file = path.join(FIXTURES, 'tgate-ref/sd15-tiny', scheduler, 'index.json');
      if (!fs.existsSync(file)) {
        console.log(`SKIPPED the recorded DeepCache plans of ${scheduler}: ${file} is absent (it ships beside the repo in CI, not in a fresh clone).`);
        continue;
      }
      const index = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        runs: Record<
          string,
          {
            deepcache_params?: { cache_interval: number; cache_branch_id: number; skip_mode: string };
            tgate_params?: { gate_step: number };
            call_kwargs: { num_inference_steps: number };
            plan: { steps: string; full_steps?: number[] };
          }
        >;
      };
      for (const [name, run] of Object.entries(index.runs)) {
        const dc = run.deepcache_params;
        if (!dc) continue;
        expect(dc.skip_mode).toBe('uniform');
        const G = run.tgate_params?.gate_step;
        const resets = G === undefined ? [] : [G - 1, G];
        const full = deepCacheFullSteps(
          run.call_kwargs.num_inference_steps,
          { interval: dc.cache_interval, branch: dc.cache_branch_id, schedule: 'uniform' },
          resets,
        );
        expect([scheduler, name, deepCachePlanString(full)]).toEqual([scheduler, name, run.plan.steps]);
        expect(full.flatMap((f, k) => (f ? [k] : []))).toEqual(run.plan.full_steps);
        checked++;
      }
    }
    // DDIM: deepcache (N 3), deepcache_n5, tgate_deepcache (N 3, G 10); DPM-Solver++: deepcache, tgate_deepcache.
    if (checked > 0) expect(checked).toBe(5);
  });
});

// Outputs of the official function, run with /usr/bin/python3 (numpy 1.24.2, glibc 2.36) from
// horseee/DeepCache@1691a3ab22308fe06685e4ff151a9ab175be2dc4, DeepCache/sd/pipeline_stable_diffusion.py
// lines 86-96: [T, N, center, pow, indices or null (ValueError), the pow it settled on].
// n_samples = ceil(T / N), as the pipeline's __call__ computes num_slow_step.
const OFFICIAL: [number, number, number, number, number[] | null, number | null][] = [
  [25, 5, 15, 1.4, [0, 6, 12, 15, 20], 1.4],
  [50, 5, 15, 1.4, [0, 5, 9, 13, 17, 21, 26, 31, 37, 43], 1.4],
  [25, 3, 10, 1.2, [0, 3, 6, 9, 10, 13, 15, 18, 21], 1.2],
  [25, 5, 0, 1.4, [0, 2, 6, 12, 18], 1.4],
  [25, 5, 24, 1.4, [0, 7, 13, 19, 23], 1.4],
  [25, 2, 15, 1.4, [0, 3, 5, 7, 9, 11, 13, 14, 15, 17, 19, 21, 22], 1.1799999999999997],
  [25, 25, 15, 1.4, [0], 1.4],
  [25, 30, 15, 1.4, [0], 1.4],
  [10, 2, 5, 1.2, null, null],
  // The first sample comes out as -1.9999999999999998 (truncated to -1) until pow 2.42 gives -2.0000000000000004.
  [9, 2, 2, 2.5, [0, 1, 2, 4, 6], 2.42],
  [12, 2, 2, 2.5, [0, 1, 2, 3, 6, 8], 2.42],
  [15, 2, 13, 2.5, [0, 4, 6, 9, 11, 12, 13, 14], 2.0199999999999996],
  [20, 4, 3, 2.0, [0, 2, 4, 8, 13], 2.0],
  [50, 3, 25, 1.5, [0, 4, 7, 10, 13, 16, 19, 21, 24, 26, 29, 31, 34, 37, 40, 43, 46], 1.5],
  [100, 4, 50, 1.3, [0, 5, 9, 14, 18, 22, 26, 30, 34, 38, 42, 45, 49, 51, 55, 58, 62, 66, 70, 74, 78, 82, 86, 91, 95], 1.3],
  [
    200,
    5,
    40,
    1.4,
    [
      0, 4, 8, 12, 15, 19, 23, 26, 30, 34, 37, 40, 44, 48, 52, 57, 61, 65, 70, 75, 80, 85, 90, 95, 100, 106, 111, 117, 123, 129, 135, 141, 147, 153, 160, 166,
      173, 179, 186, 193,
    ],
    1.4,
  ],
  [4, 2, 2, 1.4, [0, 2], 1.4],
  [3, 2, 1, 1.4, [0, 1], 1.4],
];

describe("quadratic: the experimental pipelines' sample_from_quad_center", () => {
  it.each(OFFICIAL)('T %d, N %d, center %d, pow %d', (T, N, center, pow, indices, finalPow) => {
    if (indices === null) {
      usageError(() => sampleFromQuadCenter(T, Math.ceil(T / N), center, pow), /finds no pow > 1/);
      usageError(() => deepCacheFullSteps(T, quadratic(N, center, pow)), /no solution/);
      return;
    }
    expect(sampleFromQuadCenter(T, Math.ceil(T / N), center, pow)).toEqual({ indices, pow: finalPow });
    // The pipeline: `interval_seq = sorted(...)`, and step i is full `if i in interval_seq`.
    const full = deepCacheFullSteps(T, quadratic(N, center, pow));
    expect(full.flatMap((f, k) => (f ? [k] : []))).toEqual([...new Set(indices)].sort((a, b) => a - b));
    expect(full[0]).toBe(true);
  });

  it('runs every step in full for N 1 (the pipeline never calls the sampler then)', () => {
    expect(plan(25, quadratic(1, 15, 1.4))).toBe('F'.repeat(25));
    expect(() => sampleFromQuadCenter(25, 25, 15, 1.4)).toThrow(TgateError); // what the sampler alone would do
  });

  it('uses the SD-1.5 setting (N 5, center 15, pow 1.4) when center and pow are left out', () => {
    expect(DEEPCACHE_QUADRATIC_DEFAULTS).toEqual({ interval: 5, center: 15, pow: 1.4 });
    expect(plan(25, { interval: 5, branch: 0, schedule: 'quadratic' })).toBe('FsssssFsssssFssFssssFssss');
  });
});

describe('bad values are coded usage errors', () => {
  it('checks interval, branch, schedule, center and pow', () => {
    expect(DEEPCACHE_DEFAULTS).toEqual({ interval: 3, branch: 0, schedule: 'uniform' });
    expect(() => checkDeepCache(uniform(3))).not.toThrow();
    for (const n of [0, -1, 2.5, NaN, Infinity, 10_001]) usageError(() => checkDeepCache(uniform(n)), /interval must be an integer from 1 to 10000/);
    for (const b of [-1, 0.5, NaN]) usageError(() => checkDeepCache({ ...uniform(3), branch: b }), /branch must be an integer from 0 to 10000/);
    usageError(() => checkDeepCache({ ...uniform(3), schedule: 'gaussian' as 'uniform' }), /'uniform' or 'quadratic'/);
    usageError(() => checkDeepCache({ ...uniform(3), center: 15 }), /only to the quadratic schedule/);
    usageError(() => checkDeepCache({ ...uniform(3), pow: 1.4 }), /only to the quadratic schedule/);
    for (const p of [1, 0.5, 0, -2, NaN, Infinity]) usageError(() => checkDeepCache(quadratic(5, 15, p)), /pow must be a finite number > 1/);
    for (const c of [-1, 2.5, NaN]) usageError(() => checkDeepCache(quadratic(5, c, 1.4)), /center must be a step index/);
    usageError(() => deepCacheFullSteps(10, quadratic(5, 10, 1.4)), /center must be a step of the run \(0 to 9\)/);
    usageError(() => deepCacheFullSteps(10, uniform(3), [2.5]), /reset must be a step index/);
    usageError(() => deepCacheFullSteps(-1, uniform(3)), /number of steps/);
  });

  it('refuses the quadratic schedule with a gate inside the run: the official code has no such combination', () => {
    const err = usageError(() => deepCacheFullSteps(25, quadratic(5, 15, 1.4), [9, 10]), /no such combination/);
    expect(err.hint).toMatch(/uniform/);
    // A gate after the run, or resets that only touch step 0, leave the quadratic plan as it is.
    expect(plan(25, quadratic(5, 15, 1.4), [25, 26])).toBe(plan(25, quadratic(5, 15, 1.4)));
    expect(plan(25, quadratic(5, 15, 1.4), [Infinity])).toBe('FsssssFsssssFssFssssFssss');
  });
});
