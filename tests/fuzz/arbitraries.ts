// fast-check arbitraries of fuzz cases, one per group: a valid input of the sandbox mutated (an
// ONNX model, a compiled folder's manifest and files, a .npy file, a scheduler config or option
// value, a compiled pipeline, an output target) and a tgate command that reads it, with tiny
// settings so that a case takes about a second.
import fc from 'fast-check';
import type { ByteOp, Case, Group, Interrupt, Mutation, NpyOp, OnnxOp, SpecialKind } from './case.js';
import { HOSTILE_NAMES, HOSTILE_OUTPUTS, HOSTILE_PATHS } from './hostile.js';

// ---- building blocks ---------------------------------------------------------------------------

/** A command line cannot carry NUL (execve ends the string there): argument strings drop those. */
const argSafe = (xs: readonly string[]) => xs.filter((s) => !s.includes('\u0000'));
const hostilePath = fc.constantFrom(...HOSTILE_PATHS);
const hostileName = fc.constantFrom(...HOSTILE_NAMES);
const hostileArgPath = fc.constantFrom(...argSafe(HOSTILE_PATHS));
const hostileArgName = fc.constantFrom(...argSafe(HOSTILE_NAMES));
// Unbiased: fast-check leans small values towards 0 in early runs, and a bounded run is all early
// runs; a position in a file or an index into a graph must land anywhere.
const fraction = fc.noBias(fc.integer({ min: 0, max: 1_000_000 })).map((x) => x / 1_000_000);
const index = fc.noBias(fc.nat({ max: 400 }));

/** JSON values of the wrong type or out of any sensible range. */
export const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  9007199254740993,
  '',
  'high',
  'NaN',
  [],
  [1],
  ['x'],
  {},
  { a: 1 },
];
const wrongValue = fc.oneof(fc.constantFrom(...WRONG_TYPES), hostilePath);

const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fraction, value: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fraction, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fraction, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fraction, count: fc.integer({ min: 1, max: 64 }) }),
);
const truncate: fc.Arbitrary<ByteOp[]> = fraction.map((at) => [{ op: 'truncate' as const, at }]);
const bytesOf = (file: string): fc.Arbitrary<Mutation> =>
  fc.oneof(fc.array(byteOp, { minLength: 1, maxLength: 6 }), truncate).map((ops) => ({ kind: 'bytes' as const, file, ops }));

const specialKind = fc.constantFrom<SpecialKind>(
  'fifo',
  'symlink-secret',
  'symlink-passwd',
  'symlink-zero',
  'symlink-absolute',
  'dir',
  'empty',
  'delete',
  'huge-sparse',
);
const specialOf = (file: string): fc.Arbitrary<Mutation> => specialKind.map((make) => ({ kind: 'special' as const, file, make }));

/** Parts of a command that take a while: interrupted now and then, as Ctrl-C or a CI timeout does. */
const interrupt = (allowKill: boolean): fc.Arbitrary<Interrupt | undefined> =>
  fc.option(
    fc
      .record({
        signal: allowKill ? fc.constantFrom<Interrupt['signal']>('SIGINT', 'SIGTERM', 'SIGKILL') : fc.constantFrom<Interrupt['signal']>('SIGINT', 'SIGTERM'),
        afterMs: fc.noBias(fc.integer({ min: 0, max: 800 })),
      })
      .map((i) => ({ ...i, rerun: i.signal === 'SIGKILL' })),
    { freq: 6, nil: undefined },
  );

const TINY_RUN = ['--steps', '3', '--height', '32', '--width', '32'];
const TINY_BENCH = ['--steps', '2', '--runs', '1', '--no-memory', '--height', '32', '--width', '32'];
const TINY_CALIBRATE = ['--dry-run', '--steps', '3', '--samples', '1'];

function withInterrupt(c: Omit<Case, 'interrupt'>, i: Interrupt | undefined): Case {
  return i ? { ...c, interrupt: i } : c;
}

// ---- ONNX models -------------------------------------------------------------------------------

/** File names a compile writes into its output: external data named like these must never be written through. */
export const OUTPUT_NAMES: readonly string[] = [
  'tgate.json',
  'planning.onnx',
  'gated.onnx',
  'gated-v2.onnx',
  'reuse-self.onnx',
  'fidelity.onnx',
  'weights.onnx_data',
  'report.md',
  'report.json',
];

