// tgate-onnx as a user gets it from npm: `npm pack` ships the built library and CLI (not the
// tests, fixtures or benchmark code), the tarball installs into a fresh project without network,
// its `tgate` bin runs, and a TypeScript consumer type-checks against the shipped .d.ts files
// (NodeNext, strict), then compiles the shared SD-1.x pipeline fixture, draws one image and
// writes it as a PNG. Builds nothing itself: it packs the dist/ that `npm run build` wrote.
//
// Installing without network: a plain `npm install --offline <tarball>` fails here (ENOTCACHED):
// npm 11 resolves a new dependency from the registry's *full* document, and `npm ci` only cached
// the abbreviated documents and the tarballs. So the dependencies are linked from the repo's own
// node_modules and npm installs just the tarball (`--offline --no-package-lock`), in ~3 s.
// TGATE_PACKAGE_INSTALL=ci installs a full copy instead, as a user's install would be: a
// lockfile of the tarball plus the repo-locked dependencies, `npm ci --offline` from the npm
// cache (~10-25 s here: onnxruntime-node unpacks ~290 MB of binaries).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { pipelineAvailable, pipelineFolder } from './helpers/pipeline-fixture.js';
import { ROOT, scratch } from './helpers/paths.js';

interface PackResult {
  name: string;
  version: string;
  filename: string;
  size: number;
  unpackedSize: number;
  integrity: string;
  files: { path: string; size: number }[];
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const repoPackage = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
};
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

/** Runs a command with npm's lifecycle variables removed (`npm test` sets them; they must not leak into the consumer's npm). */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...clean, npm_config_update_notifier: 'false', ...env } });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

