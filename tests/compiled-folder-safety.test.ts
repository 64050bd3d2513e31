// A compiled folder is untrusted input (issue 12, item 2 and the damaged folders of item 9): every
// file tgate.json names must resolve inside the folder, be a regular file and be size-checked
// before it is read; tgate.json itself is checked against its schema and format version; and a
// damaged folder gives a coded error (exit 3, or 4 for another tgate format) from every command,
// never exit 70, a hang, a read of /dev/zero or the contents of a file outside the folder.
// Hangs and unbounded reads are what the old code did, so those cases run the CLI in a child
// process with a timeout: a regression fails the test instead of hanging the suite.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { isTgateError } from '../base/errors.js';
import { MAX_BYTES, readContained, unsafeNameReason } from '../io/contained-file.js';
import { inspectCompiled } from '../build/inspect.js';
import { parseManifest, readManifest, serializeManifest } from '../build/manifest.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { readPipelineFolder } from '../runtime/pipeline/pipeline-folder.js';
import { CLI, ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
const SHAPES = path.join(ROOT, 'fixtures/models/shapes');
// A file outside every compiled folder whose contents must never appear in tgate's output.
const SECRET = 'tgate-secret-3f9c1e: must never be printed';

let work: string;
let good: string;
let pipeline: string;
let outside: string;

beforeAll(async () => {
  work = scratch('tgate-damage-');
  good = path.join(work, 'good');
  pipeline = path.join(work, 'pipeline');
  await compile(TINY, { outDir: good, prover: null });
  await compile(SHAPES, { outDir: pipeline, prover: null });
  outside = path.join(work, 'secret.txt');
  fs.writeFileSync(outside, `${SECRET}\n`.repeat(100));
}, 60_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let copies = 0;
/** A copy of a compiled folder, damaged by `edit`. */
function damaged(edit: (dir: string) => void, from = good): string {
  const dir = path.join(work, `d${copies++}`);
  fs.cpSync(from, dir, { recursive: true });
  edit(dir);
  return dir;
}

/** A manifest as JSON, edited freely by the tests. */
type Json = any;
function editManifest(dir: string, edit: (m: Json) => void): void {
  const file = path.join(dir, 'tgate.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m, null, 2));
}

function mkfifo(file: string): boolean {
  fs.rmSync(file, { force: true });
  return spawnSync('mkfifo', [file]).status === 0;
}
const HAS_MKFIFO = (() => {
  const probe = path.join(os.tmpdir(), `tgate-fifo-probe-${process.pid}`);
  const ok = mkfifo(probe);
  fs.rmSync(probe, { force: true });
  if (!ok) console.log('SKIPPED the FIFO cases: mkfifo is not available on this system.');
  return ok;
})();

/** The error a call throws (a TgateError is expected; anything else fails the test with itself). */
function thrown(f: () => unknown): { code: string; message: string; hint?: string } {
  try {
    f();
  } catch (e) {
    if (isTgateError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal, got none');
}
async function rejected(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isTgateError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal, got none');
}

interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}
/** The CLI in a child process, killed after `timeout` ms (a hang or an endless read fails, not stalls). */
function tgateBounded(args: string[], timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Runs several CLI calls, two at a time (the suite shares a small machine). */
async function all(runs: string[][]): Promise<Run[]> {
  const out: Run[] = new Array(runs.length);
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const i = next++;
      out[i] = await tgateBounded(runs[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

const COMMANDS: Record<string, (dir: string) => string[]> = {
  run: (d) => ['run', d, '--steps', '2', '--height', '16', '--width', '16'],
  inspect: (d) => ['inspect', d],
  diff: (d) => ['diff', d],
  bench: (d) => ['bench', d, '--steps', '2', '--height', '16', '--width', '16', '--runs', '1', '--no-memory'],
  calibrate: (d) => ['calibrate', d, '--steps', '2', '--samples', '1', '--height', '16', '--width', '16', '--dry-run'],
  generate: (d) => ['generate', d, '--prompt', 'a red circle on the left', '--steps', '2', '-o', path.join(work, `out-${copies++}.png`)],
};

describe('tgate.json: schema and format version', () => {
  const manifestOf = (edit: (m: Json) => void) => {
    const m = JSON.parse(fs.readFileSync(path.join(good, 'tgate.json'), 'utf8'));
    edit(m);
    return new TextEncoder().encode(JSON.stringify(m));
  };
  const refusal = (edit: (m: Json) => void) => thrown(() => parseManifest(manifestOf(edit), 'x/tgate.json'));

  it('accepts what compile writes, and returns it unchanged (calibrate --write rewrites only what it changes)', () => {
    for (const dir of [good, pipeline]) {
      const bytes = fs.readFileSync(path.join(dir, 'tgate.json'));
      expect(serializeManifest(readManifest(dir))).toBe(bytes.toString('utf8'));
    }
  });

  it('names the field and the value of a wrong type: guidance "high" no longer turns CFG off', () => {
    expect(refusal((m) => (m.schedule.guidance = 'high'))).toMatchObject({
      code: 'E_BAD_MANIFEST',
      message: expect.stringContaining('schedule.guidance: expected a number ≥ 0, got "high"'),
    });
    expect(refusal((m) => (m.schedule.gateStep = 'high')).message).toContain('schedule.gateStep: expected a whole number ≥ 1, got "high"');
    expect(refusal((m) => (m.schedule.gateStep = 2.5)).message).toContain('schedule.gateStep: expected a whole number ≥ 1, got 2.5');
    expect(refusal((m) => (m.schedule.warmUp = -1)).message).toContain('schedule.warmUp: expected a whole number ≥ 0, got -1');
    expect(refusal((m) => delete m.sites).message).toContain('sites: expected a list, got nothing (the field is missing)');
    expect(refusal((m) => (m.variants[1].cross = 'both')).message).toContain('variants[1].cross: expected "output" or "input", got "both"');
    expect(refusal((m) => (m.verification = { skipped: 'no' })).message).toMatch(/verification\.skipped: expected true or false/);
    expect(refusal((m) => (m.source.outputs = [])).message).toContain('source.outputs: expected at least one output');
  });

  it('checks the names that must refer to each other', () => {
    expect(refusal((m) => (m.variants = m.variants.filter((v: Json) => v.name !== 'reuse-self'))).message).toMatch(
      /gated\[1\]\.variants\[1\]\.name: expected one of the variants \(planning, fidelity, fidelity-reuse-self\), got "reuse-self"/,
    );
    expect(refusal((m) => (m.variants = m.variants.filter((v: Json) => v.name !== 'fidelity'))).message).toMatch(/variants: expected a fidelity variant/);
    expect(refusal((m) => (m.sites[1].planningOutput = 'nowhere')).message).toContain(
      'sites[1].planningOutput: expected one of the planning variant\'s outputs, got "nowhere"',
    );
    expect(refusal((m) => (m.sites[1].fidelityInput = null)).message).toContain('sites[1].fidelityInput: expected a tensor name for a cached site, got null');
    expect(refusal((m) => (m.gated[0].variants[0].siteOutputs['cross.9'] = 'x')).message).toContain(
      'gated[0].variants[0].siteOutputs["cross.9"]: expected a cached site\'s id as the key',
    );
    expect(refusal((m) => (m.variants[2].removedInputs = ['prompt'])).message).toContain(
      'variants[2].removedInputs[0]: expected one of the source\'s inputs, got "prompt"',
    );
    expect(refusal((m) => (m.weights = 'other.bin')).message).toContain('weights: expected one of weightsFiles, got "other.bin"');
    expect(refusal((m) => (m.sites[0].id = m.sites[1].id)).message).toContain('sites[1].id: expected each site id once');
  });

  it('refuses file names that are absolute or climb out, with the field named, before touching the disk', () => {
    for (const [field, edit, name] of [
      ['variants[0].file', (m: Json) => (m.variants[0].file = '../../../etc/passwd'), '../../../etc/passwd'],
      ['gated[1].file', (m: Json) => (m.gated[1].file = '/dev/zero'), '/dev/zero'],
      ['weightsFiles[0]', (m: Json) => (m.weightsFiles = ['C:\\weights.bin']), 'C:\\weights.bin'],
      ['variants[3].file', (m: Json) => (m.variants[3].file = ''), ''],
    ] as const) {
      const e = refusal(edit);
      expect(e.code).toBe('E_BAD_MANIFEST');
      expect(e.message).toContain(`${field}: expected a file name inside the compiled folder`);
      expect(e.message).toContain(`got ${JSON.stringify(name)}`);
    }
    expect(unsafeNameReason('unet/planning.onnx')).toBeNull();
    expect(unsafeNameReason('a/../../b')).toMatch(/climbs out/);
  });

  it('gives the format its own check: another tgate version is named, with the way out', () => {
    expect(refusal((m) => (m.format = 'tgate/4'))).toMatchObject({
      code: 'E_UNSUPPORTED_MODEL',
      message: expect.stringMatching(/made by a newer tgate; this tgate reads tgate\/3/),
      hint: expect.stringMatching(/Upgrade tgate, or recompile/),
    });
    // tgate/2 (before DeepCache's cuts): an older format, recompiled to get the shallow variants.
    expect(refusal((m) => (m.format = 'tgate/2'))).toMatchObject({ code: 'E_UNSUPPORTED_MODEL', message: expect.stringMatching(/made by an older tgate/) });
    expect(refusal((m) => (m.format = 'tgate/1'))).toMatchObject({
      code: 'E_UNSUPPORTED_MODEL',
      message: expect.stringMatching(/made by an older tgate/),
      hint: expect.stringMatching(/Recompile/),
    });
    expect(refusal((m) => delete m.format)).toMatchObject({
      code: 'E_BAD_MANIFEST',
      message: expect.stringMatching(/is not a tgate manifest: format: expected "tgate\/3", got nothing/),
    });
    expect(refusal((m) => (m.format = 2)).message).toMatch(/format: expected "tgate\/3", got 2/);
  });

  it('refuses what is not a JSON object, without quoting the text', () => {
    const parse = (text: string | Uint8Array) => thrown(() => parseManifest(typeof text === 'string' ? new TextEncoder().encode(text) : text, 'x/tgate.json'));
    const passwd = parse('root:x:0:0:root:/root:/bin/bash\n');
    expect(passwd).toMatchObject({ code: 'E_BAD_MANIFEST', message: expect.stringMatching(/x\/tgate\.json is not valid JSON\.$/) });
    expect(passwd.message).not.toContain('root');
    expect(parse('').message).toMatch(/is empty/);
    expect(parse('{"format": "tgate/3",').message).toMatch(/it ends early: the file is truncated/);
    expect(parse('[1, 2]').message).toMatch(/is not a JSON object \(it holds a list of 2\)/);
    expect(parse(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)).message).toMatch(/is not UTF-8 text/);
    // Escaped: a control character in a value cannot reach the terminal raw.
    expect(parse('{"format": "\\u001b]0;pwned\\u0007\\u009b2J"}').message).toContain('got "\\u001b]0;pwned\\u0007\\u009b2J"');
  });
});

describe('files a manifest names: inside the folder, regular, bounded', () => {
  it('a symlinked tgate.json or variant leading outside is refused, one leading inside is followed', () => {
    const linkedManifest = damaged((d) => {
      fs.renameSync(path.join(d, 'tgate.json'), path.join(work, `manifest-${copies}.json`));
      fs.symlinkSync(path.join(work, `manifest-${copies}.json`), path.join(d, 'tgate.json'));
    });
    expect(thrown(() => readManifest(linkedManifest))).toMatchObject({
      code: 'E_UNSAFE_LINK',
      message: expect.stringMatching(/manifest "tgate\.json" leads outside the compiled folder/),
    });
    const toSecret = damaged((d) => {
      fs.rmSync(path.join(d, 'planning.onnx'));
      fs.symlinkSync(outside, path.join(d, 'planning.onnx'));
    });
    const e = thrown(() => inspectCompiled(toSecret));
    expect(e).toMatchObject({
      code: 'E_UNSAFE_LINK',
      message: expect.stringMatching(/planning variant "planning\.onnx" \(variants\[0\]\.file in tgate\.json\) leads outside/),
    });
    expect(e.message).not.toContain('tgate-secret');
    const inside = damaged((d) => {
      fs.mkdirSync(path.join(d, 'graphs'));
      for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.onnx'))) {
        fs.renameSync(path.join(d, f), path.join(d, 'graphs', f));
        fs.symlinkSync(path.join('graphs', f), path.join(d, f));
      }
      // The graphs' external data resolves beside them: the weights move along.
      fs.renameSync(path.join(d, 'weights.onnx_data'), path.join(d, 'graphs', 'weights.onnx_data'));
      fs.symlinkSync(path.join('graphs', 'weights.onnx_data'), path.join(d, 'weights.onnx_data'));
    });
    expect(inspectCompiled(inside).kind).toBe('compiled');
  });

  it('folders, devices and oversized files are refused before a byte is read', () => {
    const dirManifest = damaged((d) => {
      fs.rmSync(path.join(d, 'tgate.json'));
      fs.mkdirSync(path.join(d, 'tgate.json'));
    });
    expect(thrown(() => readManifest(dirManifest))).toMatchObject({
      code: 'E_NOT_REGULAR_FILE',
      message: expect.stringMatching(/is a folder, not a regular file/),
    });
    const dirVariant = damaged((d) => {
      fs.rmSync(path.join(d, 'fidelity.onnx'));
      fs.mkdirSync(path.join(d, 'fidelity.onnx'));
    });
    expect(thrown(() => inspectCompiled(dirVariant))).toMatchObject({ code: 'E_NOT_REGULAR_FILE' });
    const toDevice = damaged((d) => {
      fs.rmSync(path.join(d, 'gated.onnx'));
      fs.symlinkSync('/dev/zero', path.join(d, 'gated.onnx'));
    });
    expect(thrown(() => readContained(toDevice, 'gated.onnx', { kind: 'graph', what: 'gated model' }))).toMatchObject({ code: 'E_UNSAFE_LINK' });
    // Sparse: 17 MiB on paper, nothing on disk.
    const huge = damaged((d) => fs.truncateSync(path.join(d, 'tgate.json'), MAX_BYTES.manifest + 1));
    expect(thrown(() => readManifest(huge))).toMatchObject({
      code: 'E_FILE_TOO_LARGE',
      message: expect.stringMatching(/has 16777217 bytes; a manifest file may have at most 16777216 bytes/),
    });
  });

  it('a FIFO named tgate.json or as a variant is refused without blocking', async () => {
    if (!HAS_MKFIFO) return;
    const fifoManifest = damaged((d) => mkfifo(path.join(d, 'tgate.json')));
    const fifoVariant = damaged((d) => mkfifo(path.join(d, 'planning.onnx')));
    const [a, b] = await all([
      ['inspect', fifoManifest],
      ['diff', fifoVariant],
    ]);
    expect(a).toMatchObject({
      status: 3,
      signal: null,
      stderr: expect.stringMatching(/E_NOT_REGULAR_FILE: The manifest "tgate\.json" in .* is a FIFO \(named pipe\), not a regular file/),
    });
    expect(b).toMatchObject({ status: 3, signal: null, stderr: expect.stringMatching(/E_NOT_REGULAR_FILE: The planning variant "planning\.onnx"/) });
  });

  it('"../../dev/zero" and "../secret" are refused by name, never read or echoed', async () => {
    const zero = damaged((d) =>
      editManifest(d, (m) => (m.gated.forEach((g: Json) => (g.file = '../../../../../../dev/zero')), (m.variants[0].file = '../../../../../../dev/zero'))),
    );
    const secret = damaged((d) =>
      editManifest(d, (m) => (m.variants.forEach((v: Json) => (v.file = '../secret.txt')), m.gated.forEach((g: Json) => (g.file = '../secret.txt')))),
    );
    const runs = await all([COMMANDS.inspect!(zero), COMMANDS.run!(zero), COMMANDS.diff!(secret), COMMANDS.run!(secret)]);
    for (const r of runs) {
      expect(r).toMatchObject({
        status: 3,
        signal: null,
        stderr: expect.stringMatching(/E_BAD_MANIFEST: .*expected a file name inside the compiled folder, but it climbs out of the folder with "\.\."/),
      });
      expect(r.stderr + r.stdout).not.toContain('tgate-secret');
    }
  });
});

describe('a damaged compiled folder: a coded error from every command', () => {
  it('graphs missing, not ONNX, or with external data missing, truncated, outside, unlisted', async () => {
    const missingGated = damaged((d) => fs.rmSync(path.join(d, 'gated-v2.onnx')));
    expect(await rejected(GatedUNet.load(missingGated))).toMatchObject({
      code: 'E_FILE_MISSING',
      message: expect.stringMatching(/has no gated model "gated-v2\.onnx" \(gated\[1\]\.file in tgate\.json\): it is incomplete/),
    });
    const notOnnx = damaged((d) => fs.writeFileSync(path.join(d, 'gated-v2.onnx'), 'not a model'));
    expect(await rejected(GatedUNet.load(notOnnx))).toMatchObject({ code: 'E_NOT_ONNX' });
    const noWeights = damaged((d) => fs.rmSync(path.join(d, 'weights.onnx_data')));
    expect(await rejected(GatedUNet.load(noWeights))).toMatchObject({ code: 'E_EXTERNAL_DATA_MISSING' });
    const truncated = damaged((d) => fs.truncateSync(path.join(d, 'weights.onnx_data'), 40_000));
    expect(await rejected(GatedUNet.load(truncated))).toMatchObject({
      code: 'E_EXTERNAL_DATA_INVALID',
      message: expect.stringMatching(/the file has 40000 bytes: it is truncated/),
    });
    // A graph whose external data climbs out of the folder (same-length rewrite of its location).
    const escaping = damaged((d) => {
      const file = path.join(d, 'gated-v2.onnx');
      const bytes = fs.readFileSync(file);
      const from = Buffer.from('weights.onnx_data');
      fs.writeFileSync(file, Buffer.from(bytes.toString('latin1').split(from.toString('latin1')).join('../secret.txtxxxx'), 'latin1'));
    });
    const e = await rejected(GatedUNet.load(escaping));
    expect(e).toMatchObject({ code: 'E_EXTERNAL_DATA_UNSAFE' });
    expect(e.message).not.toContain('tgate-secret');
    // External data inside the folder but in a file tgate.json does not list.
    const unlisted = damaged((d) => {
      const file = path.join(d, 'gated-v2.onnx');
      fs.copyFileSync(path.join(d, 'weights.onnx_data'), path.join(d, 'weights.onnx_datb'));
      const bytes = fs.readFileSync(file).toString('latin1');
      fs.writeFileSync(file, Buffer.from(bytes.split('weights.onnx_data').join('weights.onnx_datb'), 'latin1'));
    });
    expect(await rejected(GatedUNet.load(unlisted))).toMatchObject({
      code: 'E_BAD_MANIFEST',
      message: expect.stringMatching(/which tgate\.json does not list in weightsFiles/),
    });
  });

  it('every command exits 3 (never 70, never a signal) on damaged folders, with a hint', async () => {
    const garbage = (d: string) => {
      for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.onnx'))) fs.writeFileSync(path.join(d, f), 'garbage, not a protobuf message');
    };
    const every = ['run', 'inspect', 'diff', 'bench', 'calibrate'];
    // tgate.json is read by one function for every command: two commands stand for all there.
    const single: [string, string, string[]][] = [
      ['tgate.json empty', damaged((d) => fs.writeFileSync(path.join(d, 'tgate.json'), '')), ['run', 'calibrate']],
      ['guidance of the wrong type', damaged((d) => editManifest(d, (m) => (m.schedule.guidance = 'high'))), ['bench', 'inspect']],
      ['graphs not ONNX', damaged(garbage), every],
      // bench and calibrate open the graphs as run does.
      ['weights truncated', damaged((d) => fs.truncateSync(path.join(d, 'weights.onnx_data'), 1000)), ['run', 'inspect', 'diff']],
    ];
    // A compiled pipeline: generate reads every component; run only the UNet, the manifest and the scheduler config.
    const pipe: [string, string, string[]][] = [
      ['tgate.json not JSON', damaged((d) => fs.writeFileSync(path.join(d, 'tgate.json'), '{"format": "tgate/3", '), pipeline), ['generate']],
      [
        'text encoder symlinked outside',
        damaged((d) => {
          fs.rmSync(path.join(d, 'text_encoder/model.onnx'));
          fs.symlinkSync(outside, path.join(d, 'text_encoder/model.onnx'));
        }, pipeline),
        ['generate'],
      ],
      [
        'a component file named outside',
        damaged((d) => editManifest(d, (m) => (m.pipeline.components.tokenizer.files[0] = '../../secret.txt')), pipeline),
        ['generate'],
      ],
      ['unet graphs not ONNX', damaged((d) => garbage(path.join(d, 'unet')), pipeline), ['generate']],
      [
        'scheduler config a folder',
        damaged((d) => {
          fs.rmSync(path.join(d, 'scheduler/scheduler_config.json'));
          fs.mkdirSync(path.join(d, 'scheduler/scheduler_config.json'));
        }, pipeline),
        ['generate', 'run'],
      ],
    ];
    const cases: [string, string, string[]][] = [];
    for (const [what, dir, cmds] of [...single, ...pipe]) for (const cmd of cmds) cases.push([what, cmd, COMMANDS[cmd]!(dir)]);
    const runs = await all(cases.map((c) => c[2]));
    const got = runs.map((r, i) => `${cases[i]![0]} / ${cases[i]![1]}: exit ${r.status ?? r.signal}${/what to do: \S/.test(r.stderr) ? '' : ' (no hint)'}`);
    expect(got).toEqual(cases.map(([what, cmd]) => `${what} / ${cmd}: exit 3`));
    for (const r of runs) expect(r.stderr + r.stdout).not.toContain('tgate-secret');
  }, 300_000);

  it('a compiled pipeline checks every file it reads: components, configs, tokenizers', () => {
    const fifo = damaged((d) => {
      if (HAS_MKFIFO) mkfifo(path.join(d, 'tokenizer/tokenizer.json'));
      else fs.mkdirSync(path.join(d, 'tokenizer/tokenizer.json.d'));
    }, pipeline);
    if (HAS_MKFIFO)
      expect(thrown(() => readPipelineFolder(fifo))).toMatchObject({
        code: 'E_NOT_REGULAR_FILE',
        message: expect.stringMatching(
          /tokenizer file "tokenizer\/tokenizer\.json" \(pipeline\.components\["tokenizer"\]\.files\[0\] in tgate\.json\) in .* is a FIFO/,
        ),
      });
    const unlisted = damaged((d) => {
      editManifest(d, (m) => delete m.pipeline.components.text_encoder);
      fs.rmSync(path.join(d, 'text_encoder/model.onnx'));
      fs.symlinkSync(outside, path.join(d, 'text_encoder/model.onnx'));
    }, pipeline);
    expect(thrown(() => readPipelineFolder(unlisted))).toMatchObject({
      code: 'E_UNSAFE_LINK',
      message: expect.stringMatching(/text_encoder\/model\.onnx "text_encoder\/model\.onnx" leads outside/),
    });
    expect(readPipelineFolder(pipeline).kind).toBe('sd');
  });
});
