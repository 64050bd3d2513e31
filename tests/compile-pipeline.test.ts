// tgate compile <pipeline folder>: a diffusers/optimum ONNX pipeline compiled into a folder with
// the same layout (every source file hard-linked, never rewritten), the denoiser's artifacts in
// unet/, one tgate.json at the top whose names are relative to it; Hugging Face cache snapshots
// (files symlinked into blobs/) compile the same, and symlinks escaping the cache repository are
// refused. On pipelines built in code (always) and on the shared SD-1.x pipeline fixture.
import { jest } from '@jest/globals';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { compile, type CompileResult } from '../build/compile.js';
import type { Manifest } from '../build/manifest.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { proveArtifacts } from '../runtime/prove.js';
import { tgate } from './helpers/cli.js';
import { writeTinyUnet, writeWithExternalData } from './helpers/models.js';
import { folderDigest, ROOT, scratch, sha256 } from './helpers/paths.js';
import { pipelineAvailable, pipelineFolder } from './helpers/pipeline-fixture.js';

/** What a UNet compile writes; one with a DeepCache cut (a real SD export) adds DEEPCACHE_ARTIFACTS (the code-built tiny UNet has no up path). */
const ARTIFACTS = ['fidelity-reuse-self.onnx', 'fidelity.onnx', 'gated-v2-fi.onnx', 'gated-v2.onnx', 'gated.onnx', 'planning.onnx', 'reuse-self.onnx'];
const DEEPCACHE_ARTIFACTS = ['gated-deepcache.onnx', 'gated-tgate-deepcache.onnx', 'shallow-fidelity.onnx', 'shallow.onnx'];

/** Every file under a folder, relative, sorted; symlinks reported as such. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out.push(`${r} (symlink)`);
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** sha256 and mtime of every file, to prove the source untouched. */
function snapshotOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of listing(dir)) {
    const p = path.join(dir, f.replace(/ \(symlink\)$/, ''));
    out[f] = `${sha256(fs.readFileSync(p))} ${fs.statSync(p).mtimeMs}`;
  }
  return out;
}

