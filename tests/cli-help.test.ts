// The CLI as its users meet it: per-command help that lists exactly the options the README
// documents for the command (each with a line and examples), "did you mean" for a typo, exit 2
// for usage errors, -V/--version, -q/--quiet and -v/--verbose before or after the command, and
// one size convention (image pixels, over the model's own latent factor).
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SHAPES = path.join(ROOT, 'fixtures/models/shapes');
const SDXL = path.join(ROOT, 'fixtures/pipelines/sdxl-tiny');
const COMMANDS = ['compile', 'inspect', 'diff', 'export', 'run', 'generate', 'bench', 'demo', 'calibrate'];
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The README's reference of one command: its `### tgate <name> ...` heading and option tables. */
function readmeOptions(name: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`\n### \`tgate ${name} `);
  expect(start).toBeGreaterThan(0);
  const rest = text.slice(start + 1);
  const end = rest.slice(4).search(/\n##+ /);
  const lines = rest.slice(0, end < 0 ? undefined : end + 4).split('\n');
  // The heading, and the first cell of each table row (the options column).
  const cells = [lines[0]!, ...lines.filter((l) => l.startsWith('| `')).map((l) => l.split(/(?<!\\)\|/)[1]!)];
  return optionNames(cells.join(' '));
}

/** The options `--help` lists for the command (not the global ones). */
function helpOptions(help: string): string[] {
  const own = help.slice(help.indexOf('\nOptions:'), help.indexOf('\nGlobal options'));
  return optionNames(
    own
      .split('\n')
      .filter((l) => /^ {2}-/.test(l))
      .map((l) => l.trim().split(/ {2,}/)[0]!)
      .join(' '),
  );
}

function optionNames(text: string): string[] {
  const names = new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
  if (/(?<![\w-])-o\b/.test(text)) names.add('output');
  return [...names].sort();
}

describe('tgate help', () => {
  it.each(COMMANDS)('%s: --help lists the options the README documents, with a line each, and examples', (name) => {
    const r = tgate([name, '--help']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(helpOptions(r.stdout)).toEqual(readmeOptions(name));
    expect(r.stdout).toMatch(new RegExp(`^Usage: tgate ${name} `));
    expect(r.stdout).toMatch(new RegExp(`\\nExamples:\\n  tgate ${name}`));
    // Every option has its description on its line.
    for (const line of r.stdout.split('\n').filter((l) => /^ {2}-/.test(l))) expect(line).toMatch(/^ {2}\S.*\S {2,}\S/);
    // `tgate help <command>` is the same text.
    expect(tgate(['help', name]).stdout).toBe(r.stdout);
  });

  it('the overview lists every command, the global options, the size convention and examples', () => {
    const r = tgate(['help']);
    expect(r.status).toBe(0);
    for (const name of COMMANDS) expect(r.stdout).toMatch(new RegExp(`\\n  tgate ${name} `));
    expect(r.stdout).toMatch(/-q, --quiet[\s\S]*-v, --verbose[\s\S]*-V, --version/);
    expect(r.stdout).toMatch(/--height and --width are image pixels for every command/);
    expect(r.stdout).toMatch(/Examples:\n {2}tgate demo/);
    expect(r.stdout).not.toMatch(/__memory-probe/);
    // No command: the overview on stderr, exit 2.
    expect(tgate([])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/Usage: tgate <command>/) });
  });

  it('an unknown option gets the closest one and exit 2, as text and as JSON', () => {
    const r = tgate(['run', 'nowhere', '--gate-stp', '3']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /E_USAGE: tgate run: unknown option '--gate-stp'[\s\S]*what to do: Did you mean --gate-step\? `tgate run --help` lists its options/,
    );
    const json = tgate(['compile', TINY, '--no-verfy', '--json']);
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'E_USAGE', hint: expect.stringMatching(/Did you mean --no-verify\?/) });
    expect(tgate(['compil', TINY])).toMatchObject({ status: 2, stderr: expect.stringMatching(/unknown command "compil"[\s\S]*Did you mean compile\?/) });
    expect(tgate(['help', 'frobnicate'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/unknown command "frobnicate"/) });
    expect(tgate(['inspect', TINY, '--shape'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/option '--shape <NAME=AxBxC>' argument missing/) });
  });

  it('-V and --version print the version, before or after the command; -v is --verbose', () => {
    for (const args of [['-V'], ['--version'], ['compile', '-V']]) expect(tgate(args)).toMatchObject({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(tgate(['-v']).stdout).toBe('');
  });

  it('-q silences notes and progress; -v adds phase timings and per-step lines in a pipe; before or after the command', async () => {
    const work = scratch();
    const quiet = tgate(['compile', TINY, '-o', path.join(work, 'a'), '--no-verify', '-q']);
    expect(quiet).toMatchObject({ status: 0, stderr: '' });
    const verbose = tgate(['-v', 'compile', TINY, '-o', path.join(work, 'b'), '--no-verify']);
    expect(verbose.status).toBe(0);
    expect(verbose.stderr).toMatch(
      /^tgate: compile: reading tiny-unet\.onnx took \d+\.\d\d s\n[\s\S]*compile: writing planning\.onnx took[\s\S]*tgate: compile took \d+\.\d\d s; peak RSS \d+ MiB\n$/,
    );
    const dir = path.join(work, 'a');
    const run = ['run', dir, '--steps', '3', '--gate-step', '2', '--height', '64', '--width', '64'];
    expect(tgate(run).stderr).toMatch(/^tgate: note: latents: seeded Gaussian noise \[1, 4, 8, 8\] \(seed 0; latent 8x8 for 64x64 px\)\n/);
    expect(tgate(['-q', ...run])).toMatchObject({ status: 0, stderr: '' });
    // An error is printed whatever the options.
    expect(tgate([...run, '--steps', 'x', '--quiet'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/E_USAGE: --steps must be/) });
  });

  it("--height/--width are image pixels over the model's own latent factor: 8 for a VAE or a UNet alone, 1 in pixel space", async () => {
    const size = (args: string[]) => {
      const r = tgate(['inspect', ...args, '--json']);
      if (r.status !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout).caches as { height: number; width: number; latent: number[] };
    };
    // A UNet alone with 4 channels: SD's 8. The demo model (3 channels, no VAE): pixel space.
    expect(size([TINY, '--height', '64', '--width', '32'])).toMatchObject({ height: 64, width: 32, latent: [8, 4] });
    expect(size([SHAPES, '--height', '32', '--width', '32'])).toMatchObject({ latent: [32, 32] });
    expect(size([path.join(SHAPES, 'unet/model.onnx'), '--height', '24', '--width', '24'])).toMatchObject({ latent: [24, 24] });
    // A pipeline's VAE (4 blocks: factor 8).
    expect(size([SDXL, '--height', '128', '--width', '64'])).toMatchObject({ latent: [16, 8] });
    expect(tgate(['inspect', TINY, '--height', '60'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--height must be a positive multiple of 8 \(image pixels; the latent factor is the Stable Diffusion VAE's/),
    });
    // run: a compiled pixel-space UNet takes its image size as its latent size.
    const dir = path.join(scratch(), 'shapes-unet');
    await compile(path.join(SHAPES, 'unet/model.onnx'), { outDir: dir, prover: null });
    const r = tgate(['run', dir, '--steps', '2', '--height', '32', '--width', '32', '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/latents: seeded Gaussian noise \[1, 3, 32, 32\] \(seed 0; latent 32x32 for 32x32 px\)/);
  });
});
