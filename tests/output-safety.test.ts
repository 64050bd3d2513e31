// Nothing lost (issue 12, items 1, 3 and 5): compile never writes through a link to a source file
// (no source file may take an output's name), --force and demo -o replace only what tgate wrote,
// interrupted runs (SIGINT, SIGTERM) leave nothing behind and exit 128 + n, a SIGKILL's leftovers
// carry the pid and go with the next run to the same path, a second compile into a folder being
// written is refused, bench/calibrate leave no temporary folders, and file outputs are replaced
// atomically (never written through a symlink). Real files and child processes throughout.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compile, GATED_SETS, REPORT_FILES } from '../build/compile.js';
import { MANIFEST_NAME } from '../build/manifest.js';
import { writeCompileReport } from '../cli/compile-report.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { writeTinyUnet, writeWithExternalData } from './helpers/models.js';
import { CLI, ROOT, scratch, sha256 } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SELF_ONLY = path.join(ROOT, 'fixtures/models/tiny-unet-self-only.onnx');
/** Every name compile writes into an output folder (beside the weights file of embedded sources). */
const OUTPUT_NAMES = [
  'planning.onnx',
  'reuse-self.onnx',
  'fidelity.onnx',
  'fidelity-reuse-self.onnx',
  ...GATED_SETS.map((g) => g.file),
  MANIFEST_NAME,
  ...REPORT_FILES,
];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tgate(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function start(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

/** Polls until `test` holds (every 10 ms, at most `ms`); fails at once if the child has ended. */
async function until(test: () => boolean, what: string, run: ReturnType<typeof start>, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  let ended: string | null = null;
  void run.done.then((r) => (ended = `exit ${r.code ?? r.signal}: ${r.stderr}`));
  while (!test()) {
    if (ended !== null) throw new Error(`the child ended before ${what}: ${ended}`);
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const listing = (dir: string) => fs.readdirSync(dir).sort();
const staged = (dir: string, name: string) => listing(dir).filter((n) => n.startsWith(`.${name}.tmp-`));

/** A pid that no process has (a child that has exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

describe('compile never writes through a link to a source file', () => {
  it.each(OUTPUT_NAMES)('external data named %s is refused (E_EXTERNAL_DATA_UNSAFE), the data untouched, nothing written', async (name) => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), name);
    const data = path.join(work, 'src', name);
    const before = sha256(fs.readFileSync(data));
    await expect(compile(src, { outDir: path.join(work, 'out'), prover: null, report: writeCompileReport })).rejects.toMatchObject({
      code: 'E_EXTERNAL_DATA_UNSAFE',
      message: expect.stringMatching(new RegExp(`takes the place of ${name.replace('.', '\\.')}, which tgate writes`)),
    });
    expect(sha256(fs.readFileSync(data))).toBe(before);
    expect(listing(work)).toEqual(['src']);
  });

  it('the same for a differently cased name, a ./ prefix, and a folder of per-tensor files named like an output', async () => {
    for (const [location, opts] of [
      ['Planning.onnx', {}],
      ['./gated.onnx', {}],
      ['tgate.json', { perTensor: true }],
    ] as const) {
      const work = scratch();
      const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), location, opts);
      const digests = () =>
        Object.fromEntries(
          fs
            .readdirSync(path.join(work, 'src'), { recursive: true })
            .map(String)
            .filter((f) => fs.statSync(path.join(work, 'src', f)).isFile())
            .map((f) => [f, sha256(fs.readFileSync(path.join(work, 'src', f)))]),
        );
      const before = digests();
      await expect(compile(src, { outDir: path.join(work, 'out'), prover: null })).rejects.toMatchObject({ code: 'E_EXTERNAL_DATA_UNSAFE' });
      expect(digests()).toEqual(before);
      expect(listing(work)).toEqual(['src']);
    }
  });

  it('a data file with any other name is linked, never written: the output is a valid compile and the source bytes stay', async () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'weights.onnx_data');
    const before = sha256(fs.readFileSync(path.join(work, 'src/weights.onnx_data')));
    await compile(src, { outDir: path.join(work, 'out'), prover: null, report: writeCompileReport });
    expect(sha256(fs.readFileSync(path.join(work, 'src/weights.onnx_data')))).toBe(before);
    expect(fs.statSync(path.join(work, 'out/weights.onnx_data')).ino).toBe(fs.statSync(path.join(work, 'src/weights.onnx_data')).ino);
    expect(listing(work)).toEqual(['out', 'src']);
  });

  it('a pipeline whose files take output places (a data file in unet/, a component folder named report.md) is refused', async () => {
    const work = scratch();
    const pipe = path.join(work, 'pipe');
    writeWithExternalData(path.join(pipe, 'unet'), tinyUnetSpec(), 'gated.onnx');
    fs.writeFileSync(
      path.join(pipe, 'model_index.json'),
      JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'] }),
    );
    const before = sha256(fs.readFileSync(path.join(pipe, 'unet/gated.onnx')));
    await expect(compile(pipe, { outDir: path.join(work, 'a'), prover: null })).rejects.toMatchObject({
      code: 'E_BAD_PIPELINE',
      message: expect.stringMatching(/unet\/gated\.onnx takes the place of unet\/gated\.onnx/),
    });
    expect(sha256(fs.readFileSync(path.join(pipe, 'unet/gated.onnx')))).toBe(before);

    const pipe2 = path.join(work, 'pipe2');
    writeWithExternalData(path.join(pipe2, 'unet'), tinyUnetSpec(), 'model.onnx_data');
    fs.mkdirSync(path.join(pipe2, 'report.md'));
    fs.writeFileSync(path.join(pipe2, 'report.md/notes.txt'), 'mine');
    fs.writeFileSync(
      path.join(pipe2, 'model_index.json'),
      JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], 'report.md': ['x', 'Notes'] }),
    );
    await expect(compile(pipe2, { outDir: path.join(work, 'b'), prover: null, report: writeCompileReport })).rejects.toMatchObject({
      code: 'E_BAD_PIPELINE',
      message: expect.stringMatching(/report\.md\/notes\.txt takes the place of report\.md/),
    });
    expect(fs.readFileSync(path.join(pipe2, 'report.md/notes.txt'), 'utf8')).toBe('mine');
    expect(listing(work)).toEqual(['pipe', 'pipe2']);
  });

  it('through the CLI: exit 3 with the reason', () => {
    const work = scratch();
    const src = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'tgate.json');
    const r = tgate(['compile', src, '-o', path.join(work, 'out'), '--no-verify']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_EXTERNAL_DATA_UNSAFE.*takes the place of tgate\.json/);
    expect(listing(work)).toEqual(['src']);
  });
});

describe('--force and demo -o replace only what tgate wrote', () => {
  const userFolder = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'thesis.tex'), 'years of work');
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data/results.csv'), '1,2,3');
    return dir;
  };
  const intact = (dir: string) => {
    expect(listing(dir)).toEqual(['data', 'thesis.tex']);
    expect(fs.readFileSync(path.join(dir, 'thesis.tex'), 'utf8')).toBe('years of work');
  };

  it('compile -o <a folder of user files> --force: exit 5, nothing touched', () => {
    const work = scratch();
    const mine = userFolder(path.join(work, 'mine'));
    const r = tgate(['compile', TINY, '-o', mine, '--force', '--no-verify']);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/E_OUTPUT_EXISTS.*not an earlier tgate output: it holds no tgate\.json.*never replaces it, even with --force/);
    intact(mine);
    expect(listing(work)).toEqual(['mine']);
  });

  it('compile -o . --force in a folder of user files (the source elsewhere): exit 5, nothing touched', () => {
    const mine = userFolder(path.join(scratch(), 'mine'));
    const r = tgate(['compile', TINY, '-o', '.', '--force', '--no-verify'], { cwd: mine });
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/E_OUTPUT_EXISTS.*the current folder/);
    intact(mine);
    expect(listing(path.dirname(mine))).toEqual(['mine']);
  });

  it('demo -o <a folder of user files>: exit 5, nothing touched; an earlier demo output is replaced', () => {
    const work = scratch();
    const mine = userFolder(path.join(work, 'mine'));
    const refused = tgate(['demo', '-o', mine, '--samples', '1', '--steps', '2']);
    expect(refused.status).toBe(5);
    expect(refused.stderr).toMatch(/E_OUTPUT_EXISTS.*not an earlier demo output: it holds data, thesis\.tex, which the demo does not write/);
    intact(mine);
    // An earlier demo output: nothing but the demo's files and compiled/ with a tgate manifest.
    const earlier = path.join(work, 'demo');
    fs.mkdirSync(path.join(earlier, 'compiled'), { recursive: true });
    fs.writeFileSync(path.join(earlier, 'compiled/tgate.json'), JSON.stringify({ format: 'tgate/3' }));
    fs.writeFileSync(path.join(earlier, 'report.md'), 'old');
    const again = tgate(['demo', '-o', earlier, '--samples', '1', '--steps', '2', '--gate-step', '1', '--prompt', 'a red circle on the left']);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/holds an earlier demo output; it is replaced/);
    expect(listing(earlier)).toEqual(['compiled', 'convergence.svg', 'grid.png', 'report.html', 'report.md']);
    expect(fs.readFileSync(path.join(earlier, 'report.md'), 'utf8')).toMatch(/^## tgate demo/);
    expect(listing(work)).toEqual(['demo', 'mine']);
  });
});

describe('interrupted and concurrent compiles', () => {
  // A model whose compile takes a few seconds after the staging folder appears (the proof).
  let model: string;
  let slower: string;
  beforeAll(() => {
    model = writeTinyUnet(path.join(scratch(), 'slow'), { blocks: 8 });
    slower = writeTinyUnet(path.join(scratch(), 'slower'), { blocks: 20 });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s after the staging folder appears: it is removed, exit %d', async (signal, code) => {
    const work = scratch();
    const run = start(['compile', model, '-o', path.join(work, 'out')]);
    await until(() => staged(work, 'out').length > 0, 'the staging folder', run);
    run.child.kill(signal);
    const r = await run.done;
    expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
    expect(r.stderr).toMatch(new RegExp(`interrupted \\(${signal}\\)`));
    expect(listing(work)).toEqual([]);
  });

  it('SIGKILL leaves a staging folder and a lock named with the pid; the next compile to that path removes them', async () => {
    const work = scratch();
    const out = path.join(work, 'out');
    const run = start(['compile', model, '-o', out]);
    await until(() => staged(work, 'out').length > 0, 'the staging folder', run);
    run.child.kill('SIGKILL');
    const r = await run.done;
    expect(r.signal).toBe('SIGKILL');
    const left = listing(work);
    expect(left).toEqual(['.out.lock', expect.stringMatching(new RegExp(`^\\.out\\.tmp-${run.child.pid}-[A-Za-z0-9]{6}$`))]);
    expect(fs.readFileSync(path.join(work, '.out.lock'), 'utf8').trim()).toBe(String(run.child.pid));
    const next = tgate(['compile', TINY, '-o', out, '--no-verify']);
    expect(next.status).toBe(0);
    expect(listing(work)).toEqual(['out']);
  });

  it('a second compile into the folder being written is refused (exit 5, E_OUTPUT_LOCKED), with or without --force; the first completes', async () => {
    const work = scratch();
    const out = path.join(work, 'out');
    const first = start(['compile', slower, '-o', out]);
    await until(() => staged(work, 'out').length > 0, 'the staging folder', first);
    // Both at once, while the first is still proving its artifacts.
    const seconds = await Promise.all([[], ['--force']].map((extra) => start(['compile', TINY, '-o', out, '--no-verify', ...extra]).done));
    for (const second of seconds) {
      expect(second.code).toBe(5);
      expect(second.stderr).toMatch(
        new RegExp(`E_OUTPUT_LOCKED: ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is being written by another tgate run \\(pid ${first.child.pid}\\)`),
      );
      expect(second.stderr).toMatch(/what to do: Wait for that run to finish/);
    }
    const r = await first.done;
    expect(r.code).toBe(0);
    expect(listing(work)).toEqual(['out']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'tgate.json'), 'utf8')).verification.skipped).toBe(false);
  });
});

describe('bench and calibrate leave no temporary folders; file outputs are replaced atomically', () => {
  const withTmp = () => {
    const tmp = scratch();
    return { tmp, env: { ...process.env, TMPDIR: tmp } };
  };
  const ours = (tmp: string) => listing(tmp).filter((n) => n.startsWith('tgate-'));

  it("bench: after success and after a failed compile; a killed run's folder is removed by the next", () => {
    const { tmp, env } = withTmp();
    const stale = path.join(tmp, `tgate-bench-${deadPid()}-AbC123`);
    fs.mkdirSync(path.join(stale, 'compiled'), { recursive: true });
    const ok = tgate(
      ['bench', TINY, '--steps', '2', '--gate-step', '1', '--runs', '1', '--no-memory', '--no-verify', '--height', '64', '--width', '64', '--json'],
      { env },
    );
    expect(ok.status).toBe(0);
    expect(ours(tmp)).toEqual([]);
    const failed = tgate(['bench', SELF_ONLY, '--steps', '2', '--runs', '1', '--no-memory'], { env });
    expect(failed.status).toBe(4);
    expect(ours(tmp)).toEqual([]);
  });

  it('calibrate: after a failed compile, and on SIGTERM mid-run (exit 143)', async () => {
    const { tmp, env } = withTmp();
    const failed = tgate(['calibrate', SELF_ONLY, '--steps', '3', '--samples', '1'], { env });
    expect(failed.status).toBe(4);
    expect(ours(tmp)).toEqual([]);
    const run = start(['calibrate', TINY, '--steps', '60', '--samples', '2'], env);
    await until(() => ours(tmp).some((n) => fs.existsSync(path.join(tmp, n, 'compiled', 'tgate.json'))), 'the temporary compile', run);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(143);
    expect(ours(tmp)).toEqual([]);
  });

  it("diff -o onto a folder: exit 5 and no temporary file; a dead run's temporary file is removed by the next write", () => {
    const work = scratch();
    fs.mkdirSync(path.join(work, 'report'));
    const r = tgate(['diff', TINY, SELF_ONLY, '-o', path.join(work, 'report')]);
    expect(r.status).toBe(5);
    expect(listing(work)).toEqual(['report']);
    const leftover = `.d.txt.tmp-${deadPid()}-0a1b2c`;
    fs.writeFileSync(path.join(work, leftover), 'half');
    expect(tgate(['diff', TINY, SELF_ONLY, '-o', path.join(work, 'd.txt')]).status).toBe(0);
    expect(listing(work)).toEqual(['d.txt', 'report']);
  });

  it('an output path that cannot be written (under /proc): exit 5 E_OUTPUT_UNWRITABLE, never an internal error', () => {
    if (!fs.existsSync('/proc/self')) return console.log('SKIPPED: no /proc on this system');
    const diff = tgate(['diff', TINY, SELF_ONLY, '-o', '/proc/tgate-diff.txt']);
    expect(diff.status).toBe(5);
    expect(diff.stderr).toMatch(/E_OUTPUT_UNWRITABLE: Cannot write \/proc\/tgate-diff\.txt/);
    const compiled = tgate(['compile', TINY, '-o', '/proc/tgate-out', '--no-verify']);
    expect(compiled.status).toBe(5);
    expect(compiled.stderr).toMatch(/E_OUTPUT_UNWRITABLE: Cannot write \/proc\/tgate-out/);
    // A missing folder under /proc: Node's recursive mkdir never returns there (found by the fuzz
    // test); the spawnSync timeout turns a regression into a failure rather than a hang.
    for (const args of [
      ['compile', TINY, '-o', '/proc/tgate-nonexistent/x', '--no-verify'],
      ['diff', TINY, SELF_ONLY, '-o', '/proc/tgate-nonexistent/d.txt'],
    ]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(5);
      expect(r.stderr).toMatch(/E_OUTPUT_UNWRITABLE/);
    }
  });

  it('run -o and diff -o at a symlink replace the link, never the file it points to', async () => {
    const work = scratch();
    const dir = path.join(work, 'c');
    await compile(TINY, { outDir: dir, prover: null });
    const precious = path.join(work, 'precious.bin');
    fs.writeFileSync(precious, 'keep me');
    for (const [args, file] of [
      [['run', dir, '--steps', '2', '--height', '64', '--width', '64'], 'out.npy'],
      [['diff', TINY, SELF_ONLY], 'out.txt'],
    ] as const) {
      const link = path.join(work, file);
      fs.symlinkSync(precious, link);
      const r = tgate([...args, '-o', link]);
      expect(r.status).toBe(0);
      expect(fs.readFileSync(precious, 'utf8')).toBe('keep me');
      expect(fs.lstatSync(link).isFile()).toBe(true);
    }
    expect(listing(work)).toEqual(['c', 'out.npy', 'out.txt', 'precious.bin']);
  });
});
