// The tgate executable in a real process: exit codes, messages on stderr, JSON errors on stdout
// with --json, and nothing written on failure.
import fs from 'node:fs';
import path from 'node:path';
import { tgate } from './helpers/cli.js';
import { writeTinyUnet } from './helpers/models.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');

describe('tgate CLI', () => {
  it('prints usage for help and exits 2 without a command', () => {
    expect(tgate(['help'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/tgate compile <model\.onnx \| pipeline folder> -o <dir>/) });
    expect(tgate([])).toMatchObject({ status: 2 });
    expect(tgate(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(tgate(['compile', '--help'])).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/Usage: tgate compile <model\.onnx \| pipeline folder> -o <dir>[\s\S]*--exclude <GLOB>/),
    });
  });

  it('refuses unknown commands and options with exit 2', () => {
    expect(tgate(['frobnicate'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/unknown command "frobnicate"/) });
    expect(tgate(['compile', TINY, '--frob'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/E_USAGE.*--frob/) });
    expect(tgate(['compile', TINY])).toMatchObject({ status: 2, stderr: expect.stringMatching(/Missing the output folder/) });
  });

  it('compiles and reports what it did', () => {
    const work = scratch();
    const r = tgate(['compile', TINY, '-o', path.join(work, 'o')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/2 cross \+ 2 self/);
    expect(r.stdout).toMatch(/planning bit-exact: yes/);
    expect(r.stdout).toMatch(/input encoder_hidden_states removed/);
  });

  it('exit 3 for a missing file, with the fix on stderr and a JSON error on stdout', () => {
    const work = scratch();
    const r = tgate(['compile', path.join(work, 'missing.onnx'), '-o', path.join(work, 'o'), '--json']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_FILE_MISSING: Model file .*missing\.onnx does not exist/);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'E_FILE_MISSING', subject: { file: expect.stringMatching(/missing\.onnx$/) } });
    expect(fs.readdirSync(work)).toEqual([]);
  });

  it('exit 3 for a file that is not ONNX', () => {
    const work = scratch();
    fs.writeFileSync(path.join(work, 'x.onnx'), Buffer.from('PK\u0003\u0004 a zip, not a model'));
    const r = tgate(['inspect', path.join(work, 'x.onnx')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_NOT_ONNX/);
  });

  it('exit 4 for a model without cross-attention, listing why candidates failed', () => {
    const work = scratch();
    const src = writeTinyUnet(work, { crossAttention: false, decoySoftmax: true });
    const r = tgate(['compile', src, '-o', path.join(work, 'o')]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/no cross-attention to gate: 3 softmax candidate\(s\) seen/);
    expect(r.stderr).toMatch(/gate\/Softmax.*no MatMul of two activations/);
    expect(fs.readdirSync(work)).toEqual(['model.onnx']);
  });

  it('exit 5 when -o is the source folder, and the source is untouched', () => {
    const work = scratch();
    const src = writeTinyUnet(work);
    const before = fs.readFileSync(src);
    const r = tgate(['compile', src, '-o', work, '--force']);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/E_OUTPUT_OVERLAPS_SOURCE/);
    expect(fs.readFileSync(src).equals(before)).toBe(true);
    expect(fs.readdirSync(work)).toEqual(['model.onnx']);
  });

  it('inspect --explain lists rejected candidates; --json carries the same facts', () => {
    const self = path.join(ROOT, 'fixtures/models/tiny-unet-self-only.onnx');
    const text = tgate(['inspect', self, '--explain']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/Attention sites: 0 cross \+ 2 self \(3 softmax\/attention candidates, 1 rejected\)/);
    expect(text.stdout).toMatch(/Candidates considered[\s\S]*attn1\/Softmax_26 +Softmax +self site self\.0 \(matmul-softmax-matmul\)/);
    // The code first (what scripts match), then the reason in words.
    expect(text.stdout).toMatch(/gate\/Softmax_73 +Softmax +rejected NO_SCORES_MATMUL: no MatMul of two activations/);
    const selfJson = JSON.parse(tgate(['inspect', self, '--json']).stdout);
    expect(selfJson.rejected).toEqual([{ node: '/gate/Softmax_73', code: 'NO_SCORES_MATMUL', reason: expect.any(String), at: [{ node: '/gate/Softmax_73' }] }]);
    const json = JSON.parse(tgate(['inspect', TINY, '--json']).stdout);
    expect(json.inputs.map((i: { name: string }) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(json.sites).toHaveLength(4);
    expect(json.opCounts.Softmax).toBe(4);
    expect(json.sites[1]).toMatchObject({ kind: 'cross', variant: 'matmul-softmax-matmul', tokens: 'height/2*width/2', channels: 16 });
    expect(json.considered.map((c: { siteId: string | null }) => c.siteId)).toEqual(['self.0', 'cross.0', 'self.1', 'cross.1']);
  });

  it('inspect reports what the caches hold per sample at an image size (v2 self caches twice under CFG)', () => {
    // 64x64 px = an 8x8 latent; the sites work on (8/2)*(8/2) = 16 tokens x 16 float32 channels.
    const json = JSON.parse(tgate(['inspect', TINY, '--json', '--height', '64', '--width', '64']).stdout);
    expect(json.sites.map((s: { bytesPerSample: number }) => s.bytesPerSample)).toEqual([1024, 1024, 1024, 1024]);
    expect(json.caches).toEqual({
      height: 64,
      width: 64,
      latent: [8, 8],
      crossBytesPerSample: 2048,
      selfBytesPerSample: 2048,
      selfBytesPerSampleWithCfg: 4096,
    });
    const wide = JSON.parse(tgate(['inspect', TINY, '--json', '--height', '64', '--width', '128']).stdout);
    expect(wide.caches.selfBytesPerSample).toBe(4096);
    const text = tgate(['inspect', TINY, '--height', '64', '--width', '64']).stdout;
    expect(text).toMatch(
      /Caches per sample at 64x64 px \(latent 8x8\): cross-attention 2\.0 KiB .*self-attention \(TGATE v2\) 4\.0 KiB before the gate \(the CFG pair: 2 x 2\.0 KiB\)/,
    );
    expect(tgate(['inspect', TINY, '--height', '60'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/--height must be a positive multiple of 8/) });
  });

  it('diff: two models or a compiled folder; one format at a time; -o writes the file', () => {
    const work = scratch();
    const self = path.join(ROOT, 'fixtures/models/tiny-unet-self-only.onnx');
    const json = JSON.parse(tgate(['diff', TINY, self, '--json']).stdout);
    expect(json.inputs.removed.map((i: { name: string }) => i.name)).toEqual(['encoder_hidden_states']);
    expect(json.nodes).toMatchObject({ removed: 96, added: 47 });
    const md = path.join(work, 'sub', 'diff.md');
    expect(tgate(['diff', TINY, self, '--markdown', '-o', md])).toMatchObject({ status: 0, stdout: `wrote ${md}\n` });
    expect(fs.readFileSync(md, 'utf8')).toMatch(/^### `.*tiny-unet\.onnx` → `.*tiny-unet-self-only\.onnx`\n/);
    expect(fs.readdirSync(path.dirname(md))).toEqual(['diff.md']);
    expect(tgate(['diff', TINY, self, '--json', '--html'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/Choose one of --json, --markdown, --html/),
    });
    expect(tgate(['diff', TINY])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/is not a compiled folder; give two models to compare, or a folder/),
    });
    expect(tgate(['diff', TINY, path.join(work, 'missing.onnx')])).toMatchObject({ status: 3, stderr: expect.stringMatching(/missing\.onnx/) });
    expect(tgate(['diff', TINY, self, '--shape', 'sample=1x4'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--shape sample has 2 dims; the input has 4/),
    });
  });

  it('inspect takes a compiled folder too: the same cost facts as the model', () => {
    const work = scratch();
    const dir = path.join(work, 'tiny');
    expect(tgate(['compile', TINY, '-o', dir, '--no-verify']).status).toBe(0);
    const fromModel = JSON.parse(tgate(['inspect', TINY, '--json']).stdout);
    const fromDir = JSON.parse(tgate(['inspect', dir, '--json']).stdout);
    expect(fromDir.kind).toBe('compiled');
    expect(fromDir.cost.call).toEqual(fromModel.cost.call);
    expect(fromDir.cost.schedule).toEqual(fromModel.cost.schedule);
    expect(fromDir.caches).toEqual(fromModel.caches);
  });
});
