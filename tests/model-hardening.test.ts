// Hostile and malformed models (issue 12, items 4, 9, 10, 11): external data in every place a
// tensor can live, malformed references, a valid Constant in external data, cycles, duplicate
// names, unsorted graphs, graphs too large for the heap, absurd step counts and a glob that
// made a backtracking matcher run for minutes. Models are built in code; the CLI runs as a child.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compile } from '../build/compile.js';
import { decodeModel } from '../io/decode.js';
import { externalRefOf } from '../io/external-data.js';
import { countGraphNodes, refuseOversizedGraph } from '../io/graph-size.js';
import { encodeModelSpec, tensorProto, tensorSpecBytes, type GraphSpec, type ModelSpec, type NodeSpec, type TensorSpec } from '../fixtures/model-spec.js';
import { verifyGraph } from '../ir/verify.js';
import { planSchedule } from '../build/schedule.js';
import { globMatches } from '../build/site-selection.js';
import { chainedUnetSpec } from '../fixtures/chained-unet.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { deadCodeElimination } from '../passes/dead-code-elimination.js';
import { proveArtifacts } from '../runtime/prove.js';
import { tgate } from './helpers/cli.js';
import { writeWithExternalData } from './helpers/models.js';
import { CLI, ROOT, scratch, sha256 } from './helpers/paths.js';

const SECRET = 'the secret bytes tgate must never copy into an output\n'.repeat(40);

/** A folder `<work>/src` holding model.onnx, and `<work>/secret.bin` beside (outside) it. */
function hostile(spec: ModelSpec): { work: string; model: string } {
  const work = scratch();
  fs.mkdirSync(path.join(work, 'src'));
  fs.writeFileSync(path.join(work, 'secret.bin'), SECRET);
  const model = path.join(work, 'src/model.onnx');
  fs.writeFileSync(model, encodeModelSpec(spec));
  return { work, model };
}

const outside = (name: string): TensorSpec => ({ name, dtype: 2, dims: [16], external: { location: '../secret.bin', offset: 0, length: 16 } });
const boolTrue: TensorSpec = { name: 'tgate_test.cond', dtype: 9, dims: [], raw: Uint8Array.of(1) };

/** A branch graph yielding `out` from a Constant of `t` (or, with asInitializer, an initializer). */
function branch(out: string, t: TensorSpec, asInitializer = false): GraphSpec {
  return asInitializer
    ? {
        inputs: [],
        outputs: [{ name: out, dtype: 2, shape: [16] }],
        initializers: [{ ...t, name: `${out}.w` }],
        nodes: [{ op: 'Identity', inputs: [`${out}.w`], outputs: [out] }],
      }
    : {
        inputs: [],
        outputs: [{ name: out, dtype: 2, shape: [16] }],
        initializers: [],
        nodes: [{ op: 'Constant', inputs: [], outputs: [out], attrs: { value: { t: { ...t, name: `${out}.c` } } } }],
      };
}

/** The tiny UNet plus unused nodes that hold a tensor somewhere other than an initializer. */
function unetWith(nodes: NodeSpec[]): ModelSpec {
  const spec = tinyUnetSpec();
  return { ...spec, initializers: [...spec.initializers, boolTrue], nodes: [...spec.nodes, ...nodes] };
}