const externalOp: fc.Arbitrary<OnnxOp> = fc.record({
  op: fc.constant('external' as const),
  where: fc.constantFrom<'initializer' | 'constant' | 'if-branch'>('initializer', 'constant', 'if-branch'),
  index,
  location: fc.oneof(hostilePath, fc.constantFrom(...OUTPUT_NAMES), fc.constant('weights.bin')),
  offset: fc.constantFrom<string | null>('0', '0x0', '0e0', '', '-1', '4096', '18446744073709551616', '1.5', ' 0', null),
  length: fc.constantFrom<string | null>('auto', '0', '1', 'abc', '99999999999', '', null),
  dataFile: fc.constantFrom<string | null>(null, 'weights.bin', ...OUTPUT_NAMES),
  duplicateKey: fc.boolean(),
});

/** External data that is valid (a plain name, decimal offset, right length): compile must succeed. */
const validExternalOp: fc.Arbitrary<OnnxOp> = fc
  .record({
    op: fc.constant('external' as const),
    where: fc.constantFrom<'initializer' | 'constant'>('initializer', 'constant'),
    index,
    file: fc.constantFrom('weights.bin', 'data/unet.bin'),
    offset: fc.constantFrom<string | null>('0', '4096', null),
    length: fc.constantFrom<string | null>('auto', null),
  })
  .map(({ file, ...o }) => ({ ...o, location: file, dataFile: file, duplicateKey: false }));

/** Valid external data in a file named like one of compile's outputs: compiled, or refused, never written through. */
const collidingExternalOp: fc.Arbitrary<OnnxOp> = fc
  .record({
    op: fc.constant('external' as const),
    where: fc.constantFrom<'initializer' | 'constant'>('initializer', 'initializer', 'constant'),
    index,
    file: fc.constantFrom(...OUTPUT_NAMES),
    offset: fc.constantFrom<string | null>('0', null),
    length: fc.constantFrom<string | null>('auto', null),
  })
  .map(({ file, ...o }) => ({ ...o, location: file, dataFile: file, duplicateKey: false }));

const valueKind = fc.constantFrom<'graph-input' | 'graph-output' | 'initializer'>('graph-input', 'graph-output', 'initializer');
const onnxOp: fc.Arbitrary<OnnxOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('rename' as const),
      what: fc.constantFrom<'node-input' | 'node-output' | 'graph-input' | 'graph-output' | 'initializer' | 'node-name'>(
        'node-input',
        'node-output',
        'graph-input',
        'graph-output',
        'initializer',
        'node-name',
      ),
      index,
      slot: fc.nat({ max: 4 }),
      name: fc.oneof(hostileName, fc.record({ sameAs: index })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('dims' as const),
      what: valueKind,
      index,
      dim: fc.nat({ max: 4 }),
      value: fc.oneof(
        fc.constantFrom<number | string>(0, -1, 1, 3, 2 ** 31, 2 ** 40, -(2 ** 62), '', 'N', '\u001b[2J', 'batch_size', 'height'),
        fc.constantFrom<'drop' | 'add'>('drop', 'add'),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('dtype' as const), what: valueKind, index, dtype: fc.constantFrom(0, 2, 3, 6, 7, 9, 10, 11, 16, 17, 99999) }),
  },
  { weight: 4, arbitrary: externalOp },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('attribute' as const),
      index,
      attr: fc.nat({ max: 8 }),
      change: fc.oneof(
        fc.record({ i: fc.constantFrom('-1', '0', '1', '2147483648', '-9223372036854775808', '9223372036854775807', '1000000') }),
        fc.record({ f: fc.constantFrom<number | 'NaN' | 'Inf'>('NaN', 'Inf', -1, 0, 1e30) }),
        fc.record({ ints: fc.array(fc.constantFrom('-1', '0', '1', '3', '99', '9223372036854775807'), { maxLength: 6 }) }),
        fc.record({ s: hostileName }),
        fc.record({ type: fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 99) }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('duplicate' as const),
      what: fc.constantFrom<'node' | 'graph-output' | 'initializer'>('node', 'graph-output', 'initializer'),
      index,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cycle' as const), from: index, to: index }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('op-type' as const),
      index,
      opType: fc.constantFrom(
        'Softmax',
        'MatMul',
        'Conv',
        'Reshape',
        'If',
        'Loop',
        'Scan',
        'Foo',
        '',
        'Attention',
        'MultiHeadAttention',
        'Identity',
        'Constant',
      ),
      domain: fc.constantFrom<string | null>(null, '', 'com.microsoft', 'ai.onnx.ml', 'evil.domain'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('remove' as const),
      what: fc.constantFrom<'node' | 'graph-input' | 'graph-output' | 'initializer'>('node', 'graph-input', 'graph-output', 'initializer'),
      index,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('opset' as const),
      version: fc.constantFrom('0', '1', '7', '13', '21', '99', '9223372036854775807', '-1'),
      irVersion: fc.constantFrom<string | null>(null, '0', '3', '99', '-1'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('text' as const),
      what: fc.constantFrom<'producer' | 'graph-name' | 'doc-string' | 'metadata'>('producer', 'graph-name', 'doc-string', 'metadata'),
      value: hostileName,
    }),
  },
);

