// tgate calibrate's DeepCache dimension, on the compiled sd15-tiny fixture (a DeepCache cut on its
// up path): every (gate step, interval) pair is run, DeepCache alone ("no gate") included; the
// predicted speed-up never falls as N grows at a fixed gate (strictly where the plan has fewer full
// steps, equal where as many); N = 1 is TGATE alone, the same point a calibration without DeepCache gives; the
// recommendation is the fastest plan within the tolerance; --write records it under `calibration`
// only. A folder without a cut sweeps N = 1 and says why; asking it for N > 1 is refused.
import path from 'node:path';
import { compile } from '../build/compile.js';
import { deepCacheFullSteps, deepCachePlanString } from '../build/deepcache-steps.js';
import { readManifest } from '../build/manifest.js';
import { runCalibrate } from '../cli/calibrate-command.js';
import { calibrate, type Calibration, type CalibrationPoint } from '../runtime/pipeline/calibrate.js';
import { FIXTURES, ROOT, scratch, sharedAvailable } from './helpers/paths.js';

const have = sharedAvailable('calibrate with DeepCache on sd15-tiny');
const STEPS = 6;
const TOLERANCE = 0.3;
const io = { stderr: process.stderr };
const values = (extra: Record<string, string | boolean> = {}) => ({ steps: String(STEPS), samples: '1', seed: '0', tolerance: String(TOLERANCE), ...extra });

/** The fastest point within the tolerance, ties to the lower deviation: recomputed here from the points. */
function fastest(points: CalibrationPoint[], tolerance: number): CalibrationPoint | null {
  const within = points.filter((p) => p.deviation <= tolerance);
  within.sort((a, b) => b.predictedSpeedup - a.predictedSpeedup || a.deviation - b.deviation);
  return within[0] ?? null;
}