const PLACES: [string, NodeSpec[]][] = [
  [
    'a Constant node (attribute value)',
    [{ op: 'Constant', name: '/evil/Constant', inputs: [], outputs: ['evil'], attrs: { value: { t: outside('evil.t') } } }],
  ],
  [
    'a TENSORS attribute',
    [{ op: 'Identity', name: '/evil/Identity', inputs: ['tgate_test.cond'], outputs: ['evil'], attrs: { payload: { tensors: [outside('evil.t')] } } }],
  ],
  [
    'a SPARSE_TENSOR attribute',
    [
      {
        op: 'Constant',
        name: '/evil/Sparse',
        inputs: [],
        outputs: ['evil'],
        attrs: {
          sparse_value: {
            sparse: {
              values: outside('evil.values'),
              indices: { name: 'evil.indices', dtype: 7, dims: [16], values: Array.from({ length: 16 }, (_, i) => i) },
              dims: [32],
            },
          },
        },
      },
    ],
  ],
  [
    'an initializer of an If branch',
    [
      {
        op: 'If',
        name: '/evil/If',
        inputs: ['tgate_test.cond'],
        outputs: ['evil'],
        attrs: {
          then_branch: { g: branch('then_out', outside('x'), true) },
          else_branch: { g: branch('else_out', { name: 'ok', dtype: 2, dims: [16], raw: new Uint8Array(16) }) },
        },
      },
    ],
  ],
  [
    'a Constant in a Loop body inside an If branch',
    [
      {
        op: 'If',
        name: '/evil/If',
        inputs: ['tgate_test.cond'],
        outputs: ['evil'],
        attrs: {
          then_branch: {
            g: {
              inputs: [],
              outputs: [{ name: 'then_out', dtype: 2, shape: [16] }],
              initializers: [],
              nodes: [
                {
                  op: 'Loop',
                  name: '/evil/If/Loop',
                  inputs: ['', 'tgate_test.cond'],
                  outputs: ['then_out'],
                  attrs: {
                    body: {
                      g: {
                        inputs: [
                          { name: 'i', dtype: 7, shape: [] },
                          { name: 'c', dtype: 9, shape: [] },
                        ],
                        outputs: [
                          { name: 'c_out', dtype: 9, shape: [] },
                          { name: 'scan', dtype: 2, shape: [16] },
                        ],
                        initializers: [],
                        nodes: [
                          { op: 'Identity', inputs: ['c'], outputs: ['c_out'] },
                          { op: 'Constant', name: '/evil/If/Loop/Constant', inputs: [], outputs: ['scan'], attrs: { value: { t: outside('deep') } } },
                        ],
                      },
                    },
                  },
                },
              ],
            },
          },
          else_branch: { g: branch('else_out', { name: 'ok', dtype: 2, dims: [16], raw: new Uint8Array(16) }) },
        },
      },
    ],
  ],
];

