// DeepCache from the command line, as a user runs it: compile writes and reports the cut (or why
// there is none), run gives TGATE + DeepCache and DeepCache alone (--baseline --deepcache N) with
// the official plans and the library's numbers, bench adds the DeepCache rows, and bad values are
// coded usage errors (exit 2) that name the option. Real processes on the SD-1.5-structure fixture
// (fixtures/models/sd15-struct-tiny: one transformer block in the shallow network).
import fs from 'node:fs';
import path from 'node:path';
import { GatedUNet } from '../runtime/gated-unet.js';
import { parseNpy } from '../runtime/npy.js';
import { tgate } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/ort.js';
import { seededNpy } from './helpers/npy-files.js';
import { ROOT, scratch } from './helpers/paths.js';

const SD15 = path.join(ROOT, 'fixtures/models/sd15-struct-tiny/model.onnx');
const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SIZE = ['--height', '64', '--width', '64'];

interface StepRow {
  k: number;
  variant: string;
  deep: string;
  batch: number;
}

const npy = seededNpy;

describe('DeepCache on the command line', () => {
  const work = scratch();
  const dir = path.join(work, 'sd15');
  const tiny = path.join(work, 'tiny');
  let compileOut = '';
  beforeAll(() => {
    // The proof is compile's own suite's business (tests/deepcache-ref.test.ts runs it): here what the CLI says and does.
    const r = tgate(['compile', SD15, '-o', dir, '--no-verify']);
    if (r.status !== 0) throw new Error(r.stderr);
    compileOut = r.stdout;
    expect(tgate(['compile', TINY, '-o', tiny, '--no-verify']).status).toBe(0);
  }, 300_000);

  it('compile reports the cut and what each variant really takes and gives; inspect shows the entry', () => {
    expect(compileOut).toMatch(
      /\n {2}deepcache {2}branch 0 of 0\.\.11 \(block 0, layer 0; up block 3, layer 2\): cut (\/unet)?\/up_blocks\.3\/attentions\.1\/Add_output_0 \[batch_size, 16, height, width\] in (\/unet)?\/up_blocks\.3\/attentions\.1\n/,
    );
    // The attention sites only (the deep feature is not one): 16 cross + 16 self in the 4 up blocks' transformers.
    expect(compileOut).toMatch(/sites {6}16 cross \+ 16 self; 32 attention outputs cached/);
    expect(compileOut).toMatch(
      /\n {2}shallow {14}shallow\.onnx: \d+ nodes \(source \d+\), takes the deep feature, gives 1 cross \+ 1 self attention outputs\n/,
    );
    expect(compileOut).toMatch(
      /\n {2}shallow-fidelity {5}shallow-fidelity\.onnx: \d+ nodes \(source \d+\), takes 1 cross attention cache \+ the deep feature, gives 1 self attention output, input/,
    );
    expect(compileOut).toMatch(/\n {2}planning {13}planning\.onnx: .*gives 16 cross \+ 16 self attention outputs \+ the deep feature\n/);
    expect(compileOut).toMatch(/gated-tgate-deepcache\.onnx \(planning \+ shallow \+ fidelity \+ shallow-fidelity\)/);
    const text = tgate(['inspect', dir, ...SIZE]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/\ndeepcache: branch 0 of 0\.\.11 .*cut (\/unet)?\/up_blocks\.3\/attentions\.1\/Add_output_0/);
    const json = JSON.parse(tgate(['inspect', dir, '--json', ...SIZE]).stdout);
    expect(json.deepcache).toMatchObject({
      branch: 0,
      site: 'deep.0',
      tensor: expect.stringMatching(/^(\/unet)?\/up_blocks\.3\/attentions\.1\/Add_output_0$/),
      branches: 12,
    });
  });

  it('compile says why a model has no cut, and --no-deepcache does not look', () => {
    const t = JSON.parse(fs.readFileSync(path.join(tiny, 'tgate.json'), 'utf8'));
    expect(t.deepcache).toMatchObject({ branch: 0, missing: { code: 'NO_UP_PATH' } });
    expect(tgate(['inspect', tiny]).stdout).toMatch(/\ndeepcache: no DeepCache cut for branch 0: NO_UP_PATH /);
    const off = tgate(['compile', TINY, '-o', path.join(work, 'tiny-off'), '--no-verify', '--no-deepcache']);
    expect(off.status).toBe(0);
    expect(off.stdout).toMatch(/\n {2}deepcache {2}off \(--no-deepcache\)\n/);
    expect(JSON.parse(fs.readFileSync(path.join(work, 'tiny-off/tgate.json'), 'utf8')).deepcache).toBeNull();
    // DeepCache on a folder without a cut is refused with the reason.
    expect(tgate(['run', tiny, '--deepcache', '3', '--steps', '4', ...SIZE])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/E_USAGE: This folder has no DeepCache variants: no DeepCache cut was found \(NO_UP_PATH/),
    });
    expect(tgate(['compile', TINY, '-o', path.join(work, 'x'), '--no-deepcache', '--deepcache-branch', '2'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--no-deepcache writes no DeepCache variants/),
    });
    expect(tgate(['compile', TINY, '-o', path.join(work, 'x'), '--deepcache-branch', '-1'])).toMatchObject({ status: 2 });
  });

  it('run --deepcache 3 with a gate is the official TGATE + DeepCache plan, and the library result', async () => {
    const lat = npy(path.join(work, 'x.npy'), [1, 4, 8, 8], 1);
    const c = npy(path.join(work, 'c.npy'), [1, 7, 16], 2);
    const u = npy(path.join(work, 'u.npy'), [1, 7, 16], 3);
    const io = [
      '--scheduler',
      'ddim',
      '--latents',
      path.join(work, 'x.npy'),
      '--cond',
      `encoder_hidden_states=${path.join(work, 'c.npy')}`,
      '--uncond',
      `encoder_hidden_states=${path.join(work, 'u.npy')}`,
    ];
    const out = path.join(work, 'dc.npy');
    const r = tgate(['run', dir, '--deepcache', '3', '--gate-step', '10', ...io, '-o', out, '--json']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    // SPEC.md §5: T 25, G 10, N 3 runs FssFssFssF|FssFssFssFssFss (the helper reset before G-1 and G).
    expect(s).toMatchObject({
      mode: 'tgate+deepcache',
      gateStep: 10,
      deepcache: { interval: 3, branch: 0, schedule: 'uniform', plan: 'FssFssFssFFssFssFssFssFss', full: 9, shallow: 16 },
    });
    expect(s.schedule).toMatchObject({ gateStep: 10, deepcache: { interval: 3, branch: 0, schedule: 'uniform' } });
    expect(s.variants).toEqual(['planning', 'shallow', 'fidelity', 'shallow-fidelity']);
    const recs = s.records as StepRow[];
    expect(recs.map((x) => x.variant[0] === 's')).toEqual(recs.map((x) => x.deep === 'reuse'));
    expect(recs.map((x) => x.batch)).toEqual([...Array(10).fill(2), ...Array(15).fill(1)]);
    expect(recs.filter((x) => x.variant === 'shallow-fidelity').length).toBe(10);

    const unet = await GatedUNet.load(dir, { variants: ['planning', 'shallow', 'fidelity', 'shallow-fidelity'] });
    const inputs = {
      latents: { data: lat, dims: [1, 4, 8, 8] },
      cond: { encoder_hidden_states: { data: c, dims: [1, 7, 16] } },
      uncond: { encoder_hidden_states: { data: u, dims: [1, 7, 16] } },
    };
    const dc = { interval: 3, branch: 0, schedule: 'uniform' } as const;
    const lib = await unet.generate({ ...inputs, steps: 25, gateStep: 10, guidance: 7.5, scheduler: 'ddim', tgate: { deepcache: dc } });
    const alone = await unet.generate({ ...inputs, steps: 25, gateStep: Infinity, guidance: 7.5, scheduler: 'ddim', tgate: { version: 1, deepcache: dc } });
    await unet.release();
    const read = (f: string) => parseNpy(fs.readFileSync(f), f).data as Float32Array;
    expect(maxAbsDiff(read(out), lib.latents)).toBe(0);

    // DeepCache alone: --baseline (no TGATE) --deepcache 3.
    const aloneOut = path.join(work, 'alone.npy');
    const a = tgate(['run', dir, '--baseline', '--deepcache', '3', ...io, '-o', aloneOut, '--json']);
    expect(a.status).toBe(0);
    const sa = JSON.parse(a.stdout);
    expect(sa).toMatchObject({ mode: 'deepcache', gateStep: null, deepcache: { plan: 'FssFssFssFssFssFssFssFssF', full: 9, shallow: 16 } });
    expect(sa.variants).toEqual(['planning', 'shallow']);
    expect((sa.records as StepRow[]).every((x) => x.batch === 2)).toBe(true);
    expect(maxAbsDiff(read(aloneOut), alone.latents)).toBe(0);
    expect(maxAbsDiff(read(aloneOut), read(out))).toBeGreaterThan(0);
  }, 300_000);

  it('run prints the plan; --deepcache 1 is off; the quadratic schedule runs without TGATE', () => {
    const text = tgate(['run', dir, '--deepcache', '3', '--steps', '10', '--gate-step', '4', ...SIZE]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      /^tgate v2 \+ DeepCache N 3 \(branch 0\) \(no self-attention reuse\): 10 steps \(4 planning with CFG at batch 2B, 6 fidelity at batch B\) in /,
    );
    // Resets before steps 3 and 4: both full.
    expect(text.stdout).toMatch(/\nplan FssFFssFss \(4 full, 6 shallow\)(\n|$)/);
    const off = JSON.parse(tgate(['run', dir, '--deepcache', '1', '--steps', '6', '--gate-step', '3', ...SIZE, '--json']).stdout);
    expect(off).toMatchObject({ mode: 'tgate', deepcache: null });
    expect(off.variants).not.toContain('shallow');
    const q = tgate(['run', dir, '--baseline', '--deepcache', '3', '--deepcache-schedule', 'quadratic', '--deepcache-center', '12', ...SIZE, '--json']);
    expect(q.status).toBe(0);
    const sq = JSON.parse(q.stdout);
    expect(sq.deepcache).toMatchObject({ interval: 3, schedule: 'quadratic', center: 12, full: 9, shallow: 16 });
    expect(sq.deepcache.plan).toMatch(/^F/);
  }, 300_000);

  it('bench adds DeepCache alone and TGATE + DeepCache with their plans and MAC bounds', () => {
    const r = tgate(['bench', dir, '--deepcache', '3', '--steps', '10', '--gate-step', '4', '--runs', '1', '--no-memory', ...SIZE, '--json']);
    expect(r.status).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(Object.keys(b.modes)).toEqual(['baseline', 'v1', 'v2', 'deepcache', 'tgate+deepcache']);
    expect(b.deepcache).toEqual({ interval: 3, branch: 0, schedule: 'uniform' });
    expect(b.modes.deepcache.plan).toEqual({ plan: 'FssFssFssF', full: 4, shallow: 6 });
    expect(b.modes['tgate+deepcache'].plan).toEqual({ plan: 'FssFFssFss', full: 4, shallow: 6 });
    // The shallow steps are a fraction of a full one: every DeepCache plan bounds above 1.
    for (const m of ['deepcache', 'tgate+deepcache']) {
      expect(b.modes[m].macBound.linear).toBeGreaterThan(1);
      expect(b.modes[m].boundSpeedup).toBeGreaterThan(1);
    }
    expect(b.modes['tgate+deepcache'].macBound.linear).toBeGreaterThan(b.modes.v1.macBound.linear);
    expect(Object.keys(b.msPerStep)).toEqual(expect.arrayContaining(['shallow @2', 'shallow-fidelity @1']));
    // v2's own self-attention options stay v2's: the DeepCache rows run without reuse.
    expect(
      tgate(['bench', dir, '--deepcache', '3', '--sp-interval', '2', '--steps', '6', '--gate-step', '3', '--runs', '1', '--no-memory', ...SIZE]).status,
    ).toBe(0);
  }, 600_000);

  it('bench with the quadratic schedule benches DeepCache alone: TGATE + DeepCache is uniform-only, as the official code', () => {
    const r = tgate([
      'bench',
      dir,
      '--deepcache',
      '3',
      '--deepcache-schedule',
      'quadratic',
      '--deepcache-center',
      '5',
      '--steps',
      '10',
      '--runs',
      '1',
      '--no-memory',
    ]);
    expect(r.status).toBe(0);
    const header = r.stdout.split('\n').find((l) => /^\s*baseline\b/.test(l))!;
    expect(header.trim().split(/\s{2,}/)).toContain('deepcache');
    expect(header).not.toContain('tgate+deepcache');
    expect(r.stdout).toMatch(/\ndeepcache plan F[Fs]{9} \(\d+ full, \d+ shallow\)\n/);
    expect(r.stdout).not.toMatch(/tgate\+deepcache plan/);
    expect(r.stdout).toMatch(/DeepCache N 3 \(branch 0, quadratic center 5\) \(no self-attention reuse\)/);
    expect(r.stdout).toMatch(/TGATE \+ DeepCache not benched: it is uniform-only, as the official code/);
  }, 600_000);

  it.each([
    [['--deepcache', '0'], /--deepcache must be a whole number from 1 to 10000 \(the full-step interval; 1 = DeepCache off/],
    [['--deepcache', '2.5'], /--deepcache must be a whole number/],
    [['--deepcache', '3', '--deepcache-branch', '2'], /This folder was compiled for DeepCache branch 0, not 2[\s\S]*--deepcache-branch 0/],
    [
      ['--deepcache', '3', '--sp-interval', '5'],
      /--sp-interval 5 conflicts with --deepcache 3: .*no self-attention reuse \(sp_interval 1, warm_up 0, fi_interval 1\)/,
    ],
    [['--deepcache', '3', '--warm-up', '2', '--fi-interval', '2'], /--warm-up 2, --fi-interval 2 conflicts with --deepcache 3/],
    [
      ['--deepcache', '3', '--deepcache-schedule', 'nonuniform'],
      /option '--deepcache-schedule <uniform\|quadratic>' argument 'nonuniform' is invalid\. Allowed choices are uniform, quadratic\.\n/,
    ],
    [['--deepcache', '3', '--deepcache-center', '4'], /A DeepCache center and pow apply only to the quadratic schedule/],
    [['--deepcache', '3', '--deepcache-schedule', 'quadratic', '--deepcache-pow', '1'], /--deepcache-pow must be a number > 1/],
    [['--deepcache-branch', '0'], /--deepcache-branch needs --deepcache N/],
    // No room: 5 full steps of 10 around step 5 have no pow > 1 in the official sample_from_quad_center.
    [
      ['--baseline', '--steps', '10', '--deepcache', '2', '--deepcache-schedule', 'quadratic', '--deepcache-center', '5'],
      /The quadratic DeepCache schedule has no solution for 10 steps, 5 full steps and center 5/,
    ],
    [
      ['--steps', '10', '--gate-step', '4', '--deepcache', '3', '--deepcache-schedule', 'quadratic', '--deepcache-center', '5'],
      /quadratic DeepCache schedule cannot be combined with a TGATE gate inside the run/,
    ],
  ])('run %j is a usage error (exit 2)', (args, message) => {
    const r = tgate(['run', dir, ...args, ...SIZE]);
    expect(r).toMatchObject({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/^tgate: error E_USAGE: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\n {2}what to do: /);
  });

  it('generate runs TGATE + DeepCache and DeepCache alone on a compiled pipeline (SD-XL structure)', () => {
    const pipe = path.join(work, 'sdxl');
    expect(tgate(['compile', path.join(ROOT, 'fixtures/pipelines/sdxl-tiny'), '-o', pipe, '--no-verify']).status).toBe(0);
    const gen = (...extra: string[]) => tgate(['generate', pipe, '--prompt', 'a red cube', '--steps', '10', '-o', path.join(work, 'cube.png'), ...extra]);
    const both = gen('--deepcache', '3', '--gate-step', '4');
    expect(both.status).toBe(0);
    expect(both.stdout).toMatch(
      /; DeepCache N 3 \(branch 0\) \+ TGATE v2, gate step 4: 4 evaluations before the gate, 6 after\)\n {2}plan FssFFssFss \(4 full, 6 shallow\)\n/,
    );
    const alone = gen('--baseline', '--deepcache', '3', '--json');
    expect(alone.status).toBe(0);
    // No "nothing was gated" warning: DeepCache alone has no gate on purpose.
    expect(alone.stderr).not.toMatch(/warning/);
    expect(JSON.parse(alone.stdout)).toMatchObject({ mode: 'deepcache', deepcache: { interval: 3, plan: 'FssFssFssF', full: 4, shallow: 6 } });
  });

  it('JSON errors too, and --help says what the official combination forces', () => {
    const r = tgate(['run', dir, '--deepcache', '3', '--sp-interval', '5', '--json', ...SIZE]);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/--sp-interval 5 conflicts with --deepcache 3/) });
    for (const cmd of ['run', 'bench', 'generate']) {
      const help = tgate([cmd, '--help']).stdout.replace(/\s+/g, ' ');
      expect(help).toMatch(
        /--deepcache <N> DeepCache: .*official TGATE \+ DeepCache combination, which forces no self-attention reuse \(sp_interval 1, warm_up 0, fi_interval 1/,
      );
      expect(help).toMatch(/--deepcache-schedule <uniform\|quadratic>/);
      expect(help).toMatch(/--deepcache-pow <P> .*\(default: 1\.4\)/);
    }
    expect(tgate(['run', '--help']).stdout.replace(/\s+/g, ' ')).toMatch(/--baseline no TGATE: .*\(with --deepcache N: DeepCache alone\)/);
    expect(tgate(['compile', '--help']).stdout).toMatch(/--no-deepcache/);
  });
});