/** Whether this process may hard-link the file there (another device, or protected_hardlinks on a file it does not own, forbid it). */
function canHardLink(file: string, into: string): boolean {
  const probe = path.join(into, `.link-probe-${process.pid}`);
  try {
    fs.linkSync(fs.realpathSync(file), probe);
    fs.rmSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** The same file, never a symlink: a hard link (same inode) wherever one is possible, else a copy. */
function expectSameFile(copy: string, source: string): void {
  const a = fs.lstatSync(copy);
  const b = fs.statSync(source);
  expect(a.isSymbolicLink()).toBe(false);
  if (a.dev === b.dev && a.ino === b.ino) return;
  expect(canHardLink(source, path.dirname(copy))).toBe(false);
  expect(sha256(fs.readFileSync(copy))).toBe(sha256(fs.readFileSync(source)));
}

/**
 * Lays a folder out as huggingface_hub's cache does: <root>/<repo>/blobs/<sha256> holds the
 * bytes, refs/main the revision, and snapshots/<revision>/ real folders whose files are relative
 * symlinks into ../../blobs. Returns the snapshot folder.
 */
function hfCache(
  from: string,
  root: string,
  repo = 'models--org--tiny-pipeline',
  revision = '3f1c0e5d9a7b2c4e6f8091a2b3c4d5e6f7a8b9c0',
  skip = ['ref'],
): string {
  const repoDir = path.join(root, repo);
  const snap = path.join(repoDir, 'snapshots', revision);
  fs.mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repoDir, 'refs/main'), revision);
  for (const rel of listing(from)) {
    if (skip.includes(rel.split('/')[0]!)) continue;
    const file = path.join(from, rel);
    const blob = path.join(repoDir, 'blobs', crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    if (!fs.existsSync(blob)) {
      try {
        fs.linkSync(file, blob);
      } catch {
        fs.copyFileSync(file, blob);
      }
    }
    const link = path.join(snap, rel);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  }
  return snap;
}

/** The manifest of a single-model compile that a pipeline's must equal, once its names are unprefixed. */
function unprefixed(m: Manifest, prefix: string): Manifest {
  const strip = (f: string) => {
    expect(f.startsWith(`${prefix}/`)).toBe(true);
    return f.slice(prefix.length + 1);
  };
  const { pipeline: _pipeline, ...rest } = m;
  return {
    ...rest,
    source: { ...m.source, file: strip(m.source.file) },
    variants: m.variants.map((v) => ({ ...v, file: strip(v.file) })),
    gated: m.gated.map((g) => ({ ...g, file: strip(g.file) })),
    weights: strip(m.weights),
    weightsFiles: m.weightsFiles.map(strip),
  };
}

async function refused(src: string, out: string, code: string, message: RegExp): Promise<void> {
  const parent = path.dirname(out);
  fs.mkdirSync(parent, { recursive: true });
  const before = fs.readdirSync(parent).sort();
  const sourceBefore = fs.existsSync(src) && fs.statSync(src).isDirectory() ? snapshotOf(src) : null;
  await expect(compile(src, { outDir: out, prover: null })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  expect(fs.readdirSync(parent).sort()).toEqual(before);
  if (sourceBefore) expect(snapshotOf(src)).toEqual(sourceBefore);
}

/** A small SD-style pipeline built in code: model_index.json, unet/ (the tiny UNet), text_encoder/, tokenizer/, scheduler/. */
function codePipeline(dir: string, opts: { external?: boolean } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'model_index.json'),
    JSON.stringify(
      {
        _class_name: 'StableDiffusionPipeline',
        _diffusers_version: '0.29.2',
        feature_extractor: [null, null],
        requires_safety_checker: false,
        safety_checker: [null, null],
        scheduler: ['diffusers', 'DDIMScheduler'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        unet: ['diffusers', 'UNet2DConditionModel'],
      },
      null,
      2,
    ),
  );
  if (opts.external) writeWithExternalData(path.join(dir, 'unet'), tinyUnetSpec(), 'model.onnx_data');
  else writeTinyUnet(path.join(dir, 'unet'));
  fs.writeFileSync(path.join(dir, 'unet/config.json'), '{"_class_name": "UNet2DConditionModel", "sample_size": 8}\n');
  fs.mkdirSync(path.join(dir, 'text_encoder'));
  fs.writeFileSync(path.join(dir, 'text_encoder/model.onnx'), 'a text encoder: never read by tgate compile\n'.repeat(100));
  fs.writeFileSync(path.join(dir, 'text_encoder/config.json'), '{"architectures": ["CLIPTextModel"]}\n');
  fs.mkdirSync(path.join(dir, 'tokenizer'));
  fs.writeFileSync(path.join(dir, 'tokenizer/vocab.json'), '{"a</w>": 0}\n');
  fs.mkdirSync(path.join(dir, 'scheduler'));
  fs.writeFileSync(path.join(dir, 'scheduler/scheduler_config.json'), '{"_class_name": "DDIMScheduler"}\n');
  // Not components: a README and a folder of references stay behind.
  fs.writeFileSync(path.join(dir, 'README.md'), '# a pipeline\n');
  fs.mkdirSync(path.join(dir, 'ref'));
  fs.writeFileSync(path.join(dir, 'ref/notes.txt'), 'references\n');
  return dir;
}

const CODE_COMPONENTS = {
  scheduler: { files: ['scheduler/scheduler_config.json'] },
  text_encoder: { files: ['text_encoder/config.json', 'text_encoder/model.onnx'] },
  tokenizer: { files: ['tokenizer/vocab.json'] },
};

describe('compile <pipeline folder> (a pipeline built in code)', () => {
  const work = scratch();
  const src = codePipeline(path.join(work, 'src'));
  const out = path.join(work, 'out');
  const single = path.join(work, 'single');
  let result: CompileResult;
  let before: Record<string, string>;
  beforeAll(async () => {
    before = snapshotOf(src);
    result = await compile(src, { outDir: out, prover: (r) => proveArtifacts(r) });
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('keeps the layout: model_index.json and every component linked, the artifacts in unet/, tgate.json on top', () => {
    expect(listing(out)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/config.json',
      'text_encoder/model.onnx',
      'tgate.json',
      'tokenizer/vocab.json',
      ...['config.json', ...ARTIFACTS, 'model.onnx', 'weights.onnx_data'].sort().map((f) => `unet/${f}`),
    ]);
    for (const f of ['model_index.json', 'unet/model.onnx', 'unet/config.json', ...Object.values(CODE_COMPONENTS).flatMap((c) => c.files)])
      expectSameFile(path.join(out, f), path.join(src, f));
    expect(snapshotOf(src)).toEqual(before);
    expect(fs.readdirSync(work).sort()).toEqual(['out', 'src']);
  });

  it('records the pipeline; every name is relative to the manifest folder; proven', () => {
    const m = result.manifest;
    expect(m.pipeline).toEqual({ className: 'StableDiffusionPipeline', denoiser: 'unet', components: CODE_COMPONENTS });
    expect(Object.keys(m).slice(0, 3)).toEqual(['format', 'source', 'pipeline']);
    expect(m.source.file).toBe('unet/model.onnx');
    expect(m.variants.map((v) => v.file)).toEqual(['unet/planning.onnx', 'unet/reuse-self.onnx', 'unet/fidelity.onnx', 'unet/fidelity-reuse-self.onnx']);
    expect(m.gated.map((g) => g.file)).toEqual(['unet/gated.onnx', 'unet/gated-v2.onnx', 'unet/gated-v2-fi.onnx']);
    expect(m.deepcache).toMatchObject({ missing: { code: 'NO_UP_PATH' } });
    expect([m.weights, m.weightsFiles]).toEqual(['unet/weights.onnx_data', ['unet/weights.onnx_data']]);
    for (const f of [
      m.source.file,
      m.weights,
      ...m.variants.map((v) => v.file),
      ...m.gated.map((g) => g.file),
      ...Object.values(m.pipeline!.components).flatMap((c) => c.files),
    ]) {
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    expect(m.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true, shapesConfirmed: true });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'tgate.json'), 'utf8'))).toEqual(m);
    expect(result.pipeline).toMatchObject({ files: 7, mode: 'linked' });
  });

  it('compiles the denoiser exactly as the single model: the same manifest (unprefixed) and the same graphs', async () => {
    const r = await compile(path.join(src, 'unet/model.onnx'), { outDir: single, prover: (q) => proveArtifacts(q) });
    expect(r.manifest.pipeline).toBeUndefined();
    expect('pipeline' in JSON.parse(fs.readFileSync(path.join(single, 'tgate.json'), 'utf8'))).toBe(false);
    expect(unprefixed(result.manifest, 'unet')).toEqual(r.manifest);
    for (const f of [...ARTIFACTS, 'weights.onnx_data'])
      expect(sha256(fs.readFileSync(path.join(out, 'unet', f)))).toBe(sha256(fs.readFileSync(path.join(single, f))));
  });

  it('the same input gives a byte-identical folder', async () => {
    const again = path.join(work, 'again');
    await compile(src, { outDir: again, prover: (r) => proveArtifacts(r) });
    expect(folderDigest(again)).toEqual(folderDigest(out));
    fs.rmSync(again, { recursive: true });
  });

  it('runs: GatedUNet.load on the pipeline output opens unet/ graphs', async () => {
    const unet = await GatedUNet.load(out, { variants: ['planning', 'fidelity'] });
    expect(unet.opened).toEqual(['planning', 'fidelity']);
    await unet.release();
  });
});