const MODEL = 'in/model.onnx';

type Command = { args: string[]; output: string | null; long: boolean };
const cmd = (args: string[], output: string | null, long: boolean): Command => ({ args, output, long });

const modelCommand = (): fc.Arbitrary<Command> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .subarray(['--no-verify', '--report', '--json', '--force'])
        .chain((flags) =>
          fc
            .constantFrom<string[]>([], ['--sites', 'cross'])
            .map((s) => ({ args: ['compile', MODEL, '-o', 'out/c', ...flags, ...s], output: 'out/c', long: true })),
        ),
    },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom<string[]>([], ['--json'], ['--explain'], ['--steps', '1000000000'])
        .map((f) => ({ args: ['inspect', MODEL, ...f], output: null, long: false })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom<string[]>([], ['--json'], ['--markdown'], ['--html'])
        .map((f) => ({ args: ['diff', 'in/orig.onnx', MODEL, ...f], output: null, long: false })),
    },
    { weight: 1, arbitrary: fc.constant(cmd(['bench', MODEL, ...TINY_BENCH], null, true)) },
    { weight: 2, arbitrary: fc.constant(cmd(['calibrate', MODEL, ...TINY_CALIBRATE], null, true)) },
  );

export const modelCase: fc.Arbitrary<Case> = fc.oneof(
  // Structural changes, a few at once.
  {
    weight: 6,
    arbitrary: fc
      .tuple(modelCommand(), fc.array(onnxOp, { minLength: 1, maxLength: 3 }), interrupt(true))
      .map(([cmd, ops, i]) =>
        withInterrupt({ group: 'model', args: cmd.args, output: cmd.output, mutations: [{ kind: 'onnx', file: MODEL, ops }] }, cmd.long ? i : undefined),
      ),
  },
  // Byte flips and truncation of the protobuf.
  {
    weight: 2,
    arbitrary: fc.tuple(modelCommand(), bytesOf(MODEL)).map(([cmd, m]) => ({ group: 'model' as Group, args: cmd.args, output: cmd.output, mutations: [m] })),
  },
  // Valid external data (weights and Constant tensors): every command must work on it.
  // (inspect --steps 1000000000 is refused for its option, whatever the model.)
  {
    weight: 2,
    arbitrary: fc.tuple(modelCommand(), validExternalOp).map(([cmd, op]) => ({
      group: 'model' as Group,
      args: cmd.args,
      output: cmd.output,
      mutations: [{ kind: 'onnx' as const, file: MODEL, ops: [op] }],
      ...(cmd.args.includes('1000000000') ? {} : { expect: 'ok' as const }),
    })),
  },
  // Valid external data named like an output (tgate.json, planning.onnx, ...).
  {
    weight: 2,
    arbitrary: fc
      .tuple(modelCommand(), collidingExternalOp)
      .map(([cmd, op]) => ({ group: 'model' as Group, args: cmd.args, output: cmd.output, mutations: [{ kind: 'onnx' as const, file: MODEL, ops: [op] }] })),
  },
  // The model file itself is not a regular file.
  {
    weight: 1,
    arbitrary: fc.tuple(modelCommand(), specialOf(MODEL)).map(([cmd, m]) => ({ group: 'model' as Group, args: cmd.args, output: cmd.output, mutations: [m] })),
  },
);