describe('external data is checked in every tensor, wherever it lives (issue 12, item 4)', () => {
  it.each(PLACES)('../secret.bin in %s: refused before anything is written, even without the proof', async (_place, nodes) => {
    const { work, model } = hostile(unetWith(nodes));
    await expect(compile(model, { outDir: path.join(work, 'out'), prover: null })).rejects.toMatchObject({
      code: 'E_EXTERNAL_DATA_UNSAFE',
      message: expect.stringMatching(/"\.\.\/secret\.bin", outside the model's folder/),
    });
    expect(fs.readdirSync(work).sort()).toEqual(['secret.bin', 'src']);
  });

  it('the CLI: exit 3 with the tensor and where it lives named (compile --no-verify, inspect)', () => {
    const { work, model } = hostile(unetWith(PLACES[4]![1]));
    const r = tgate(['compile', model, '-o', path.join(work, 'out'), '--no-verify']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(
      /E_EXTERNAL_DATA_UNSAFE.*"deep" \(attribute value of Constant node \/evil\/If\/Loop\/Constant in subgraph body of Loop node \/evil\/If\/Loop in subgraph then_branch of If node \/evil\/If\)/,
    );
    expect(fs.existsSync(path.join(work, 'out'))).toBe(false);
    expect(tgate(['inspect', model]).status).toBe(3);
  });

  it('inspect reads graphs shipped without their data (the references are still checked)', () => {
    const work = scratch();
    const model = writeWithExternalData(path.join(work, 'src'), tinyUnetSpec(), 'model.onnx_data');
    fs.rmSync(path.join(work, 'src/model.onnx_data'));
    expect(tgate(['inspect', model]).status).toBe(0);
    expect(tgate(['compile', model, '-o', path.join(work, 'out'), '--no-verify']).stderr).toMatch(/E_EXTERNAL_DATA_MISSING/);
  });

  // A data file of the right size beside the model, and references to it that are malformed.
  const weight: TensorSpec = { name: 'evil.w', dtype: 1, dims: [4, 4], values: Array.from({ length: 16 }, (_, i) => i) };
  const entries = (...e: [string, string][]): NodeSpec[] => [
    { op: 'Constant', name: '/evil/Constant', inputs: [], outputs: ['evil'], attrs: { value: { t: { ...weight, externalEntries: e } } } },
  ];
  const loc: [string, string] = ['location', 'w.bin'];
  const BAD: [string, NodeSpec[], RegExp][] = [
    ['a key given twice', entries(loc, ['offset', '0'], ['offset', '64'], ['length', '64']), /gives "offset" twice/],
    ['a location given twice', entries(loc, ['location', 'other.bin'], ['length', '64']), /gives "location" twice/],
    ['a hexadecimal offset', entries(loc, ['offset', '0x0'], ['length', '64']), /offset "0x0" is not a byte count/],
    ['an offset in exponent form', entries(loc, ['offset', '0e0'], ['length', '64']), /offset "0e0" is not a byte count/],
    ['an empty offset', entries(loc, ['offset', ''], ['length', '64']), /offset "" is not a byte count/],
    ['a negative offset', entries(loc, ['offset', '-1'], ['length', '64']), /offset "-1" is not a byte count/],
    ['an offset with spaces', entries(loc, ['offset', ' 0'], ['length', '64']), /offset " 0" is not a byte count/],
    ['a fractional length', entries(loc, ['offset', '0'], ['length', '64.0']), /length "64\.0" is not a byte count/],
    ['a length that is not the tensor size', entries(loc, ['offset', '0'], ['length', '60']), /length 60 is not its size: \[4, 4\] float32 is 64 bytes/],
    ['a key onnxruntime does not know', entries(loc, ['offset', '0'], ['length', '64'], ['basepath', '/etc']), /the key "basepath"/],
    ['bytes past the end of the file', entries(loc, ['offset', '64'], ['length', '64']), /needs bytes 64\.\.128 of "w\.bin", but the file has 64 bytes/],
    ['no location', entries(['offset', '0'], ['length', '64']), /names no location/],
    ['a location with a NUL byte', entries(['location', 'w.bin\u0000.txt'], ['length', '64']), /control characters/],
  ];
  it.each(BAD)('%s: E_EXTERNAL_DATA_INVALID naming the tensor', async (_what, nodes, message) => {
    const work = scratch();
    fs.mkdirSync(path.join(work, 'src'));
    fs.writeFileSync(path.join(work, 'src/w.bin'), tensorSpecBytes(weight));
    const model = path.join(work, 'src/model.onnx');
    fs.writeFileSync(model, encodeModelSpec(unetWith(nodes)));
    await expect(compile(model, { outDir: path.join(work, 'out'), prover: null })).rejects.toMatchObject({
      code: 'E_EXTERNAL_DATA_INVALID',
      message: expect.stringMatching(message),
    });
    expect(fs.readdirSync(work)).toEqual(['src']);
  });

  it('the same rules for initializers: a wrong length is refused (it used to pass)', () => {
    expect(() => externalRefOf(tensorProto({ ...weight, external: { location: 'w.bin', offset: 0, length: 63 } }))).toThrow(
      /"evil\.w" \(initializer\).*length 63 is not its size/,
    );
    expect(externalRefOf(tensorProto({ ...weight, external: { location: 'w.bin', offset: 4096, length: 64 } }))).toEqual({
      tensor: 'evil.w',
      location: 'w.bin',
      offset: 4096,
      length: 64,
    });
  });
});

/** The tiny UNet with its first weight of 1 KiB or more as a Constant node, all data in model.onnx_data. */
function unetWithExternalConstant(dir: string, where: 'top' | 'subgraph' = 'top'): { model: string; constant: string } {
  const spec = tinyUnetSpec();
  const idx = spec.initializers.findIndex((t) => tensorSpecBytes(t).length >= 1024);
  const w = spec.initializers[idx]!;
  const rest = { ...spec, initializers: spec.initializers.filter((_, i) => i !== idx) };
  const model = writeWithExternalData(dir, rest, 'model.onnx_data');
  const data = path.join(dir, 'model.onnx_data');
  const offset = fs.statSync(data).size;
  const bytes = tensorSpecBytes(w);
  fs.appendFileSync(data, bytes);
  const t: TensorSpec = { name: `${w.name}.value`, dtype: w.dtype, dims: w.dims, external: { location: 'model.onnx_data', offset, length: bytes.length } };
  // The rest as writeWithExternalData laid it out (the same file, from offset 0).
  let at = 0;
  const initializers = rest.initializers.map((x) => {
    const b = tensorSpecBytes(x);
    if (b.length < 64) return x;
    const e = { location: 'model.onnx_data', offset: at, length: b.length };
    at += b.length;
    return { name: x.name, dtype: x.dtype, dims: x.dims, external: e };
  });
  const constant: NodeSpec =
    where === 'top'
      ? { op: 'Constant', name: '/conv_in/weight_constant', inputs: [], outputs: [w.name], attrs: { value: { t } } }
      : {
          op: 'If',
          name: '/conv_in/weight_if',
          inputs: ['tgate_test.cond'],
          outputs: [w.name],
          attrs: {
            then_branch: {
              g: {
                inputs: [],
                outputs: [{ name: 'w_then', dtype: w.dtype, shape: w.dims }],
                initializers: [],
                nodes: [{ op: 'Constant', inputs: [], outputs: ['w_then'], attrs: { value: { t } } }],
              },
            },
            else_branch: {
              g: {
                inputs: [],
                outputs: [{ name: 'w_else', dtype: w.dtype, shape: w.dims }],
                initializers: [],
                nodes: [{ op: 'Constant', inputs: [], outputs: ['w_else'], attrs: { value: { t: { ...t, name: 'w_else.value' } } } }],
              },
            },
          },
        };
  fs.writeFileSync(
    model,
    encodeModelSpec({ ...rest, initializers: where === 'top' ? initializers : [...initializers, boolTrue], nodes: [constant, ...rest.nodes] }),
  );
  return { model, constant: w.name };
}

describe('a valid model whose Constant lives in external data (issue 12, item 4)', () => {
  it('compiles, proven: the Constant becomes an initializer in the shared, still linked data file', async () => {
    const work = scratch();
    const { model, constant } = unetWithExternalConstant(path.join(work, 'src'));
    const dataHash = sha256(fs.readFileSync(path.join(work, 'src/model.onnx_data')));
    const out = path.join(work, 'out');
    // Before: onnxruntime refused the gated model ("potential hardlink attack"), E_VERIFY_FAILED.
    const r = await compile(model, { outDir: out, prover: (req) => proveArtifacts(req) });
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true, gatedBitExact: true, shapesConfirmed: true });
    expect(r.weights.mode).toBe('linked');
    expect(fs.statSync(path.join(out, 'model.onnx_data')).ino).toBe(fs.statSync(path.join(work, 'src/model.onnx_data')).ino);
    expect(sha256(fs.readFileSync(path.join(work, 'src/model.onnx_data')))).toBe(dataHash);
    const planning = decodeModel(fs.readFileSync(path.join(out, 'planning.onnx')), 'planning.onnx').graph;
    expect(planning.value(constant)!.producer).toBeNull();
    expect(planning.nodes.some((n) => n.name === '/conv_in/weight_constant')).toBe(false);
    expect(planning.value(constant)!.constant!.external).toMatchObject({ location: 'model.onnx_data' });
  });

  it('external data in a subgraph node is refused up front with the way out (onnxruntime cannot load it linked)', async () => {
    const work = scratch();
    const { model } = unetWithExternalConstant(path.join(work, 'src'), 'subgraph');
    await expect(compile(model, { outDir: path.join(work, 'out'), prover: null })).rejects.toMatchObject({
      code: 'E_UNSUPPORTED_MODEL',
      message: expect.stringMatching(
        /"[^"]+" \(attribute value of Constant node \(unnamed\) in subgraph (then|else)_branch of If node \/conv_in\/weight_if\) .*keeps its data in an external file \(and 1 more/,
      ),
    });
    expect(fs.readdirSync(work)).toEqual(['src']);
  });
});

