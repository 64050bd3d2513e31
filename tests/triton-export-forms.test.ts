// tgate export triton on the model forms the compiler takes (code-built tiny UNets: an int64 [batch]
// timestep with SD-XL-like extra conditioning, a guidance embedding, cross-only compiles), each
// proved by the export itself (implicit-state run = in-process run, bit for bit), and its refusals:
// bad folders, names and outputs get a coded error and a documented exit code, and nothing written.
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { proveArtifacts } from '../runtime/prove.js';
import { tgate, tgateAsync } from './helpers/cli.js';
import { compiledTinyUnet } from './helpers/compiled.js';
import { writeTinyUnet } from './helpers/models.js';
import { parseModelConfig } from './helpers/pbtxt.js';
import { scratch } from './helpers/paths.js';

const exported = (dir: string, repo: string, ...more: string[]) => tgate(['export', 'triton', dir, '-o', repo, '--json', ...more]);

describe('tgate export triton: model forms, each proved bit for bit', () => {
  const work = scratch('tgate-triton-forms-');
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it.each([
    ['an int64 [batch] timestep with extra conditioning (SD-XL-like)', { timestep: 'int64-batch' as const, extraConditioning: true }],
    ['a guidance embedding (LCM-like, no CFG)', { guidanceEmbedding: true }],
    ['fp32 torch attention (the default form)', {}],
  ])('%s', async (_what, opts: { timestep?: 'int64-batch'; extraConditioning?: boolean; guidanceEmbedding?: boolean }) => {
    const { dir } = await compiledTinyUnet(opts);
    const repo = path.join(work, `repo-${Object.keys(opts).join('-') || 'default'}`);
    const r = exported(dir, repo, '--name', 'unet');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.proof.plans.length).toBeGreaterThanOrEqual(2);
    for (const p of out.proof.plans) expect(p).toMatchObject({ bitExact: true, maxAbsDiff: 0 });
    const config = parseModelConfig(fs.readFileSync(path.join(repo, 'unet/config.pbtxt'), 'utf8')) as any;
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'tgate.json'), 'utf8'));
    // Every source input is a config input of its type; a [batch] int64 timestep stays [-1].
    for (const i of manifest.source.inputs) expect(config.input.find((x: any) => x.name === i.name)).toBeDefined();
    if (opts.timestep === 'int64-batch')
      expect(config.input.find((x: any) => x.name === 'timestep')).toEqual({ name: 'timestep', data_type: 'TYPE_INT64', dims: [-1] });
  });

  it('a cross-only compile: cross states only, no self keep flag', async () => {
    const source = writeTinyUnet(path.join(work, 'cross-src'));
    const dir = path.join(work, 'cross');
    await compile(source, { outDir: dir, prover: (x) => proveArtifacts(x), sites: { kinds: 'cross', include: [], exclude: [] } });
    const repo = path.join(work, 'repo-cross');
    const r = exported(dir, repo);
    expect(r.status).toBe(0);
    const config = parseModelConfig(fs.readFileSync(path.join(repo, 'cross/config.pbtxt'), 'utf8')) as any;
    expect(
      config.sequence_batching.state.every((s: any) => s.input_name.startsWith('tgate.state.cross.') || s.input_name.startsWith('tgate.state.deep.')),
    ).toBe(true);
    expect(config.input.map((i: any) => i.name)).not.toContain('tgate.keep.self');
    expect(JSON.parse(r.stdout).proof.plans.map((p: any) => p.name)).not.toContain('tgate-v2');
  });
});

describe('tgate export triton: refusals', () => {
  const work = scratch('tgate-triton-bad-');
  let dir: string;
  beforeAll(async () => {
    dir = (await compiledTinyUnet()).dir;
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  const refused = (args: string[], status: number, code: RegExp) => {
    const r = tgate(['export', ...args]);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status, stdout: '' });
    expect(r.stderr).toMatch(code);
    return r;
  };

  it('an unknown target, a missing folder, a folder that is not compiled, a bad name', () => {
    refused(['tensorrt', dir, '-o', path.join(work, 'x')], 2, /E_USAGE[\s\S]*targets: triton/);
    refused(['triton', path.join(work, 'nowhere'), '-o', path.join(work, 'x')], 3, /E_FILE_MISSING/);
    fs.mkdirSync(path.join(work, 'plain'));
    refused(['triton', path.join(work, 'plain'), '-o', path.join(work, 'x')], 3, /no tgate\.json/);
    refused(['triton', dir, '-o', path.join(work, 'x'), '--name', '../up'], 2, /cannot name a Triton model/);
    refused(['triton', dir, '-o', path.join(work, 'x'), '--instances', '0'], 2, /--instances/);
    expect(fs.existsSync(path.join(work, 'x'))).toBe(false);
  });

  it('an output that holds other files, or lies inside the compiled folder; --force replaces only an earlier export', () => {
    const other = path.join(work, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'keep.txt'), 'mine');
    refused(['triton', dir, '-o', other, '--force'], 5, /E_OUTPUT_EXISTS[\s\S]*tgate-triton\.json/);
    expect(fs.readFileSync(path.join(other, 'keep.txt'), 'utf8')).toBe('mine');
    refused(['triton', dir, '-o', path.join(dir, 'repo')], 5, /E_OUTPUT_OVERLAPS_SOURCE/);
    const repo = path.join(work, 'repo');
    expect(exported(dir, repo, '--no-verify').status).toBe(0);
    refused(['triton', dir, '-o', repo], 5, /--force/);
    expect(exported(dir, repo, '--no-verify', '--force', '--name', 'renamed').status).toBe(0);
    expect(fs.readdirSync(repo).sort()).toEqual(['renamed', 'tgate-triton.json']);
  });

  it('a static-batch export is refused with what to do (exit 4)', async () => {
    const { dir: fixed } = await compiledTinyUnet({ staticShape: { batch: 2, height: 8, width: 8, sequence: 4 } });
    refused(['triton', fixed, '-o', path.join(work, 'fixed')], 4, /fixed batch of 2[\s\S]*dynamic batch axis/);
  });

  it('a server that is not there: exit 8, naming the URL', async () => {
    const r = await tgateAsync([
      'run',
      dir,
      '--steps',
      '2',
      '--height',
      '64',
      '--width',
      '64',
      '--server',
      'http://127.0.0.1:9',
      '--model',
      'x',
      '--server-timeout',
      '5',
    ]);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/E_REMOTE_UNREACHABLE[\s\S]*127\.0\.0\.1:9/);
  });
});