// ---- compiled folders --------------------------------------------------------------------------

const COMPILED_FILES = [
  'planning.onnx',
  'reuse-self.onnx',
  'fidelity.onnx',
  'fidelity-reuse-self.onnx',
  'gated.onnx',
  'gated-v2.onnx',
  'gated-v2-fi.onnx',
  'weights.onnx_data',
];

/** Manifest fields worth aiming at (indices wrap around the arrays they meet). */
const MANIFEST_PATHS: (string | number)[][] = [
  ['format'],
  ['weights'],
  ['weightsFiles', 0],
  ['weightsFiles'],
  ['source', 'file'],
  ['source'],
  ['variants', 0, 'file'],
  ['variants', 2, 'file'],
  ['variants', 1, 'name'],
  ['variants', 0, 'inputs', 0, 'shape'],
  ['variants', 0, 'inputs', 3, 'name'],
  ['variants', 0, 'outputs'],
  ['variants'],
  ['gated', 0, 'file'],
  ['gated', 2, 'file'],
  ['gated', 0, 'variants', 1, 'flag'],
  ['gated', 1, 'variants', 0, 'output'],
  ['gated', 0, 'variants'],
  ['gated'],
  ['schedule', 'guidance'],
  ['schedule', 'gateStep'],
  ['schedule', 'spInterval'],
  ['schedule', 'fiInterval'],
  ['schedule', 'warmUp'],
  ['schedule'],
  ['sites', 0, 'tensor'],
  ['sites', 1, 'shape'],
  ['sites', 0, 'kind'],
  ['sites', 1, 'cached'],
  ['sites', 0, 'gatedInput'],
  ['sites'],
  ['source', 'inputs', 0, 'name'],
  ['source', 'inputs', 0, 'dtype'],
  ['source', 'inputs', 2, 'shape'],
  ['source', 'outputs'],
  ['family', 'name'],
  ['family'],
  ['verification'],
];

const NOT_AN_OBJECT = [
  '[]',
  '1',
  '"tgate"',
  'null',
  '',
  '{',
  '{"format":"tgate/2"}',
  '{"format":"tgate/99"}',
  '\ufeff{}',
  '{"format":"tgate/2","format":"tgate/1"}',
];

const manifestMutation = (file: string, dir: string): fc.Arbitrary<Mutation> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('json' as const),
        file: fc.constant(file),
        path: fc.constantFrom(...MANIFEST_PATHS),
        pick: fc.constant(0),
        value: wrongValue,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('json' as const),
        file: fc.constant(file),
        path: fc.constant(null),
        pick: fc.noBias(fc.nat({ max: 5000 })),
        value: wrongValue,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('json' as const),
        file: fc.constant(file),
        path: fc.constantFrom(...MANIFEST_PATHS),
        pick: fc.constant(0),
        remove: fc.constant(true),
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...NOT_AN_OBJECT).map((text) => ({ kind: 'text' as const, file, text })) },
    { weight: 1, arbitrary: bytesOf(file) },
    { weight: 2, arbitrary: specialOf(file) },
    { weight: 3, arbitrary: fc.constantFrom(...COMPILED_FILES).chain((f) => fc.oneof(specialOf(`${dir}/${f}`), bytesOf(`${dir}/${f}`))) },
  );

const compiledCommand = (dir: string): fc.Arbitrary<Command> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom<string[]>([], ['--json'], ['--explain']).map((f) => ({ args: ['inspect', dir, ...f], output: null, long: false })),
    },
    { weight: 2, arbitrary: fc.constantFrom<string[]>([], ['--json'], ['--markdown']).map((f) => ({ args: ['diff', dir, ...f], output: null, long: false })) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom<string[]>([], ['--baseline'], ['--tgate-version', '1'], ['--sessions', 'separate'])
        .map((f) => ({ args: ['run', dir, ...TINY_RUN, ...f, '-o', 'out/r.npy'], output: 'out/r.npy', long: true })),
    },
    { weight: 1, arbitrary: fc.constant(cmd(['bench', dir, ...TINY_BENCH], null, true)) },
    { weight: 2, arbitrary: fc.constant(cmd(['calibrate', dir, ...TINY_CALIBRATE], null, true)) },
    { weight: 1, arbitrary: fc.constant(cmd(['generate', dir, '--prompt', 'a red circle', '--steps', '2', '-o', 'out/g.png'], 'out/g.png', false)) },
    // Replacing a compiled folder whose manifest is damaged.
    { weight: 1, arbitrary: fc.constant(cmd(['compile', MODEL, '-o', dir, '--force', '--no-verify'], dir, true)) },
  );