/** The tiny UNet with one node's input rewired to a later node's output: a cycle. */
function cyclicUnet(): ModelSpec {
  const spec = tinyUnetSpec();
  const nodes = spec.nodes.slice();
  const i = 5;
  const j = nodes.length - 5;
  nodes[i] = { ...nodes[i]!, inputs: [nodes[j]!.outputs[0]!, ...nodes[i]!.inputs.slice(1)] };
  return { ...spec, nodes };
}

function writeModel(spec: ModelSpec): { work: string; model: string } {
  const work = scratch();
  const model = path.join(work, 'model.onnx');
  fs.writeFileSync(model, encodeModelSpec(spec));
  return { work, model };
}

describe('malformed graphs are input errors, named, never a crash (issue 12, items 9 and 10)', () => {
  it('a cycle: exit 3 at once from compile and inspect, the nodes along it named (it used to grow to 2 GB and crash)', () => {
    const { work, model } = writeModel(cyclicUnet());
    for (const args of [
      ['compile', model, '-o', path.join(work, 'out'), '--no-verify'],
      ['inspect', model],
    ]) {
      const r = tgate(args);
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/E_NOT_ONNX: The graph has a cycle: \/Transpose_7 -> \/Reshape_9 -> .* -> \/down\/Conv_5 -> \/Transpose_7/);
    }
  });

  it('the verifier names a cycle an edit made', () => {
    const g = decodeModel(encodeModelSpec(tinyUnetSpec()), 'm').graph;
    const [a, b] = [g.nodes[3]!, g.nodes[6]!];
    a.setInput(0, b.outputs[0]!);
    expect(verifyGraph(g).join('\n')).toMatch(/the graph has a cycle: .*-> .*/);
  });

  it('an unsorted (acyclic) graph is put in order and compiles (it used to fail as "internal error")', async () => {
    const spec = tinyUnetSpec();
    const { work, model } = writeModel({ ...spec, nodes: spec.nodes.slice().reverse() });
    const r = await compile(model, { outDir: path.join(work, 'out'), prover: (req) => proveArtifacts(req) });
    expect(r.manifest.verification).toMatchObject({ skipped: false, planningBitExact: true });
    const planning = decodeModel(fs.readFileSync(path.join(work, 'out/planning.onnx')), 'p').graph;
    expect(planning.nodes).toHaveLength(spec.nodes.length);
    expect(verifyGraph(planning)).toEqual([]);
  });

  const spec = tinyUnetSpec();
  const DUPLICATES: [string, ModelSpec, RegExp][] = [
    ['a graph output listed twice', { ...spec, outputs: [spec.outputs[0]!, spec.outputs[0]!] }, /graph output "out_sample" is listed twice/],
    [
      'two nodes producing one name',
      { ...spec, nodes: [...spec.nodes, { op: 'Identity', name: '/again', inputs: ['sample'], outputs: [spec.nodes[0]!.outputs[0]!] }] },
      /is produced twice \(by .* and by \/again\)/,
    ],
    [
      'a node listing an output twice',
      { ...spec, nodes: [...spec.nodes, { op: 'Split', name: '/split', inputs: ['sample'], outputs: ['s', 's'] }] },
      /Node \/split lists the output "s" twice/,
    ],
    ['two initializers with one name', { ...spec, initializers: [...spec.initializers, spec.initializers[0]!] }, /Two initializers are named/],
    ['a graph input listed twice', { ...spec, inputs: [...spec.inputs, spec.inputs[0]!] }, /graph input "sample" is listed twice/],
    [
      'an initializer that a node also produces',
      { ...spec, nodes: [...spec.nodes, { op: 'Identity', name: '/shadow', inputs: ['sample'], outputs: [spec.initializers[0]!.name] }] },
      /produced twice \(as an initializer and by \/shadow\)/,
    ],
  ];
  it.each(DUPLICATES)('%s: E_NOT_ONNX naming the value (it used to be exit 70)', async (_what, bad, message) => {
    const { work, model } = writeModel(bad);
    await expect(compile(model, { outDir: path.join(work, 'out'), prover: null })).rejects.toMatchObject({
      code: 'E_NOT_ONNX',
      message: expect.stringMatching(message),
    });
  });

  it('the CLI: duplicate outputs are exit 3 with a hint', () => {
    const { work, model } = writeModel(DUPLICATES[0]![1]);
    const r = tgate(['compile', model, '-o', path.join(work, 'out'), '--no-verify']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/E_NOT_ONNX.*"out_sample" is listed twice/);
  });

  it('a device or a FIFO as the model: exit 3, never read (it used to read /dev/zero until memory ran out)', () => {
    const r = tgate(['inspect', '/dev/zero']);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/not a regular file/);
  });
});

