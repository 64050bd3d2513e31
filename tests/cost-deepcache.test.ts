// The MAC bound of every DeepCache plan, checked against arithmetic done here from scratch: the
// sd15-tiny fixture compiled by the real CLI (with --report), each variant's MACs counted again
// from its written graph, and each plan's MACs summed over the step plan and batch the official
// code recorded (../shared/fixtures/tgate-ref/sd15-tiny/deepcache-ddim/index.json). inspect (text
// and JSON, model and compiled folder) and report.md/report.json show the same numbers.
import fs from 'node:fs';
import path from 'node:path';
import { countMacs } from '../analyses/cost/macs.js';
import { inferShapes } from '../analyses/shapes/infer.js';
import type { PlanCost, ScheduleCost } from '../build/schedule-cost.js';
import { decodeModel } from '../io/decode.js';
import { tgate } from './helpers/cli.js';
import { FIXTURES, scratch, sharedAvailable } from './helpers/paths.js';

const have = sharedAvailable('the DeepCache MAC bounds on sd15-tiny');
const MODEL = path.join(FIXTURES, 'sd15-tiny/model.onnx');
const REF = path.join(FIXTURES, 'tgate-ref/sd15-tiny/deepcache-ddim/index.json');

interface Macs {
  linear: number;
  all: number;
}