/** The repo's locked entries for the package's dependencies and theirs, found as Node would (nested first, then up). */
function lockedDependencies(): Record<string, LockEntry> {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const find = (from: string, name: string): string | null => {
    for (let dir = from; ;) {
      const p = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (lock.packages[p]) return p;
      if (!dir) return null;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
  };
  const visit = (from: string, deps: Record<string, string>, optional: Record<string, string>) => {
    for (const name of Object.keys({ ...deps, ...optional })) {
      const p = find(from, name);
      if (!p) {
        if (name in optional) continue;
        throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || 'tgate-onnx'}): run npm install`);
      }
      if (out[p]) continue;
      const { dev: _dev, devOptional: _devOptional, ...entry } = lock.packages[p]!;
      out[p] = entry;
      visit(p, entry.dependencies ?? {}, entry.optionalDependencies ?? {});
    }
  };
  visit('', repoPackage.dependencies, {});
  return out;
}

// What a user writes (and what the README's library example shows): compile, load, draw, save.
// `@ts-expect-error` lines prove the types are real (an `any` would make them unused errors).
const CONSUMER = `import fs from 'node:fs';
import path from 'node:path';
import { compile, GatedPipeline, GatedUNet, TgateError, encodePng, type PipelineGenerateOptions } from 'tgate-onnx';

type Result = Awaited<ReturnType<GatedPipeline['generate']>>;

const source = process.env.TGATE_PIPELINE;
const out = process.env.TGATE_OUT;
if (!source || !out) throw new Error('set TGATE_PIPELINE (a diffusers/optimum ONNX pipeline folder) and TGATE_OUT');

// A missing model is a TgateError with a stable code, the same class the package exports.
let missing = '';
try {
  await compile(path.join(out, 'no-such-model.onnx'), { outDir: path.join(out, 'never') });
} catch (e) {
  if (!(e instanceof TgateError)) throw e;
  missing = e.code;
}

const compiled = path.join(out, 'compiled');
// verify: false skips proving the artifacts in onnxruntime (the compile tests cover the proof).
const result = await compile(source, { outDir: compiled, force: true, verify: false });
const pipe = await GatedPipeline.load(compiled);
try {
  if (!(pipe.unet instanceof GatedUNet)) throw new Error('the pipeline UNet is not the exported GatedUNet');
  const request: PipelineGenerateOptions = { prompt: 'a red cube on a table', seed: 42, steps: 4, gateStep: 2, height: 64, width: 64 };
  const r: Result = await pipe.generate(request);
  const image = r.images[0];
  if (!image) throw new Error('no image');
  const png = path.join(out, 'image.png');
  fs.writeFileSync(png, encodePng(image));
  const summary: { missing: string; compiledTo: string; png: string; mode: Result['mode']; size: [number, number]; latents: number[]; totalMs: number } = {
    missing,
    compiledTo: result.outDir,
    png,
    mode: r.mode,
    size: [image.width, image.height],
    latents: r.latents.dims,
    totalMs: r.timings.totalMs,
  };
  console.log(JSON.stringify(summary));
} finally {
  await pipe.release();
}

export function neverCalled(p: GatedPipeline): void {
  // @ts-expect-error: a prompt is text
  void p.generate({ prompt: 42 });
  // @ts-expect-error: compile needs an output folder
  void compile('model.onnx', {});
  // @ts-expect-error: an RgbImage has width, height and data
  encodePng({ width: 1 });
}
`;

/** The README's \`\`\`ts blocks, type-checked with the consumer so the library example stays true. */
function readmeExamples(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/```(?:ts|typescript)\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('the npm package', () => {
  let work: string;
  let pack: PackResult;
  let tarball: string;
  let consumer: string;
  let installed = false;

  beforeAll(() => {
    work = scratch('tgate-package-');
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('npm pack ships the library, the CLI and their types, not the tests, fixtures or benchmarks', () => {
    const started = performance.now();
    const stdout = ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT), 'npm pack');
    pack = (JSON.parse(stdout) as PackResult[])[0]!;
    tarball = path.join(work, pack.filename);
    expect(fs.existsSync(tarball)).toBe(true);
    const files = pack.files.map((f) => f.path);
    const has = new Set(files);
    console.log(
      `npm pack: ${pack.filename}, ${(pack.size / 1024).toFixed(1)} kB packed, ${(pack.unpackedSize / 1024).toFixed(1)} kB unpacked, ${files.length} files ` +
        `(${files.filter((f) => f.endsWith('.js')).length} .js, ${files.filter((f) => f.endsWith('.d.ts')).length} .d.ts) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/cli/main.d.ts'])
      expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('dist/tests/') || f.startsWith('tests/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('fixtures/') || f.includes('/fixtures/'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('.ci/') || f.startsWith('node_modules/') || /bench-compile|generate-fixtures|report-rss/.test(f))).toEqual([]);
    // Every shipped module has its types, every relative import in the shipped code resolves to a
    // shipped file (nothing the library or the CLI loads was left out) and every bare one is
    // Node's or a dependency's.
    const missing: string[] = [];
    for (const f of files.filter((x) => x.endsWith('.js'))) if (!has.has(f.replace(/\.js$/, '.d.ts'))) missing.push(`${f}: no .d.ts`);
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked);
    ok(run('tar', ['-xzf', tarball, '-C', unpacked], work), 'tar');
    for (const f of files.filter((x) => x.endsWith('.js') || x.endsWith('.d.ts'))) {
      const text = fs.readFileSync(path.join(unpacked, 'package', f), 'utf8');
      for (const m of text.matchAll(
        /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm,
      )) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (!spec.startsWith('.')) {
          // A bare import must be Node's or a runtime dependency (not a devDependency).
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!spec.startsWith('node:') && !(pkg in repoPackage.dependencies)) missing.push(`${f} imports ${spec}, not a dependency`);
          continue;
        }
        const target = path.posix.join(path.posix.dirname(f), spec);
        const want = f.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target;
        if (!has.has(want)) missing.push(`${f} imports ${want}`);
      }
    }
    expect(missing).toEqual([]);
    const shipped = JSON.parse(fs.readFileSync(path.join(unpacked, 'package/package.json'), 'utf8')) as Record<string, unknown>;
    expect(shipped).toMatchObject({
      name: 'tgate-onnx',
      license: 'MIT',
      type: 'module',
      main: './dist/index.js',
      types: './dist/index.d.ts',
      bin: { tgate: 'dist/cli/main.js' },
    });
    expect(shipped.exports).toMatchObject({ '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' });
    expect(fs.readFileSync(path.join(unpacked, 'package/LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*Copyright \(c\) 2026 the tgate-onnx authors/);
    fs.rmSync(unpacked, { recursive: true, force: true });
  });

  test('the tarball installs into a fresh project without network', () => {
    expect(pack).toBeDefined();
    const started = performance.now();
    consumer = path.join(work, 'consumer');
    fs.mkdirSync(consumer);
    const writePackage = (dependencies: Record<string, string>) =>
      fs.writeFileSync(
        path.join(consumer, 'package.json'),
        JSON.stringify(
          { name: 'tgate-consumer', version: '1.0.0', private: true, type: 'module', dependencies, allowScripts: { 'onnxruntime-node': false } },
          null,
          2,
        ) + '\n',
      );
    const flags = ['--offline', '--no-audit', '--no-fund', '--ignore-scripts'];
    let how: string;
    let r: SpawnSyncReturns<string>;
    if (process.env.TGATE_PACKAGE_INSTALL === 'ci') {
      // A full copy like a user's install (~290 MB of onnxruntime-node binaries to unpack: slower).
      how = 'npm ci --offline from a lockfile of the tarball and the repo-locked dependencies (all copied from the npm cache)';
      const spec = `file:../${pack.filename}`;
      writePackage({ 'tgate-onnx': spec });
      const lock = {
        name: 'tgate-consumer',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'tgate-consumer', version: '1.0.0', dependencies: { 'tgate-onnx': spec } },
          'node_modules/tgate-onnx': {
            version: pack.version,
            resolved: spec,
            integrity: pack.integrity,
            license: repoPackage.license,
            dependencies: repoPackage.dependencies,
            bin: repoPackage.bin,
            engines: repoPackage.engines,
          },
          ...lockedDependencies(),
        },
      };
      fs.writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
      r = run('npm', ['ci', ...flags], consumer);
    } else {
      // npm unpacks the tarball, links its bin and checks that the linked dependencies satisfy
      // its ranges (one that did not would be fetched, which --offline refuses).
      how = "npm install --offline --no-package-lock <tarball>, its dependencies linked from the repo's node_modules";
      writePackage({});
      for (const name of Object.keys(repoPackage.dependencies)) {
        const link = path.join(consumer, 'node_modules', name);
        fs.mkdirSync(path.dirname(link), { recursive: true });
        fs.symlinkSync(path.join(ROOT, 'node_modules', name), link, 'dir');
      }
      r = run('npm', ['install', ...flags, '--no-package-lock', tarball], consumer);
    }
    if (r.status !== 0 && /ENOTCACHED/.test(r.stderr)) {
      throw new Error(`installing offline needs a package npm has not cached (npm ci fills the cache):\n${r.stderr}`);
    }
    ok(r, 'installing the tarball');
    const pkg = path.join(consumer, 'node_modules/tgate-onnx');
    expect(fs.lstatSync(pkg).isDirectory()).toBe(true); // a copy from the tarball, not a link to the repo
    expect(JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version).toBe(repoPackage.version);
    expect(fs.existsSync(path.join(pkg, 'dist/tests'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(consumer, 'package.json'), 'utf8')).dependencies['tgate-onnx']).toMatch(/^file:.*\.tgz$/);
    for (const dep of Object.keys(repoPackage.dependencies)) expect(fs.existsSync(path.join(consumer, 'node_modules', dep, 'package.json'))).toBe(true);
    console.log(`installed: ${how}, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    installed = true;
  });

  test('its tgate bin runs from the installed package', () => {
    expect(installed).toBe(true);
    const bin = path.join(consumer, 'node_modules/.bin/tgate');
    const version = run(bin, ['--version'], consumer);
    expect({ status: version.status, stdout: version.stdout.trim(), stderr: version.stderr }).toEqual({ status: 0, stdout: repoPackage.version, stderr: '' });
    const help = run(bin, ['help'], consumer);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/tgate compile/);
    // The demo model (fixtures/models/shapes) is not shipped: `tgate demo` must fail cleanly
    // (a TgateError with its exit code, not an internal error) or, if it ever ships, succeed.
    const demo = run(bin, ['demo', '-o', path.join(work, 'demo'), '--samples', '1', '--steps', '2'], consumer);
    console.log(`tgate demo from the installed package: exit ${demo.status}${demo.status === 0 ? '' : `: ${demo.stderr.trim().split('\n').join(' / ')}`}`);
    expect(demo.stderr).not.toMatch(/internal error|ERR_MODULE_NOT_FOUND/);
    expect([0, 3]).toContain(demo.status);
  });

  // One tsc run type-checks and emits build/*.js for the next test (type errors do not stop the emit).
  test('a strict NodeNext TypeScript consumer type-checks against the shipped types', () => {
    expect(installed).toBe(true);
    const started = performance.now();
    fs.writeFileSync(path.join(consumer, 'consumer.ts'), CONSUMER);
    const examples = readmeExamples().map((code, i) => {
      const file = `readme-example-${i + 1}.ts`;
      fs.writeFileSync(path.join(consumer, file), code);
      return file;
    });
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022'],
        strict: true,
        // The shipped .d.ts files are checked too: a broken declaration fails here.
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules/@types')],
        outDir: 'build',
        rootDir: '.',
        noEmitOnError: false,
      },
      files: ['consumer.ts', ...examples],
    };
    fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2) + '\n');
    const r = run(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer);
    if (r.error) throw r.error;
    // onnxruntime-common's typings name browser types (ImageData, WebGLTexture, ...) that a Node
    // project without lib "DOM" lacks: its own errors are tolerated (skipLibCheck hides them in a
    // usual project); any other error, in the consumer or in tgate-onnx's .d.ts, fails.
    const errors = r.stdout.split('\n').filter((l) => /\berror TS\d+/.test(l));
    const upstream = errors.filter((l) => /(^|\/)node_modules\/onnxruntime-common\//.test(l));
    expect(errors.filter((l) => !upstream.includes(l))).toEqual([]);
    expect(r.status === 0 || upstream.length > 0).toBe(true);
    console.log(
      `consumer type-checks (strict, NodeNext, skipLibCheck false; ${examples.length} README example${examples.length === 1 ? '' : 's'} with it; ` +
        `${upstream.length} onnxruntime-common browser-type errors ignored) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  const withPipeline = pipelineAvailable('the packaged library on the SD-1.x pipeline fixture');
  (withPipeline ? test : test.skip)('the consumer compiles a pipeline folder, draws an image and writes a PNG', () => {
    expect(installed).toBe(true);
    const started = performance.now();
    expect(fs.existsSync(path.join(consumer, 'build/consumer.js'))).toBe(true);
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    const r = ok(
      run(process.execPath, [path.join(consumer, 'build/consumer.js')], consumer, { TGATE_PIPELINE: pipelineFolder(), TGATE_OUT: out }),
      'node build/consumer.js',
    );
    const summary = JSON.parse(r.trim().split('\n').pop()!) as {
      missing: string;
      compiledTo: string;
      png: string;
      mode: string;
      size: [number, number];
      latents: number[];
      totalMs: number;
    };
    expect(summary.missing).toBe('E_FILE_MISSING');
    expect(summary.mode).toBe('tgate');
    expect(summary.size).toEqual([64, 64]);
    expect(fs.existsSync(path.join(summary.compiledTo, 'tgate.json'))).toBe(true);
    const png = PNG.sync.read(fs.readFileSync(summary.png));
    expect([png.width, png.height]).toEqual([64, 64]);
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) colours.add((png.data[i]! << 16) | (png.data[i + 1]! << 8) | png.data[i + 2]!);
    expect(colours.size).toBeGreaterThan(1);
    console.log(
      `consumer: compiled, generated 64x64 in 4 steps (latents ${summary.latents.join('x')}, ${colours.size} colours, generate ${summary.totalMs.toFixed(0)} ms); whole run ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});