describe('compile <pipeline folder> with a transformer/ (PixArt-style DiT)', () => {
  it('compiles transformer/model.onnx; names are prefixed transformer/', async () => {
    const work = scratch();
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'transformer'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'fixtures/models/pixart-tiny.onnx'), path.join(src, 'transformer/model.onnx'));
    fs.writeFileSync(
      path.join(src, 'model_index.json'),
      JSON.stringify({
        _class_name: 'PixArtAlphaPipeline',
        transformer: ['diffusers', 'PixArtTransformer2DModel'],
        text_encoder: [null, null],
        vae: [null, null],
      }),
    );
    fs.mkdirSync(path.join(src, 'scheduler'));
    fs.writeFileSync(path.join(src, 'scheduler/scheduler_config.json'), '{}');
    const r = await compile(src, { outDir: path.join(work, 'out'), prover: (q) => proveArtifacts(q) });
    expect(r.manifest.pipeline).toEqual({
      className: 'PixArtAlphaPipeline',
      denoiser: 'transformer',
      components: { scheduler: { files: ['scheduler/scheduler_config.json'] } },
    });
    expect(r.manifest.family.name).toBe('pixart');
    expect([r.manifest.source.file, r.manifest.weights, r.manifest.variants[0]!.file]).toEqual([
      'transformer/model.onnx',
      'transformer/weights.onnx_data',
      'transformer/planning.onnx',
    ]);
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true });
    fs.rmSync(work, { recursive: true, force: true });
  });
});