export const manifestCase: fc.Arbitrary<Case> = fc
  .tuple(compiledCommand('in/c'), fc.array(manifestMutation('in/c/tgate.json', 'in/c'), { minLength: 1, maxLength: 2 }), interrupt(false))
  .map(([cmd, mutations, i]) =>
    withInterrupt({ group: 'manifest', args: cmd.args, output: cmd.output, mutations }, cmd.long && cmd.args[0] !== 'run' ? i : undefined),
  );

// ---- .npy files --------------------------------------------------------------------------------

const npyOp: fc.Arbitrary<NpyOp> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('descr' as const),
      value: fc.constantFrom('<f8', '<f2', '<i8', '<i4', '>f4', '|u1', '<c8', 'O', '<U4', '', '|b1', '<f16'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'fortran' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('shape' as const),
      value: fc.constantFrom(
        '()',
        '(0,)',
        '(1, 4, 4)',
        '(1, 4, 4, 4, 1)',
        '(-1, 4, 4, 4)',
        '(2, 4, 4, 4)',
        '(1, 4, 4000000, 4000000)',
        '(1e3,)',
        '(1, 4, 4, 5)',
        '(1, 3, 4, 4)',
        '(0, 4, 4, 4)',
        '(abc)',
        '(1, 8, 12)',
        '(1, 8, 13)',
        '(1, 0, 12)',
        '(9007199254740993,)',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('version' as const), major: fc.constantFrom(0, 2, 3, 255) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('header-len' as const), value: fc.constantFrom(0, 1, 65535, 117) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('magic' as const), at: fc.nat({ max: 5 }), value: fc.nat({ max: 255 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('values' as const),
      value: fc.constantFrom<'NaN' | 'Inf' | '-Inf' | 'huge' | 'denormal'>('NaN', 'Inf', '-Inf', 'huge', 'denormal'),
      all: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('data-truncate' as const), keep: fraction }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('data-append' as const), bytes: fc.constantFrom(1, 4, 4096) }) },
);

type NpyUse = { option: string[]; file: string };
const npyUse: fc.Arbitrary<NpyUse> = fc.constantFrom<NpyUse>(
  { option: ['--latents', 'in/x.npy'], file: 'in/x.npy' },
  { option: ['--cond', 'encoder_hidden_states=in/cond.npy'], file: 'in/cond.npy' },
  { option: ['--uncond', 'encoder_hidden_states=in/cond.npy'], file: 'in/cond.npy' },
  { option: ['--image', 'in/x.npy', '--strength', '0.5'], file: 'in/x.npy' },
);

export const npyCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        npyUse,
        fc.oneof(
          { weight: 4, arbitrary: fc.array(npyOp, { minLength: 1, maxLength: 3 }).map((ops) => ({ kind: 'npy' as const, ops })) },
          { weight: 1, arbitrary: fc.constant(null) },
        ),
        fc.boolean(),
      )
      .chain(([use, m, bench]) =>
        (m ? fc.constant<Mutation>({ ...m, file: use.file }) : fc.oneof(bytesOf(use.file), specialOf(use.file))).map((mutation) => ({
          group: 'npy' as Group,
          args: bench ? ['bench', 'in/c', ...TINY_BENCH, ...use.option] : ['run', 'in/c', ...TINY_RUN, ...use.option, '-o', 'out/r.npy'],
          output: bench ? null : 'out/r.npy',
          mutations: [mutation],
        })),
      ),
  },
  // A hostile path where the .npy is named, or a hostile tensor name in NAME=FILE.
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        npyUse,
        fc.oneof(
          hostileArgPath.map((p) => ({ path: p, name: null })),
          fc.constantFrom('nosuch', '', 'sample', 'timestep', 'encoder_hidden_states ', ' encoder_hidden_states').map((name) => ({ path: null, name })),
          hostileArgName.map((name) => ({ path: null, name })),
        ),
      )
      .map(([use, h]) => {
        const named = use.option[1]!.includes('=');
        const file = h.path === null ? use.file : `in/${h.path}`;
        const name = h.name === null || !named ? 'encoder_hidden_states' : h.name;
        const option = use.option.map((a, k) => (k !== 1 ? a : named ? `${name}=${file}` : file));
        return { group: 'npy' as Group, args: ['run', 'in/c', ...TINY_RUN, ...option, '-o', 'out/r.npy'], output: 'out/r.npy', mutations: [] };
      }),
  },
);

