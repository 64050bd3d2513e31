// DeepCache plans beyond the official trajectories: an interval of 1 is DeepCache off, a scheduler
// that evaluates more often than it steps (PNDM) is refused, and a manifest whose cut decisions
// disagree with its sites is refused before anything runs. Uses the project's SD-1.5-structure fixture.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { parseManifest, readManifest } from '../build/manifest.js';
import { planSchedule } from '../build/schedule.js';
import { GatedUNet, resolveSchedule } from '../runtime/gated-unet.js';
import { ROOT, scratch } from './helpers/paths.js';

const MODEL = path.join(ROOT, 'fixtures/models/sd15-struct-tiny/model.onnx');
const TGATE = { version: 1 as const, gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2 };

describe('DeepCache plans and manifests', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(scratch(), 'struct');
    await compile(MODEL, { outDir: dir, prover: null });
  }, 300_000);

  it('--deepcache 1 is off under either schedule: the TGATE plan, v2 reuse kept, no deepcache recorded', () => {
    const m = readManifest(dir);
    for (const schedule of ['uniform', 'quadratic'] as const) {
      const s = resolveSchedule(m, 10, { version: 2, deepcache: { interval: 1, branch: 0, schedule } });
      expect(s).toEqual(resolveSchedule(m, 10, { version: 2 }));
      expect(planSchedule(25, true, s).some((p) => p.self === 'reuse')).toBe(true);
    }
  });

  it('a DeepCache run records the self-attention settings it really runs (no reuse)', () => {
    const s = resolveSchedule(readManifest(dir), 10, { version: 2, deepcache: { interval: 3, branch: 0, schedule: 'uniform' } });
    expect(s).toMatchObject({ spInterval: 1, fiInterval: 1, warmUp: 0, deepcache: { interval: 3 } });
    expect(planSchedule(25, true, s).every((p) => p.self !== 'reuse')).toBe(true);
  });

  it('refuses DeepCache with leading evaluations (PNDM), whose official step count differs', () => {
    const deepcache = { interval: 3, branch: 0, schedule: 'uniform' as const };
    expect(() => planSchedule(25, true, { ...TGATE, deepcache }, 1)).toThrow(
      expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/PNDM/) }),
    );
    expect(planSchedule(25, true, TGATE, 1)).toHaveLength(26);
  });

  it('refuses a manifest whose planning graph does not output a cached site, or whose cuts contradict their kind', () => {
    const text = fs.readFileSync(path.join(dir, 'tgate.json'), 'utf8');
    const broken = (edit: (m: ReturnType<typeof JSON.parse>) => void) => {
      const m = JSON.parse(text);
      edit(m);
      return () => parseManifest(new TextEncoder().encode(JSON.stringify(m)), 'tgate.json');
    };
    expect(broken(() => {})).not.toThrow();
    const planning = (m: { variants: { name: string; cuts: Record<string, string> }[] }) => m.variants.find((v) => v.name === 'planning')!;
    expect(broken((m) => delete planning(m).cuts['deep.0'])).toThrow(
      expect.objectContaining({ code: 'E_BAD_MANIFEST', message: expect.stringMatching(/planning graph computes every cached site/) }),
    );
    const shallow = (m: { variants: { name: string; cuts: Record<string, string> }[] }) => m.variants.find((v) => v.name === 'shallow')!;
    expect(broken((m) => (shallow(m).cuts['deep.0'] = 'output'))).toThrow(expect.objectContaining({ code: 'E_BAD_MANIFEST' }));
    expect(broken((m) => (m.deepcache.tensor = 'elsewhere'))).toThrow(
      expect.objectContaining({ code: 'E_BAD_MANIFEST', message: expect.stringMatching(/deep site's tensor/) }),
    );
    expect(broken((m) => (m.deepcache = null))).toThrow(
      expect.objectContaining({ code: 'E_BAD_MANIFEST', message: expect.stringMatching(/no site of kind deep/) }),
    );
  });

  it('a folder compiled with --no-deepcache refuses a DeepCache run with the way out', async () => {
    const off = path.join(scratch(), 'no-deepcache');
    await compile(MODEL, { outDir: off, prover: null, deepcacheBranch: null });
    const m = readManifest(off);
    expect(m.deepcache).toBeNull();
    expect(m.variants.map((v) => v.name)).not.toContain('shallow');
    expect(() => resolveSchedule(m, 10, { deepcache: { interval: 3, branch: 0, schedule: 'uniform' } })).toThrow(
      expect.objectContaining({ code: 'E_USAGE', hint: expect.stringMatching(/--no-deepcache/) }),
    );
    await expect(GatedUNet.load(off, { variants: ['planning', 'shallow'] })).rejects.toMatchObject({
      code: 'E_USAGE',
      hint: expect.stringMatching(/DeepCache/),
    });
  }, 300_000);
});