(have ? describe : describe.skip)('tgate calibrate: (gate step, DeepCache interval) plans on sd15-tiny', () => {
  let dir: string;
  let c: Calibration;
  beforeAll(async () => {
    dir = path.join(scratch(), 'sd15-tiny');
    await compile(path.join(FIXTURES, 'sd15-tiny/model.onnx'), { outDir: dir, prover: null });
    // The default intervals (the folder has a cut), recorded in tgate.json.
    c = JSON.parse((await runCalibrate({ values: values({ json: true }), positionals: [dir] }, io)).stdout);
  });

  it('sweeps N 1, 3, 5 by default: every gate step for each, and DeepCache alone for N > 1, with the plan as run', () => {
    expect(c.deepcacheIntervals).toEqual([1, 3, 5]);
    expect(c.deepcacheBranch).toBe(0);
    expect(c.deepcacheMissing).toBeNull();
    const gates = [1, 2, 3, 4, 5];
    expect(c.points.map((p) => [p.deepcache, p.gateStep])).toEqual([
      ...gates.map((G) => [1, G]),
      ...[3, 5].flatMap((N) => [...gates.map((G) => [N, G]), [N, null]]),
    ]);
    for (const p of c.points) {
      // The official plan: reset before G-1 and G, '|' after the gate step (where the batch drops to B).
      const G = p.gateStep ?? Infinity;
      const full = deepCacheFullSteps(STEPS, { interval: p.deepcache, branch: 0, schedule: 'uniform' }, G < STEPS ? [G - 1, G] : []);
      const plan = deepCachePlanString(full);
      expect(p.plan).toBe(G < STEPS ? `${plan.slice(0, G)}|${plan.slice(G)}` : plan);
      expect(p.deviation).toBeGreaterThan(0);
      // A ratio of measured times: its size is the benchmark's business (a loaded machine moves it), not this test's.
      expect(Number.isFinite(p.predictedSpeedup) && p.predictedSpeedup > 0).toBe(true);
    }
    expect(c.points.find((p) => p.deepcache === 3 && p.gateStep === null)!.plan).toBe('FssFss');
  });

  it('the predicted speed-up never falls as N grows at a fixed gate, and rises where the plan has fewer full steps', () => {
    const at = (N: number, G: number | null) => c.points.find((p) => p.deepcache === N && p.gateStep === G)!;
    // Full steps at batch 2B (before the '|') and at B (after it).
    const fulls = (p: CalibrationPoint) => p.plan.split('|').map((part) => [...part].filter((x) => x === 'F').length);
    let rises = 0;
    for (const G of [1, 2, 3, 4, 5, null]) {
      const row = [1, 3, 5].filter((N) => G !== null || N > 1).map((N) => at(N, G));
      for (let i = 1; i < row.length; i++) {
        const [a, b] = [fulls(row[i - 1]!), fulls(row[i]!)];
        // A longer interval never runs more full steps at either batch.
        b.forEach((n, side) => expect(n).toBeLessThanOrEqual(a[side]!));
        if (b.some((n, side) => n < a[side]!)) {
          // Step costs of DeepCache plans come from their own session (calibrate.ts), those of
          // TGATE alone (N 1) from another: only predictions from one session's costs are ordered by
          // their plans; across the two, the order is a timing comparison, the benchmark's business.
          if (row[i - 1]!.deepcache > 1) {
            expect(row[i]!.predictedSpeedup).toBeGreaterThan(row[i - 1]!.predictedSpeedup);
            rises++;
          }
        } else {
          // As many full steps at each batch: the same steps' costs, the same prediction.
          expect(row[i]!.predictedSpeedup).toBeCloseTo(row[i - 1]!.predictedSpeedup, 10);
          if (row[i]!.plan === row[i - 1]!.plan) expect(row[i]!.deviation).toBe(row[i - 1]!.deviation);
        }
      }
    }
    // Over 6 steps, N 5 runs fewer full steps than N 3 at three of the six gates (the plans above fix it).
    expect(rises).toBe(3);
  });

  it('N = 1 is TGATE alone: the points of a calibration without DeepCache', async () => {
    const alone = (await calibrate(dir, { steps: STEPS, samples: 1, seed: 0, tolerance: TOLERANCE, deepcacheIntervals: [1] })).calibration;
    expect(alone.deepcacheIntervals).toEqual([1]);
    expect(alone.points.map((p) => p.gateStep)).toEqual([1, 2, 3, 4, 5]);
    const n1 = c.points.filter((p) => p.deepcache === 1);
    expect(n1.map((p) => p.plan)).toEqual(alone.points.map((p) => p.plan));
    for (const [i, p] of alone.points.entries()) expect(n1[i]!.deviation).toBeCloseTo(p.deviation, 6);
    expect(alone.recommended).toBe(c.recommended);
  });

  it('recommends the fastest plan within the tolerance, and the earliest TGATE-alone gate step as the default; --write records both', () => {
    const best = fastest(c.points, TOLERANCE);
    expect(best).not.toBeNull();
    expect(c.recommendedPlan).toEqual({ gateStep: best!.gateStep, deepcache: best!.deepcache });
    // At this tolerance a DeepCache plan is within it, and DeepCache's shallow steps make it the fastest.
    expect(best!.deepcache).toBeGreaterThan(1);
    expect(c.recommended).toBe(c.points.find((p) => p.deepcache === 1 && p.deviation <= TOLERANCE)!.gateStep);
    const m = readManifest(dir);
    expect(m.schedule.gateStep).toBe(c.recommended);
    expect(m.calibration).toEqual({
      tolerance: TOLERANCE,
      steps: STEPS,
      samples: 1,
      version: c.version,
      recommended: c.recommended,
      deepcacheIntervals: [1, 3, 5],
      recommendedPlan: c.recommendedPlan,
    });
    // A tight tolerance: only plans that deviate less qualify, still the fastest of them.
    const tight = Math.min(...c.points.map((p) => p.deviation)) * 1.5;
    const t = fastest(c.points, tight)!;
    expect(t.deviation).toBeLessThanOrEqual(tight);
    for (const p of c.points) if (p.deviation <= tight) expect(p.predictedSpeedup).toBeLessThanOrEqual(t.predictedSpeedup);
  });

  it('--deepcache-intervals picks the intervals (1 always swept); the text report has a row per plan and the command of the fastest', async () => {
    const r = await runCalibrate({ values: values({ 'deepcache-intervals': '3', 'dry-run': true }), positionals: [dir] }, io);
    const text = r.stdout;
    expect(text).toMatch(/TGATE v\d and DeepCache N 1, 3 \(branch 0, uniform\), 6 steps/);
    expect(text).toMatch(/\nnone(?: <- fastest)? +3 +\d+\.\d\dx +\d\.\d{4} +FssFss\n/);
    expect(text).toMatch(/\n1(?: <- [a-z, ]+)? +off +\d+\.\d\dx +\d\.\d{4} +F\|FFFFF\n/);
    expect(text.match(/<- (recommended, )?fastest/g)).toHaveLength(1);
    expect(text).toMatch(/Fastest plan within 0\.3: .*predicted \d+\.\d\dx.*:\n {2}tgate run .*--deepcache 3/);
    // The command runs the plan as calibrated: the calibrated steps always (run's default is another), no size where none was given.
    const command = /\n {2}(tgate run .*)$/m.exec(text)![1]!;
    expect(command).toContain(` --steps ${STEPS} `);
    expect(command).not.toMatch(/--height|--width/);
    await expect(runCalibrate({ values: values({ 'deepcache-intervals': '0,2', 'dry-run': true }), positionals: [dir] }, io)).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('--deepcache-intervals must be whole numbers'),
    });
  });
});

describe('tgate calibrate on a folder without a DeepCache cut', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(scratch(), 'tiny');
    await compile(path.join(ROOT, 'fixtures/models/tiny-unet.onnx'), { outDir: dir, prover: null });
  });

  it('sweeps TGATE alone and says why; asking for N > 1 is refused before anything runs', async () => {
    const r = await runCalibrate({ values: { ...values({ 'dry-run': true }), steps: '3', height: '64', width: '64' }, positionals: [dir] }, io);
    expect(r.stdout).toMatch(/^gate step +cross-attn change at step/m);
    expect(r.stdout).toMatch(/DeepCache not calibrated: no DeepCache cut was found \(NO_UP_PATH: .*up path\)\.$/);
    await expect(calibrate(dir, { steps: 3, samples: 1, seed: 0, tolerance: 0.05, deepcacheIntervals: [1, 3] })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('DeepCache intervals 3 cannot be calibrated: this folder has no DeepCache variants: no DeepCache cut was found'),
    });
    expect(readManifest(dir).calibration).toBeUndefined();
  });
});