// ---- scheduler configs and option values -------------------------------------------------------

const SCHEDULER_KEYS = [
  'num_train_timesteps',
  'beta_start',
  'beta_end',
  'beta_schedule',
  'trained_betas',
  'steps_offset',
  'prediction_type',
  'timestep_spacing',
  'clip_sample',
  'set_alpha_to_one',
  '_class_name',
  'solver_order',
  'algorithm_type',
  'original_inference_steps',
  'timestep_scaling',
  'rescale_betas_zero_snr',
  'thresholding',
  'clip_sample_range',
  'use_karras_sigmas',
  'final_sigmas_type',
];
const SCHEDULER_VALUES: readonly unknown[] = [
  0,
  -1,
  1,
  2,
  1.5,
  1e9,
  1e308,
  -1e308,
  0.5,
  0.9999,
  2 ** 53,
  null,
  true,
  'x',
  '',
  [],
  {},
  [0.1, 0.2],
  Array.from({ length: 999 }, () => 0.01),
  Array.from({ length: 1000 }, () => 1.5),
  Array.from({ length: 1000 }, () => -0.01),
  'linear',
  'scaled_linear',
  'squaredcos_cap_v2',
  'sample',
  'v_prediction',
  'trailing',
  'linspace',
  'DDIMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'PNDMScheduler',
  'LCMScheduler',
  'FooScheduler',
];
const schedulerMutation = (file: string): fc.Arbitrary<Mutation> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('json' as const),
        file: fc.constant(file),
        path: fc.constantFrom(...SCHEDULER_KEYS).map((k) => [k]),
        pick: fc.constant(0),
        value: fc.constantFrom(...SCHEDULER_VALUES),
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...NOT_AN_OBJECT, '{"num_train_timesteps": 1e999}', '{"num_train_timesteps": NaN}')
        .map((text) => ({ kind: 'text' as const, file, text })),
    },
    { weight: 1, arbitrary: specialOf(file) },
  );

/** Option values out of range, of the wrong kind, or absurd; some options only some commands take. */
const OPTION_NAMES = [
  '--steps',
  '--gate-step',
  '--guidance',
  '--height',
  '--width',
  '--batch',
  '--seed',
  '--strength',
  '--sp-interval',
  '--fi-interval',
  '--warm-up',
  '--tgate-version',
  '--threads',
  '--scheduler',
  '--shape',
  '--include',
  '--exclude',
];
const OPTION_VALUES = [
  '0',
  '-1',
  '1.5',
  'abc',
  '',
  '1e3',
  '1001',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '99999999999',
  '1e308',
  ' 3',
  '+3',
  '7',
  '100000',
  'sample=1x4x8x8',
  'height=0',
  '*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*X',
];