describe('bounded work (issue 12, item 10)', () => {
  it('a graph too large for the heap is refused before decoding, with the option that raises the limit', () => {
    const bytes = encodeModelSpec(chainedUnetSpec(2000));
    expect(countGraphNodes(bytes)).toBe(2000 + tinyUnetSpec().nodes.length);
    expect(() => refuseOversizedGraph(bytes, 'big.onnx', 8 * 2 ** 20)).toThrow(
      /big\.onnx has 2133 nodes: tgate needs about 17 MiB of JavaScript heap .* may use 8 MiB/,
    );
    expect(() => refuseOversizedGraph(bytes, 'big.onnx', 64 * 2 ** 20)).not.toThrow();
    expect(countGraphNodes(Uint8Array.of(0x3a, 0x05, 0x0a))).toBeNull();
  });

  it('the CLI in a small heap: exit 4 with the reason, not "JavaScript heap out of memory"', () => {
    const { model } = writeModel(chainedUnetSpec(30_000));
    const r = spawnSync(process.execPath, ['--max-old-space-size=128', CLI, 'inspect', model], { encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/E_UNSUPPORTED_MODEL: .* has 30133 nodes/);
  });

  it('a 100k-node graph whose constant feeds 50k nodes: verify and dead-code elimination stay linear (verify was quadratic: minutes)', () => {
    const g = decodeModel(encodeModelSpec(chainedUnetSpec(100_000)), 'chain.onnx').graph;
    expect(g.value('chain.zero')!.useCount).toBe(50_000);
    let t = performance.now();
    expect(verifyGraph(g)).toEqual([]);
    expect(performance.now() - t).toBeLessThan(5000);
    // Cut the chain off: every Add and Relu (and the shared zero's 50k uses) goes.
    g.setOutputs([g.value('chain/v0')!]);
    t = performance.now();
    const r = deadCodeElimination.run(g);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(r.counts.nodesRemoved).toBe(100_000 - 1 + tinyUnetSpec().nodes.length);
    expect(verifyGraph(g)).toEqual([]);
  }, 60_000);

  it('steps and the gate step have a maximum, checked before any work (inspect --steps 1000000000 used to exhaust the heap)', () => {
    expect(() => planSchedule(1_000_000_000, true, { version: 2, gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2 })).toThrow(
      /number of steps must be an integer from 0 to 10000, not 1000000000/,
    );
    expect(() => planSchedule(25, true, { version: 2, gateStep: 1e9, spInterval: 5, fiInterval: 1, warmUp: 2 })).toThrow(
      /gate step must be an integer >= 1 and <= 10000/,
    );
    expect(planSchedule(25, true, { version: 1, gateStep: Infinity, spInterval: 5, fiInterval: 1, warmUp: 2 })).toHaveLength(25);
    const model = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
    for (const args of [
      ['--steps', '1000000000'],
      ['--gate-step', '1000000000'],
    ]) {
      const t = performance.now();
      const r = tgate(['inspect', model, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/must be an integer .*10000/);
      expect(performance.now() - t).toBeLessThan(20_000);
    }
  });
});

describe('--include/--exclude globs (issue 12, item 11)', () => {
  it.each([
    ['*', '/a/b', true],
    ['', '', true],
    ['', 'a', false],
    ['/down*/attn2', '/down_blocks.0/attentions.1/transformer_blocks.0/attn2', true],
    ['*attn2', '/x/attn2', true],
    ['*attn2', '/x/attn2/y', false],
    ['cross.?', 'cross.1', true],
    ['cross.?', 'cross.10', false],
    ['cross.1?', 'cross.10', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['a.b', 'aXb', false],
    ['a+b', 'a+b', true],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['(x|y)', '(x|y)', true],
    ['**', 'anything/at/all', true],
    ['*?', '', false],
    ['?*', 'a', true],
  ])('%j on %j: %s', (glob, text, expected) => {
    expect(globMatches(glob, text)).toBe(expected);
  });

  it('a pathological pattern against long scopes returns in milliseconds (minutes with the RegExp)', () => {
    const glob = '*?'.repeat(30) + '*X';
    const scope = '/down_blocks.0/attentions.1/transformer_blocks.0/attn2'.repeat(20);
    const t = performance.now();
    for (let i = 0; i < 100; i++) expect(globMatches(glob, scope)).toBe(false);
    expect(globMatches(glob, `${scope}X`)).toBe(true);
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