function run(args: string[]): string {
  const r = tgate(args);
  if (r.status !== 0) throw new Error(`tgate ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

(have ? describe : describe.skip)('DeepCache plans: MACs per variant and the bound of every plan (sd15-tiny)', () => {
  let dir: string;
  let report: {
    cost: {
      binding: { sizes: Record<string, number>; batch: string };
      variants: { name: string; linearMacs: number; attentionMacs: number }[];
      schedule: ScheduleCost;
    };
  };
  /** A variant's MACs at a batch, counted here from the graph compile wrote. */
  let macs: (variant: string, batch: number) => Macs;
  /** The official plans as recorded: one character per step (F full, s shallow) and the batch per step. */
  let official: Record<string, { steps: string; batch: string }>;
  const plan = (name: string): PlanCost => report.cost.schedule.plans.find((p) => p.name === name)!;

  beforeAll(() => {
    dir = path.join(scratch(), 'sd15-tiny');
    run(['compile', MODEL, '-o', dir, '--report', '--no-verify']);
    report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    const { sizes, batch } = report.cost.binding;
    const memo = new Map<string, Macs>();
    macs = (variant, b) => {
      const key = `${variant}@${b}`;
      if (!memo.has(key)) {
        const g = decodeModel(fs.readFileSync(path.join(dir, `${variant}.onnx`)), variant).graph;
        const c = countMacs(g, inferShapes(g), { ...sizes, [batch]: b });
        expect(c.uncounted).toEqual([]);
        memo.set(key, { linear: c.linearMacs, all: c.linearMacs + c.attentionMacs });
      }
      return memo.get(key)!;
    };
    const runs = JSON.parse(fs.readFileSync(REF, 'utf8')).runs as Record<string, { plan: { steps: string; batch: string } }>;
    official = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.plan]));
  });

  it('counts every variant, the shallow ones far below the full network', () => {
    const names = report.cost.variants.map((v) => v.name);
    expect(names).toEqual(['planning', 'reuse-self', 'fidelity', 'fidelity-reuse-self', 'shallow', 'shallow-fidelity']);
    for (const v of report.cost.variants) {
      const here = macs(v.name, 1);
      expect(v.linearMacs).toBe(here.linear);
      expect(v.linearMacs + v.attentionMacs).toBe(here.all);
    }
    // sd15-tiny's shallow network is conv_in, the time embedding, one resnet and conv_out: < 10 % of a call.
    expect(macs('shallow', 1).all).toBeLessThan(0.1 * macs('planning', 1).all);
    expect(macs('shallow', 1).linear).toBeGreaterThan(0);
    expect(macs('shallow-fidelity', 1).all).toBeLessThanOrEqual(macs('shallow', 1).all);
  });

  it('costs DeepCache N 3 as 25 P / (9 P + 16 S) at batch 2B, on the official plan FssFss...F', () => {
    expect(official.deepcache!.steps).toBe('FssFssFssFssFssFssFssFssF');
    const p = plan('deepcache-n3');
    expect(p.stepPlan).toBe(official.deepcache!.steps);
    expect([p.fullSteps, p.shallowSteps]).toEqual([9, 16]);
    const P = macs('planning', 2);
    const S = macs('shallow', 2);
    expect(p.linearMacs).toBe(9 * P.linear + 16 * S.linear);
    expect(p.boundLinear).toBeCloseTo((25 * P.linear) / (9 * P.linear + 16 * S.linear), 12);
    expect(p.boundAll).toBeCloseTo((25 * P.all) / (9 * P.all + 16 * S.all), 12);
    expect(p.boundLinear).toBeGreaterThan(2.2);
    expect(plan('deepcache-n5').stepPlan).toBe(official.deepcache_n5!.steps);
  });

  it('costs TGATE + DeepCache N 3 on the official plan: 2B before the gate, fidelity and shallow-fidelity after it', () => {
    const o = official.tgate_deepcache!;
    expect(o.steps).toBe('FssFssFssFFssFssFssFssFss');
    expect(o.batch).toBe('2'.repeat(10) + '1'.repeat(15));
    const p = plan('tgate+deepcache-n3');
    expect(p.stepPlan).toBe(o.steps);
    expect(p.gateStep).toBe(10);
    // Summed step by step from the recorded plan: the variant follows from full/shallow and the phase.
    let linear = 0;
    let all = 0;
    for (let k = 0; k < 25; k++) {
      const full = o.steps[k] === 'F';
      const variant = k < 10 ? (full ? 'planning' : 'shallow') : full ? 'fidelity' : 'shallow-fidelity';
      const m = macs(variant, Number(o.batch[k]));
      linear += m.linear;
      all += m.all;
    }
    expect(p.linearMacs).toBe(linear);
    expect(p.allMacs).toBe(all);
    const base = 25 * macs('planning', 2).linear;
    expect(p.boundLinear).toBeCloseTo(base / linear, 12);
    expect(p.byVariant.map((r) => [r.variant, r.batch, r.steps])).toEqual([
      ['planning', 2, 4],
      ['shallow', 2, 6],
      ['fidelity', 1, 5],
      ['shallow-fidelity', 1, 10],
    ]);
    // The combination bounds more than either method alone.
    expect(p.boundLinear).toBeGreaterThan(plan('deepcache-n3').boundLinear);
    expect(p.boundLinear).toBeGreaterThan(plan('tgate-v1').boundLinear);
    // v1 and v2 stay TGATE alone, and the legacy fields are the plans' figures.
    expect(report.cost.schedule.v1.linearMacs).toBe(plan('tgate-v1').linearMacs);
    expect(report.cost.schedule.v2!.boundAll).toBe(plan('tgate-v2').boundAll);
    expect(plan('tgate-v1').stepPlan).toBe('F'.repeat(25));
  });

  it('prints every variant and plan in report.md, inspect text and inspect --json (the model and the compiled folder agree)', () => {
    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    const text = run(['inspect', dir]);
    for (const p of report.cost.schedule.plans) {
      expect(md).toContain(`| ${p.description} |`);
      expect(text).toContain(p.description);
    }
    expect(md).toMatch(/\| shallow \| `shallow\.onnx` \|/);
    expect(md).toContain(`| TGATE + DeepCache N 3 (gate step 10; 9 full + 16 shallow steps) |`);
    expect(text).toMatch(/^shallow-fidelity +\d/m);
    expect(text).toContain(`${plan('tgate+deepcache-n3').boundLinear.toFixed(3)}x`);
    const fromModel = JSON.parse(run(['inspect', MODEL, '--json'])).cost;
    expect(fromModel.variants).toEqual(report.cost.variants);
    expect(fromModel.schedule.plans).toEqual(report.cost.schedule.plans);
  });
});