export const schedulerCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom(undefined, 'ddim', 'euler', 'euler-ancestral', 'dpmpp-2m', 'pndm', 'lcm'),
        fc.constantFrom('3', '3', '1', '50', '1001', '2000'),
        fc.array(schedulerMutation('in/sched.json'), { minLength: 1, maxLength: 3 }),
      )
      .map(([name, steps, mutations]) => ({
        group: 'scheduler' as Group,
        args: [
          'run',
          'in/c',
          '--steps',
          steps,
          '--height',
          '32',
          '--width',
          '32',
          '--scheduler-config',
          'in/sched.json',
          ...(name ? ['--scheduler', name] : []),
          '-o',
          'out/r.npy',
        ],
        output: 'out/r.npy',
        mutations,
      })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom('run', 'bench', 'inspect', 'calibrate', 'compile'),
        fc.array(fc.tuple(fc.constantFrom(...OPTION_NAMES), fc.constantFrom(...OPTION_VALUES)), { minLength: 1, maxLength: 2 }),
      )
      .map(([cmd, opts]) => {
        const extra = opts.flat();
        const base: Record<string, { args: string[]; output: string | null }> = {
          run: { args: ['run', 'in/c', ...TINY_RUN, '-o', 'out/r.npy'], output: 'out/r.npy' },
          bench: { args: ['bench', 'in/c', ...TINY_BENCH], output: null },
          inspect: { args: ['inspect', 'in/c'], output: null },
          calibrate: { args: ['calibrate', 'in/c', ...TINY_CALIBRATE], output: null },
          compile: { args: ['compile', MODEL, '-o', 'out/c', '--no-verify'], output: 'out/c' },
        };
        const b = base[cmd]!;
        // Later options win in parseArgs: the hostile value replaces the tiny one.
        return {
          group: 'scheduler' as Group,
          args: [...b.args.filter((a) => a !== '-o' && a !== b.output), ...extra, ...(b.output ? ['-o', b.output] : [])],
          output: b.output,
          mutations: [],
        };
      }),
  },
);

// ---- compiled pipelines (generate) -------------------------------------------------------------

const PIPELINE = 'in/p';
const pipelineMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: manifestMutation(`${PIPELINE}/tgate.json`, `${PIPELINE}/unet`) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      file: fc.constant(`${PIPELINE}/tgate.json`),
      path: fc.constantFrom<(string | number)[]>(
        ['pipeline', 'denoiser'],
        ['pipeline', 'components', 'text_encoder', 'files', 0],
        ['pipeline', 'components', 'tokenizer', 'files', 1],
        ['pipeline', 'components'],
        ['pipeline'],
      ),
      pick: fc.constant(0),
      value: wrongValue,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      file: fc.constant(`${PIPELINE}/model_index.json`),
      path: fc.constant(null),
      pick: fc.noBias(fc.nat({ max: 100 })),
      value: wrongValue,
    }),
  },
  { weight: 2, arbitrary: schedulerMutation(`${PIPELINE}/scheduler/scheduler_config.json`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json').chain((f) =>
      fc.oneof(
        fc.record({
          kind: fc.constant('json' as const),
          file: fc.constant(`${PIPELINE}/${f}`),
          path: fc.constant(null),
          pick: fc.noBias(fc.nat({ max: 400 })),
          value: wrongValue,
        }),
        bytesOf(`${PIPELINE}/${f}`),
      ),
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('text_encoder/model.onnx', 'unet/gated-v2.onnx', 'scheduler/scheduler_config.json', 'model_index.json')
      .chain((f) => fc.oneof(specialOf(`${PIPELINE}/${f}`), bytesOf(`${PIPELINE}/${f}`))),
  },
);

export const pipelineCase: fc.Arbitrary<Case> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.array(pipelineMutation, { minLength: 1, maxLength: 2 }), fc.constantFrom('generate', 'generate', 'run', 'inspect'))
      .map(([mutations, cmd]) => ({
        group: 'pipeline' as Group,
        args:
          cmd === 'generate'
            ? ['generate', PIPELINE, '--prompt', 'a red circle', '--steps', '2', '-o', 'out/g.png']
            : cmd === 'run'
              ? ['run', PIPELINE, ...TINY_RUN, '-o', 'out/r.npy']
              : ['inspect', PIPELINE],
        output: cmd === 'generate' ? 'out/g.png' : cmd === 'run' ? 'out/r.npy' : null,
        mutations,
      })),
  },
  // Prompts: control characters, huge, empty.
  {
    weight: 1,
    arbitrary: fc.tuple(hostileArgName, fc.boolean()).map(([prompt, negative]) => ({
      group: 'pipeline' as Group,
      args: ['generate', PIPELINE, '--prompt', prompt, ...(negative ? ['--negative-prompt', prompt] : []), '--steps', '2', '-o', 'out/g.png'],
      output: 'out/g.png',
      mutations: [],
    })),
  },
);

// ---- output targets ----------------------------------------------------------------------------

/** Existing regular files among the output targets: a file output (-o FILE) may replace them. */
const EXISTING_FILES = new Set(['in/model.onnx', 'secret.bin']);