describe('compile <pipeline folder> with external data', () => {
  it('links the UNet data file once, as the weights, and never reads it or any component', async () => {
    const work = scratch();
    const src = codePipeline(path.join(work, 'src'), { external: true });
    const out = path.join(work, 'out');
    const opened: string[] = [];
    const spies = (['readFileSync', 'openSync', 'createReadStream', 'copyFileSync', 'readSync'] as const).map((name) => {
      const original = fs[name] as (...a: unknown[]) => unknown;
      return jest.spyOn(fs, name as 'readFileSync').mockImplementation(((...args: unknown[]) => {
        if (typeof args[0] === 'string') opened.push(path.relative(src, path.resolve(args[0])));
        return original.apply(fs, args);
      }) as never);
    });
    let r: CompileResult;
    try {
      r = await compile(src, { outDir: out, prover: null });
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect([...new Set(opened.filter((f) => !f.startsWith('..')))].sort()).toEqual(['model_index.json', 'unet/model.onnx']);
    expect([r.manifest.weights, r.manifest.weightsFiles, r.weights.mode]).toEqual(['unet/model.onnx_data', ['unet/model.onnx_data'], 'linked']);
    expect(listing(path.join(out, 'unet'))).toEqual(['config.json', ...ARTIFACTS, 'model.onnx', 'model.onnx_data'].sort());
    expectSameFile(path.join(out, 'unet/model.onnx_data'), path.join(src, 'unet/model.onnx_data'));
    fs.rmSync(work, { recursive: true, force: true });
  });
});

describe('compile <Hugging Face cache snapshot>', () => {
  const work = scratch();
  const plain = codePipeline(path.join(work, 'src'), { external: true });
  const snap = hfCache(plain, path.join(work, 'hub'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('follows the blob symlinks: the same folder as from the plain copy, hard links to the blobs, no symlink', async () => {
    const a = await compile(plain, { outDir: path.join(work, 'a'), prover: null });
    const b = await compile(snap, { outDir: path.join(work, 'b'), prover: (r) => proveArtifacts(r) });
    expect(b.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true });
    expect(b.manifest.pipeline).toEqual(a.manifest.pipeline);
    const { verification: _v, ...rest } = b.manifest;
    expect(rest).toEqual((({ verification: _w, ...x }) => x)(a.manifest));
    expect(listing(path.join(work, 'b'))).toEqual(listing(path.join(work, 'a')));
    expect(listing(path.join(work, 'b')).some((f) => f.endsWith('(symlink)'))).toBe(false);
    for (const f of ['model_index.json', 'unet/model.onnx', 'unet/model.onnx_data', 'text_encoder/model.onnx']) {
      expect(fs.lstatSync(path.join(snap, f)).isSymbolicLink()).toBe(true);
      expectSameFile(path.join(work, 'b', f), fs.realpathSync(path.join(snap, f)));
    }
  });

  it('a single model inside a snapshot: its symlinked external data is accepted', async () => {
    const r = await compile(path.join(snap, 'unet/model.onnx'), { outDir: path.join(work, 'single'), prover: null });
    expect(r.weights.mode).toBe('linked');
    expect(fs.lstatSync(path.join(work, 'single/model.onnx_data')).isSymbolicLink()).toBe(false);
  });

  it('a symlink escaping the cache repository is refused, nothing written', async () => {
    const secret = path.join(work, 'secret.json');
    fs.writeFileSync(secret, '{"token": "not for the output"}\n');
    const evil = hfCache(plain, path.join(work, 'hub2'));
    fs.rmSync(path.join(evil, 'text_encoder/config.json'));
    fs.symlinkSync(path.relative(path.join(evil, 'text_encoder'), secret), path.join(evil, 'text_encoder/config.json'));
    await refused(
      evil,
      path.join(work, 'evil-out'),
      'E_UNSAFE_LINK',
      /text_encoder\/config\.json .*is a symlink to .*secret\.json: it leads to .*outside its Hugging Face cache repository/,
    );
    // The UNet's data file, compiled alone: the external-data check applies the same rule.
    const evilData = hfCache(plain, path.join(work, 'hub3'));
    fs.rmSync(path.join(evilData, 'unet/model.onnx_data'));
    fs.copyFileSync(path.join(plain, 'unet/model.onnx_data'), path.join(work, 'outside.bin'));
    fs.symlinkSync(path.join(work, 'outside.bin'), path.join(evilData, 'unet/model.onnx_data'));
    await refused(
      path.join(evilData, 'unet/model.onnx'),
      path.join(work, 'evil-out'),
      'E_EXTERNAL_DATA_UNSAFE',
      /goes through the symlink .*outside its Hugging Face cache repository/,
    );
    await refused(evilData, path.join(work, 'evil-out'), 'E_UNSAFE_LINK', /unet\/model\.onnx_data/);
  });

  it('outside a cache snapshot, a symlinked component file is refused', async () => {
    const src = codePipeline(path.join(work, 'linked-src'));
    fs.rmSync(path.join(src, 'tokenizer/vocab.json'));
    fs.symlinkSync(path.join(plain, 'tokenizer/vocab.json'), path.join(src, 'tokenizer/vocab.json'));
    await refused(src, path.join(work, 'linked-out'), 'E_UNSAFE_LINK', /tokenizer\/vocab\.json .*not inside a Hugging Face cache snapshot/);
  });
});

describe('compile <pipeline folder> refuses bad folders, writing nothing', () => {
  const work = scratch();
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('a folder without model_index.json and without a model says what a pipeline folder needs', async () => {
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    await refused(
      empty,
      path.join(work, 'o'),
      'E_FILE_MISSING',
      /without model_index\.json and without unet\/model\.onnx or transformer\/model\.onnx: it is not a pipeline folder/,
    );
    const loose = path.join(work, 'loose');
    writeTinyUnet(loose);
    await expect(compile(loose, { outDir: path.join(work, 'o'), prover: null })).rejects.toMatchObject({
      code: 'E_FILE_MISSING',
      hint: expect.stringMatching(/To compile one model, pass its file: tgate compile .*loose\/model\.onnx/),
    });
  });

  it('model_index.json that is not JSON, or not an object', async () => {
    const src = codePipeline(path.join(work, 'bad-json'));
    fs.writeFileSync(path.join(src, 'model_index.json'), '{"unet": ["diffusers", ');
    await refused(src, path.join(work, 'o'), 'E_BAD_PIPELINE', /model_index\.json is not valid JSON/);
    fs.writeFileSync(path.join(src, 'model_index.json'), '["unet"]');
    await refused(src, path.join(work, 'o'), 'E_BAD_PIPELINE', /model_index\.json is not a JSON object/);
    // Component names are folder names: no paths, and no object-prototype lookups.
    fs.writeFileSync(path.join(src, 'model_index.json'), JSON.stringify({ unet: ['diffusers', 'UNet2DConditionModel'], '../../etc': ['x', 'Y'] }));
    await refused(src, path.join(work, 'o'), 'E_BAD_PIPELINE', /lists a component "\.\.\/\.\.\/etc", which is not a folder name/);
    for (const key of ['constructor', 'toString']) {
      fs.writeFileSync(path.join(src, 'model_index.json'), `{"unet": ["diffusers", "UNet2DConditionModel"], "${key}": ["x", "Y"]}`);
      await refused(src, path.join(work, 'o'), 'E_FILE_MISSING', new RegExp(`lists the component "${key}"`));
    }
  });

  it('no unet/model.onnx or transformer/model.onnx', async () => {
    const src = codePipeline(path.join(work, 'no-model'));
    fs.rmSync(path.join(src, 'unet/model.onnx'));
    await refused(src, path.join(work, 'o'), 'E_FILE_MISSING', /unet has no model\.onnx/);
    fs.rmSync(path.join(src, 'unet'), { recursive: true });
    await refused(src, path.join(work, 'o'), 'E_FILE_MISSING', /lists the denoiser "unet" \(diffusers UNet2DConditionModel\), but .* has no unet\/ folder/);
  });

  it("a component model_index.json lists whose folder is missing (optimum's vae_decoder/ stands for vae)", async () => {
    const src = codePipeline(path.join(work, 'missing'));
    fs.rmSync(path.join(src, 'text_encoder'), { recursive: true });
    await refused(
      src,
      path.join(work, 'o'),
      'E_FILE_MISSING',
      /lists the component "text_encoder" \(transformers CLIPTextModel\), but .* has no text_encoder\/ folder/,
    );
    const vae = codePipeline(path.join(work, 'vae'));
    const index = JSON.parse(fs.readFileSync(path.join(vae, 'model_index.json'), 'utf8'));
    fs.writeFileSync(
      path.join(vae, 'model_index.json'),
      JSON.stringify({ ...index, vae: ['diffusers', 'AutoencoderKL'], safety_checker: ['stable_diffusion', 'StableDiffusionSafetyChecker'] }),
    );
    await refused(vae, path.join(work, 'o'), 'E_FILE_MISSING', /lists the component "vae" .* has no vae\/ or vae_decoder\/ or vae_encoder\/ folder/);
    fs.mkdirSync(path.join(vae, 'vae_decoder'));
    fs.writeFileSync(path.join(vae, 'vae_decoder/model.onnx'), 'decoder');
    // safety_checker listed but absent: optimum never exports it.
    const r = await compile(vae, { outDir: path.join(work, 'vae-out'), prover: null });
    expect(Object.keys(r.manifest.pipeline!.components)).toEqual(['scheduler', 'text_encoder', 'tokenizer', 'vae_decoder']);
  });

  it('-o inside the pipeline folder, or holding it', async () => {
    const src = codePipeline(path.join(work, 'overlap'));
    await refused(src, path.join(src, 'compiled'), 'E_OUTPUT_OVERLAPS_SOURCE', /is inside the source folder/);
    await expect(compile(src, { outDir: work, prover: null, force: true })).rejects.toMatchObject({ code: 'E_OUTPUT_OVERLAPS_SOURCE' });
    expect(fs.existsSync(path.join(src, 'model_index.json'))).toBe(true);
  });

  it('a compiled folder given as the source', async () => {
    const src = codePipeline(path.join(work, 'twice'));
    const out = path.join(work, 'twice-out');
    await compile(src, { outDir: out, prover: null });
    await refused(out, path.join(work, 'o'), 'E_BAD_PIPELINE', /already a compiled folder/);
  });
});

describe('the CLI on pipelines (built in code)', () => {
  const work = scratch();
  const src = codePipeline(path.join(work, 'src'));
  const out = path.join(work, 'out');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('compile prints the pipeline and its linked components; --json carries the pipeline field', () => {
    const r = tgate(['compile', src, '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/compiled the pipeline .*src \(StableDiffusionPipeline\) -> /);
    expect(r.stdout).toMatch(/denoiser +unet\/model\.onnx: compiled into .*out\/unet\//);
    expect(r.stdout).toMatch(/linked +scheduler \(1 file\), text_encoder \(2 files\), tokenizer \(1 file\); 7 source files in all .*hard-linked/);
    expect(r.stdout).toMatch(/weights +unet\/weights\.onnx_data/);
    const j = tgate(['compile', src, '-o', path.join(work, 'json'), '--json', '--no-verify']);
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout).manifest.pipeline).toEqual({ className: 'StableDiffusionPipeline', denoiser: 'unet', components: CODE_COMPONENTS });
  });

  it('inspect, diff and run work on the compiled pipeline; inspect takes the source pipeline as its UNet', () => {
    const compiled = tgate(['inspect', out]);
    expect(compiled.status).toBe(0);
    expect(compiled.stdout).toMatch(/compiled folder; source ONNX IR/);
    const source = tgate(['inspect', src, '--json']);
    expect(source.status).toBe(0);
    expect(JSON.parse(source.stdout)).toMatchObject({ file: path.join(src, 'unet/model.onnx'), kind: 'model' });
    expect(tgate(['diff', out]).status).toBe(0);
    expect(tgate(['diff', src, path.join(out, 'unet/fidelity.onnx')]).status).toBe(0);
    const run = tgate(['run', out, '--steps', '3', '--height', '64', '--width', '64', '--json']);
    if (run.status !== 0) throw new Error(run.stderr);
    expect(JSON.parse(run.stdout)).toMatchObject({ steps: 3 });
  });

  it('exit 3 for a folder that is no pipeline, and for a broken model_index.json', () => {
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    const r = tgate(['compile', empty, '-o', path.join(work, 'o')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_FILE_MISSING: .*not a pipeline folder/);
    const bad = codePipeline(path.join(work, 'bad'));
    fs.writeFileSync(path.join(bad, 'model_index.json'), 'nope');
    expect(tgate(['compile', bad, '-o', path.join(work, 'o')])).toMatchObject({ status: 3, stderr: expect.stringMatching(/E_BAD_PIPELINE/) });
    expect(fs.existsSync(path.join(work, 'o'))).toBe(false);
  });
});

// The shared SD-1.x pipeline (optimum's layout; the UNet's 5.7 MB external data rebuilt when absent).
const shared = pipelineAvailable('compile of the sd15-pipeline-tiny fixture');
(shared ? describe : describe.skip)('compile <sd15-pipeline-tiny>', () => {
  const work = scratch();
  const out = path.join(work, 'out');
  let src: string;
  let result: CompileResult;
  let before: Record<string, string>;
  const seconds: Record<string, number> = {};
  const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await f();
    seconds[what] = (performance.now() - t) / 1000;
    return r;
  };
  beforeAll(async () => {
    src = pipelineFolder();
    before = snapshotOf(src);
    result = await timed('compile with proof', () => compile(src, { outDir: out, prover: (r) => proveArtifacts(r) }));
  });
  afterAll(() => {
    console.log(
      `sd15-pipeline-tiny compile times: ${Object.entries(seconds)
        .map(([k, s]) => `${k} ${s.toFixed(2)} s`)
        .join(', ')}`,
    );
    fs.rmSync(work, { recursive: true, force: true });
  });

  const COMPONENTS = {
    scheduler: { files: ['scheduler/scheduler_config.json'] },
    text_encoder: { files: ['text_encoder/config.json', 'text_encoder/model.onnx'] },
    tokenizer: { files: ['tokenizer/merges.txt', 'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json', 'tokenizer/vocab.json'] },
    vae_decoder: { files: ['vae_decoder/config.json', 'vae_decoder/model.onnx'] },
    vae_encoder: { files: ['vae_encoder/config.json', 'vae_encoder/model.onnx'] },
  };

  it('is proven, and records the pipeline with every name relative to tgate.json', () => {
    const m = result.manifest;
    expect(m.pipeline).toEqual({ className: 'StableDiffusionPipeline', denoiser: 'unet', components: COMPONENTS });
    expect(m.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true, shapesConfirmed: true });
    expect(m.sites.filter((s) => s.kind === 'cross').length).toBe(6);
    expect([m.source.file, m.weights, m.weightsFiles]).toEqual(['unet/model.onnx', 'unet/model.onnx_data', ['unet/model.onnx_data']]);
    expect(result.weights.mode).toBe(canHardLink(path.join(src, 'unet/model.onnx_data'), work) ? 'linked' : 'copied');
    expect([...m.variants.map((v) => v.file), ...m.gated.map((g) => g.file)].every((f) => f.startsWith('unet/') && fs.existsSync(path.join(out, f)))).toBe(
      true,
    );
  });

  it('links every source file (same inode), writes only the artifacts and tgate.json, and leaves the source untouched', () => {
    const sourceFiles = [
      'model_index.json',
      'unet/config.json',
      'unet/model.onnx',
      'unet/model.onnx_data',
      ...Object.values(COMPONENTS).flatMap((c) => c.files),
    ];
    expect(listing(out)).toEqual([...sourceFiles, 'tgate.json', ...[...ARTIFACTS, ...DEEPCACHE_ARTIFACTS].map((f) => `unet/${f}`)].sort());
    for (const f of sourceFiles) expectSameFile(path.join(out, f), path.join(src, f));
    expect(snapshotOf(src)).toEqual(before);
  });

  it('the same input gives a byte-identical folder', async () => {
    const again = path.join(work, 'again');
    await timed('second compile with proof', () => compile(src, { outDir: again, prover: (r) => proveArtifacts(r) }));
    expect(folderDigest(again)).toEqual(folderDigest(out));
    fs.rmSync(again, { recursive: true });
    await timed('compile without proof', () => compile(src, { outDir: again, prover: null }));
  });

  it('a Hugging Face cache snapshot of it compiles to the same folder', async () => {
    const snap = hfCache(src, path.join(work, 'hub'), 'models--tgate--sd15-pipeline-tiny');
    const cached = path.join(work, 'from-cache');
    await timed('compile from a cache snapshot with proof', () => compile(snap, { outDir: cached, prover: (r) => proveArtifacts(r) }));
    expect(folderDigest(cached)).toEqual(folderDigest(out));
    expect(listing(cached).some((f) => f.endsWith('(symlink)'))).toBe(false);
    expectSameFile(path.join(cached, 'unet/model.onnx_data'), fs.realpathSync(path.join(snap, 'unet/model.onnx_data')));
  });

  it('tgate inspect and tgate run work on the compiled pipeline', () => {
    const inspect = tgate(['inspect', out]);
    expect(inspect.status).toBe(0);
    expect(inspect.stdout).toMatch(/Attention sites: 6 cross \+ 6 self/);
    const source = tgate(['inspect', src]);
    expect(source.status).toBe(0);
    expect(source.stdout).toMatch(/unet\/model\.onnx: ONNX IR 7, opset 14/);
    const run = tgate(['run', out, '--steps', '3', '--height', '64', '--width', '64', '--json']);
    if (run.status !== 0) throw new Error(run.stderr);
    expect(JSON.parse(run.stdout)).toMatchObject({ steps: 3 });
  });
});