/**
 * Whether a command may write at `target` (relative to the sandbox): fresh places under out/; a
 * compiled folder it is told to replace; and, for a command that writes one file (run -o,
 * diff -o, generate -o), an existing file named as that file, as a shell's `>` would.
 */
function writable(target: string, args: string[], fileOutput: boolean): boolean {
  if (target === 'out' ? !fileOutput : target.startsWith('out/')) return true;
  if (fileOutput && EXISTING_FILES.has(target)) return true;
  return target === 'in/c' && args[0] === 'compile' && args.includes('--force');
}

export const outputCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom('compile', 'compile', 'run', 'trajectory', 'diff-html', 'diff-dir', 'generate', 'demo'),
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...argSafe(HOSTILE_OUTPUTS)) }, { weight: 1, arbitrary: fc.constantFrom('out/new', 'out/new.npy') }),
    fc.boolean(),
    interrupt(true),
  )
  .map(([cmd, target, force, i]) => {
    const forced = force ? ['--force'] : [];
    const args: Record<string, string[]> = {
      compile: ['compile', MODEL, '-o', target, '--no-verify', ...forced],
      run: ['run', 'in/c', ...TINY_RUN, '-o', target],
      trajectory: ['run', 'in/c', ...TINY_RUN, '--save-trajectory', target],
      'diff-html': ['diff', 'in/orig.onnx', MODEL, '--html', '-o', target],
      'diff-dir': ['diff', 'in/c', '--markdown', '-o', target],
      generate: ['generate', PIPELINE, '--prompt', 'a red circle', '--steps', '2', '-o', target],
      demo: ['demo', '-o', target, '--samples', '1', '--steps', '2'],
    };
    const a = args[cmd]!;
    const may = writable(target, a, ['run', 'diff-html', 'diff-dir', 'generate'].includes(cmd));
    // A trajectory folder is a container: new files may go into any existing folder named.
    const c: Case = { group: 'output', args: a, output: may ? target : null, ...(cmd === 'trajectory' && !may ? { addsInto: target } : {}), mutations: [] };
    return cmd === 'compile' && i ? { ...c, interrupt: i } : c;
  });

export const ARBITRARIES: Record<Group, fc.Arbitrary<Case>> = {
  model: modelCase,
  manifest: manifestCase,
  npy: npyCase,
  scheduler: schedulerCase,
  pipeline: pipelineCase,
  output: outputCase,
};

/** The unmutated command of every kind the groups run: each must pass every property (exit 0). */
export const BASELINES: Case[] = [
  { group: 'model', args: ['compile', MODEL, '-o', 'out/c'], output: 'out/c', mutations: [] },
  { group: 'model', args: ['inspect', MODEL, '--explain'], output: null, mutations: [] },
  { group: 'model', args: ['diff', 'in/orig.onnx', MODEL, '--html', '-o', 'out/d.html'], output: 'out/d.html', mutations: [] },
  { group: 'model', args: ['bench', MODEL, ...TINY_BENCH], output: null, mutations: [] },
  { group: 'model', args: ['calibrate', MODEL, ...TINY_CALIBRATE], output: null, mutations: [] },
  { group: 'manifest', args: ['inspect', 'in/c'], output: null, mutations: [] },
  { group: 'manifest', args: ['diff', 'in/c', '--markdown', '-o', 'out/d.md'], output: 'out/d.md', mutations: [] },
  {
    group: 'npy',
    args: ['run', 'in/c', ...TINY_RUN, '--cond', 'encoder_hidden_states=in/cond.npy', '--latents', 'in/x.npy', '--save-trajectory', 'out/t'],
    output: 'out/t',
    mutations: [],
  },
  {
    group: 'scheduler',
    args: ['run', 'in/c', ...TINY_RUN, '--scheduler-config', 'in/sched.json', '--scheduler', 'euler', '-o', 'out/r.npy'],
    output: 'out/r.npy',
    mutations: [],
  },
  { group: 'manifest', args: ['calibrate', 'in/c', ...TINY_CALIBRATE], output: null, mutations: [] },
  { group: 'pipeline', args: ['generate', PIPELINE, '--prompt', 'a red circle', '--steps', '2', '-o', 'out/g.png'], output: 'out/g.png', mutations: [] },
  { group: 'output', args: ['compile', MODEL, '-o', 'in/c', '--force', '--no-verify'], output: 'in/c', mutations: [] },
];
