// config.pbtxt is checked against the official Triton schema, not against itself: every field name,
// field number, repeated-ness, oneof and enum value of build/triton/model-config.ts is looked up in
// the vendored fixtures/triton/model_config.proto (via protobufjs), and the emitted text is read
// back by an independent text-format parser and by protobufjs under inference.ModelConfig.
import { describe, expect, it } from '@jest/globals';
import protobuf from 'protobufjs';
import { TgateError } from '../base/errors.js';
import { DTYPE } from '../ir/dtype.js';
import {
  INSTANCE_GROUP_KINDS,
  KSERVE_DATATYPES,
  MODEL_CONFIG_SCHEMA,
  SEQUENCE_CONTROL_KINDS,
  TRITON_DATA_TYPES,
  dtypeOfKserveDatatype,
  kserveDatatype,
  modelConfigText,
  tritonDataType,
  type ModelConfig,
} from '../build/triton/model-config.js';
import { quote } from '../build/triton/pbtxt.js';
import { modelConfigType, parseModelConfig, parsePbtxt, tritonProtoRoot } from './helpers/pbtxt.js';

const INT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** What the walk saw: 'inference.Message.field' paths and 'inference.Enum:VALUE' values. */
type Seen = Set<string>;

/**
 * Problems with `value` as a message of `type` in the proto: unknown keys, arrays where the field
 * is not repeated (or the reverse), maps that are not objects, enum names the enum lacks, scalars
 * of the wrong JavaScript type, two members of one oneof. Empty when it conforms.
 */
function protoProblems(value: unknown, type: protobuf.Type, at: string, seen: Seen = new Set()): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object for ${type.fullName}`];
  const problems: string[] = [];
  const record = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(record)) {
    const field = type.fields[key];
    const path = `${at}.${key}`;
    if (!field) {
      problems.push(`${path}: ${type.fullName.slice(1)} has no field '${key}'`);
      continue;
    }
    seen.add(`${type.fullName.slice(1)}.${key}`);
    if (field.map) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) problems.push(`${path}: a map field needs an object`);
      else for (const [k, item] of Object.entries(v)) problems.push(...elementProblems(item, field, `${path}[${JSON.stringify(k)}]`, seen));
    } else if (field.repeated) {
      if (!Array.isArray(v)) problems.push(`${path}: a repeated field needs an array`);
      else v.forEach((item, i) => problems.push(...elementProblems(item, field, `${path}[${i}]`, seen)));
    } else if (Array.isArray(v)) {
      problems.push(`${path}: '${key}' is not repeated, but the value is an array`);
    } else {
      problems.push(...elementProblems(v, field, path, seen));
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => record[name] !== undefined);
    if (set.length > 1) problems.push(`${at}: ${set.join(' and ')} are members of oneof ${oneof.name}; set one`);
  }
  return problems;
}

function elementProblems(v: unknown, field: protobuf.FieldBase, path: string, seen: Seen): string[] {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return protoProblems(v, t, path, seen);
  if (t instanceof protobuf.Enum) {
    if (typeof v !== 'string' || !Object.hasOwn(t.values, v)) return [`${path}: '${String(v)}' is not a value of ${t.fullName.slice(1)}`];
    seen.add(`${t.fullName.slice(1)}:${v}`);
    return [];
  }
  const ok =
    field.type === 'string'
      ? typeof v === 'string'
      : field.type === 'bool'
        ? typeof v === 'boolean'
        : INT_TYPES.has(field.type)
          ? Number.isSafeInteger(v) && (!field.type.startsWith('u') || (v as number) >= 0)
          : field.type === 'float' || field.type === 'double'
            ? typeof v === 'number' && Number.isFinite(v)
            : false;
  return ok ? [] : [`${path}: ${JSON.stringify(v)} is not a valid ${field.type}`];
}

/** A stateful gated UNet as the exporter configures it, plus every optional field our types have. */
function statefulConfig(): ModelConfig {
  return {
    name: 'unet_gated',
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 0,
    input: [
      { name: 'latents', data_type: 'TYPE_FP16', dims: [2, 4, -1, -1] },
      { name: 'timestep', data_type: 'TYPE_INT64', dims: [1] },
      { name: 'store', data_type: 'TYPE_BOOL', dims: [1], reshape: { shape: [1, 1] }, optional: true },
    ],
    output: [
      { name: 'noise_pred', data_type: 'TYPE_FP16', dims: [2, 4, -1, -1] },
      { name: 'cache_out_0', data_type: 'TYPE_FP16', dims: [2, 77, 320], reshape: { shape: [154, 320] } },
    ],
    sequence_batching: {
      max_sequence_idle_microseconds: 60_000_000,
      control_input: [
        { name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1], data_type: 'TYPE_INT32' }] },
        { name: 'READY', control: [{ kind: 'CONTROL_SEQUENCE_READY', fp32_false_true: [0, 1] }] },
        { name: 'END', control: [{ kind: 'CONTROL_SEQUENCE_END', bool_false_true: [false, true] }] },
        { name: 'CORRID', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }] },
      ],
      direct: { max_queue_delay_microseconds: 100, minimum_slot_utilization: 0.5 },
      state: [
        {
          input_name: 'cache_in_0',
          output_name: 'cache_out_0',
          data_type: 'TYPE_FP16',
          dims: [2, 77, 320],
          initial_state: [{ data_type: 'TYPE_FP16', dims: [2, 77, 320], zero_data: true, name: 'zeros' }],
          use_same_buffer_for_input_output: false,
        },
        { input_name: 'cache_in_1', output_name: 'cache_out_1', data_type: 'TYPE_FP32', dims: [-1, 8] },
      ],
    },
    instance_group: [
      { name: 'auto', kind: 'KIND_AUTO' },
      { name: 'gpus', kind: 'KIND_GPU', count: 2, gpus: [0, 1] },
      { name: 'cpu', kind: 'KIND_CPU', count: 1 },
    ],
    default_model_filename: 'model.onnx',
    parameters: { cudnn_conv_algo_search: { string_value: 'HEURISTIC' }, enable_mem_arena: { string_value: '1' } },
  };
}

/** A plain model (text encoder, VAE) that batches, with one input of every Triton data type. */
function plainConfig(): ModelConfig {
  return {
    name: 'vae_decoder',
    backend: 'onnxruntime',
    version_policy: { specific: { versions: [1, 3] } },
    max_batch_size: 8,
    input: TRITON_DATA_TYPES.map((data_type, i) => ({ name: `in_${i}`, data_type, dims: [i + 1, -1] })),
    output: [{ name: 'image', data_type: 'TYPE_FP32', dims: [3, -1, -1] }],
    dynamic_batching: { preferred_batch_size: [4, 8], max_queue_delay_microseconds: 500, preserve_ordering: true },
  };
}

/** The other sequence strategy and version policy. */
function oldestConfig(): ModelConfig {
  return {
    name: 'unet_oldest',
    backend: 'onnxruntime',
    version_policy: { all: {} },
    max_batch_size: 4,
    input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [4] }],
    output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [4] }],
    sequence_batching: { oldest: { max_candidate_sequences: 4, preferred_batch_size: [2, 4], max_queue_delay_microseconds: 1000, preserve_ordering: true } },
  };
}

const CONFIGS: Array<[string, () => ModelConfig]> = [
  ['stateful', statefulConfig],
  ['plain', plainConfig],
  ['oldest', oldestConfig],
];

describe('Triton model config: typed data against the official model_config.proto', () => {
  it('the vendored proto is the official schema', () => {
    const root = tritonProtoRoot();
    expect(root.lookupType('inference.ModelConfig').fields.max_batch_size?.id).toBe(4);
    expect(root.lookupEnum('inference.DataType').values.TYPE_FP32).toBe(11);
  });

  it('every schema entry the writer uses has the proto field number, kind, repeated-ness and oneof', () => {
    const root = tritonProtoRoot();
    const problems: string[] = [];
    for (const [message, fields] of Object.entries(MODEL_CONFIG_SCHEMA)) {
      const type = root.lookupType(`inference.${message}`);
      for (const f of fields) {
        const where = `${message}.${f.name}`;
        const pf = type.fields[f.name];
        if (!pf) {
          problems.push(`${where}: no such field in the proto`);
          continue;
        }
        if (pf.id !== f.number) problems.push(`${where}: number ${f.number}, proto says ${pf.id}`);
        if (!!pf.repeated !== !!f.repeated) problems.push(`${where}: repeated ${!!f.repeated}, proto says ${pf.repeated}`);
        if (pf.map !== (f.kind === 'map')) problems.push(`${where}: map-ness differs`);
        if ((pf.partOf?.name ?? undefined) !== f.oneof) problems.push(`${where}: oneof ${f.oneof}, proto says ${pf.partOf?.name}`);
        const rt = pf.resolvedType;
        if (f.kind === 'message' || f.kind === 'map') {
          if (!(rt instanceof protobuf.Type) || rt.fullName !== `.inference.${f.message}`)
            problems.push(`${where}: message ${f.message}, proto says ${pf.type}`);
          if (f.kind === 'map' && (pf as unknown as protobuf.MapField).keyType !== 'string') problems.push(`${where}: map key is not a string`);
        } else if (f.kind === 'enum') {
          if (!(rt instanceof protobuf.Enum)) problems.push(`${where}: not an enum in the proto`);
          else for (const v of f.enumValues ?? []) if (!Object.hasOwn(rt.values, v)) problems.push(`${where}: enum ${rt.name} has no ${v}`);
        } else {
          const want = { string: ['string'], bool: ['bool'], int: [...INT_TYPES], float: ['float', 'double'] }[f.kind];
          if (!want.includes(pf.type)) problems.push(`${where}: kind ${f.kind}, proto type ${pf.type}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the representative configs conform and cover every schema field and every enum value we emit', () => {
    const seen: Seen = new Set();
    for (const [name, make] of CONFIGS) expect(protoProblems(make(), modelConfigType(), name, seen)).toEqual([]);
    const fields = Object.entries(MODEL_CONFIG_SCHEMA).flatMap(([message, fs]) => fs.map((f) => `inference.${message}.${f.name}`));
    expect(fields.filter((f) => !seen.has(f))).toEqual([]);
    const values = [
      ...TRITON_DATA_TYPES.map((v) => `inference.DataType:${v}`),
      ...INSTANCE_GROUP_KINDS.map((v) => `inference.ModelInstanceGroup.Kind:${v}`),
      ...SEQUENCE_CONTROL_KINDS.map((v) => `inference.ModelSequenceBatching.Control.Kind:${v}`),
    ];
    expect(values.filter((v) => !seen.has(v))).toEqual([]);
  });

  it('the checker catches a misspelt field, a wrong enum name, a wrong repeated-ness and two oneof members', () => {
    const T = modelConfigType();
    const misspelt = { ...statefulConfig(), max_batchsize: 0 };
    expect(protoProblems(misspelt, T, 'c')).toEqual(["c.max_batchsize: inference.ModelConfig has no field 'max_batchsize'"]);
    const wrongEnum = statefulConfig();
    (wrongEnum.input[0] as { data_type: string }).data_type = 'TYPE_FLOAT32';
    expect(protoProblems(wrongEnum, T, 'c')).toEqual(["c.input[0].data_type: 'TYPE_FLOAT32' is not a value of inference.DataType"]);
    const nested = statefulConfig();
    (nested.sequence_batching!.state![0] as unknown as Record<string, unknown>).initial_state = {
      data_type: 'TYPE_FP16',
      dims: [1],
      zero_data: true,
      name: 'z',
    };
    expect(protoProblems(nested, T, 'c')).toEqual(['c.sequence_batching.state[0].initial_state: a repeated field needs an array']);
    const scalarDims = statefulConfig();
    (scalarDims.output[0] as unknown as Record<string, unknown>).dims = 4;
    expect(protoProblems(scalarDims, T, 'c')).toEqual(['c.output[0].dims: a repeated field needs an array']);
    const deepTypo = statefulConfig();
    (deepTypo.sequence_batching!.state![0]!.initial_state![0] as unknown as Record<string, unknown>).zero = true;
    expect(protoProblems(deepTypo, T, 'c')).toEqual([
      "c.sequence_batching.state[0].initial_state[0].zero: inference.ModelSequenceBatching.InitialState has no field 'zero'",
    ]);
    const both = { ...statefulConfig(), dynamic_batching: {} };
    expect(protoProblems(both, T, 'c')).toEqual(['c: dynamic_batching and sequence_batching are members of oneof scheduling_choice; set one']);
    const listParams = { ...statefulConfig(), parameters: [{ key: 'a', value: { string_value: 'b' } }] };
    expect(protoProblems(listParams, T, 'c')).toEqual(['c.parameters: a map field needs an object']);
  });

  it.each(CONFIGS)('protobufjs takes the %s config as inference.ModelConfig and gives it back unchanged through the wire format', (_, make) => {
    const T = modelConfigType();
    const config = make();
    const message = T.fromObject(config);
    expect(T.verify(message)).toBeNull();
    const back = T.toObject(T.decode(T.encode(message).finish()), { enums: String, longs: Number });
    expect(back).toEqual(config);
  });
});

describe('Triton model config: protobuf text format', () => {
  it.each(CONFIGS)('the %s config round-trips through its text, read strictly against the proto', (_, make) => {
    const config = make();
    const text = modelConfigText(config, 'Generated by tgate (test)');
    const parsed = parseModelConfig(text);
    expect(parsed).toEqual(config);
    const T = modelConfigType();
    expect(T.verify(T.fromObject(parsed))).toBeNull();
    expect(modelConfigText(parsed as unknown as ModelConfig, 'Generated by tgate (test)')).toBe(text);
  });

  it('writes fields in field-number order, Triton-style lists, sorted map entries (exact text)', () => {
    const config: ModelConfig = {
      backend: 'onnxruntime',
      name: 'unet',
      max_batch_size: 0,
      input: [
        { name: 'latents', data_type: 'TYPE_FP32', dims: [1, 4, 8, 8] },
        { name: 'step', data_type: 'TYPE_INT64', dims: [1] },
      ],
      output: [{ name: 'noise', data_type: 'TYPE_FP32', dims: [1, 4, -1, -1] }],
      sequence_batching: {
        state: [
          {
            input_name: 'cache_in',
            output_name: 'cache_out',
            data_type: 'TYPE_FP32',
            dims: [2, 16],
            initial_state: [{ data_type: 'TYPE_FP32', dims: [2, 16], zero_data: true, name: 'zeros' }],
          },
        ],
        direct: {},
        max_sequence_idle_microseconds: 5000000,
      },
      instance_group: [{ kind: 'KIND_GPU', count: 1 }],
      parameters: { b: { string_value: 'say "hi"\n' }, a: { string_value: 'x' } },
      dynamic_batching: undefined,
    };
    const expected = [
      '# Generated by tgate 0.1.0',
      '#',
      '# from out/sd15',
      'name: "unet"',
      'max_batch_size: 0',
      'input [',
      '  {',
      '    name: "latents"',
      '    data_type: TYPE_FP32',
      '    dims: [ 1, 4, 8, 8 ]',
      '  },',
      '  {',
      '    name: "step"',
      '    data_type: TYPE_INT64',
      '    dims: [ 1 ]',
      '  }',
      ']',
      'output [',
      '  {',
      '    name: "noise"',
      '    data_type: TYPE_FP32',
      '    dims: [ 1, 4, -1, -1 ]',
      '  }',
      ']',
      'instance_group [',
      '  {',
      '    count: 1',
      '    kind: KIND_GPU',
      '  }',
      ']',
      'sequence_batching {',
      '  max_sequence_idle_microseconds: 5000000',
      '  direct { }',
      '  state [',
      '    {',
      '      input_name: "cache_in"',
      '      output_name: "cache_out"',
      '      data_type: TYPE_FP32',
      '      dims: [ 2, 16 ]',
      '      initial_state [',
      '        {',
      '          data_type: TYPE_FP32',
      '          dims: [ 2, 16 ]',
      '          zero_data: true',
      '          name: "zeros"',
      '        }',
      '      ]',
      '    }',
      '  ]',
      '}',
      'parameters {',
      '  key: "a"',
      '  value {',
      '    string_value: "x"',
      '  }',
      '}',
      'parameters {',
      '  key: "b"',
      '  value {',
      '    string_value: "say \\"hi\\"\\n"',
      '  }',
      '}',
      'backend: "onnxruntime"',
      '',
    ].join('\n');
    expect(modelConfigText(config, 'Generated by tgate 0.1.0\n\nfrom out/sd15')).toBe(expected);
    expect(modelConfigText(config)).toBe(expected.split('\n').slice(3).join('\n'));
  });

  it('writes a scalar reshape (an empty shape) as an empty message, which is what it is on the wire', () => {
    const config: ModelConfig = { ...oldestConfig(), input: [{ name: 'flag', data_type: 'TYPE_BOOL', dims: [1], reshape: { shape: [] } }] };
    const text = modelConfigText(config);
    expect(text).toContain('    reshape { }\n');
    const T = modelConfigType();
    const fromWire = T.toObject(T.decode(T.encode(T.fromObject(config)).finish()), { enums: String, longs: Number });
    // Readers see no shape field: an absent repeated field is the empty list.
    expect((parseModelConfig(text).input as unknown[])[0]).toEqual({ name: 'flag', data_type: 'TYPE_BOOL', dims: [1], reshape: {} });
    expect((fromWire.input as unknown[])[0]).toEqual({ name: 'flag', data_type: 'TYPE_BOOL', dims: [1], reshape: {} });
  });

  it('escapes strings as protobuf does and reads them back byte for byte', () => {
    const nasty = 'a"b\\c\n\t\r\'\x01\x7f é 😀';
    expect(quote(nasty)).toBe('"a\\"b\\\\c\\n\\t\\r\\\'\\001\\177 \\303\\251 \\360\\237\\230\\200"');
    const config: ModelConfig = { ...oldestConfig(), name: nasty, parameters: { [nasty]: { string_value: nasty } } };
    const text = modelConfigText(config);
    expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
    expect(parseModelConfig(text)).toEqual(config);
    expect(() => quote('\uD800')).toThrow(TgateError);
  });

  it('refuses data the schema cannot carry instead of dropping it', () => {
    const cases: Array<[string, (c: Record<string, unknown>) => void, RegExp]> = [
      ['a misspelt field', (c) => (c.max_batchsize = 1), /ModelConfig\.max_batchsize.*not a field of ModelConfig/],
      ['a wrong enum', (c) => ((c.input as Array<Record<string, unknown>>)[0]!.data_type = 'TYPE_FLOAT32'), /input\[0\]\.data_type.*TYPE_FLOAT32/],
      ['a fractional dim', (c) => ((c.output as Array<Record<string, unknown>>)[0]!.dims = [1.5]), /output\[0\]\.dims\[0\].*safe integer/],
      ['a scalar for a list', (c) => ((c.output as Array<Record<string, unknown>>)[0]!.dims = 3), /output\[0\]\.dims.*repeated/],
      ['two oneof members', (c) => (c.dynamic_batching = {}), /both set.*scheduling_choice/],
      ['a non-finite float', (c) => ((c.sequence_batching as { direct: Record<string, unknown> }).direct.minimum_slot_utilization = NaN), /finite/],
    ];
    for (const [what, mutate, message] of cases) {
      const c = statefulConfig() as unknown as Record<string, unknown>;
      mutate(c);
      let err: unknown;
      try {
        modelConfigText(c as unknown as ModelConfig);
      } catch (e) {
        err = e;
      }
      expect([what, err instanceof TgateError && err.code]).toEqual([what, 'E_INTERNAL']);
      expect((err as Error).message).toMatch(message);
    }
  });

  it("reads Triton's own documented configuration and rejects text the proto does not allow", () => {
    // From triton-inference-server/server docs/user_guide/implicit_state_management.md.
    const doc = `name: "direct_stateful_model"
platform: "tensorrt_plan"
max_batch_size: 2
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  direct { }
  control_input [
    {
      name: "START"
      control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 1 ] } ]
    },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY fp32_false_true: [ 0, 1 ] } ] }
  ]
  state [
    {
      input_name: "INPUT_STATE"
      output_name: "OUTPUT_STATE"
      data_type: TYPE_INT32
      dims: [ -1 ]
      initial_state: {
       data_type: TYPE_INT32
       dims: [ 1 ]
       zero_data: true
       name: "initial state"
      }
    }
  ]
}
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 100, 100 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 10 ] } ]
instance_group [ { count: 2 } ]
parameters: { key: "k" value: { string_value: "v" } }
`;
    const parsed = parseModelConfig(doc);
    const sb = parsed.sequence_batching as Record<string, unknown>;
    expect(sb.direct).toEqual({});
    expect(sb.state).toEqual([
      {
        input_name: 'INPUT_STATE',
        output_name: 'OUTPUT_STATE',
        data_type: 'TYPE_INT32',
        dims: [-1],
        initial_state: [{ data_type: 'TYPE_INT32', dims: [1], zero_data: true, name: 'initial state' }],
      },
    ]);
    expect((sb.control_input as unknown[]).length).toBe(2);
    expect(parsed.instance_group).toEqual([{ count: 2 }]);
    expect(parsed.parameters).toEqual({ k: { string_value: 'v' } });
    expect(protoProblems(parsed, modelConfigType(), 'doc')).toEqual([]);
    // The untyped mode keeps structure only: one occurrence stays single, lists stay lists.
    const loose = parsePbtxt(doc);
    expect(loose.max_batch_size).toBe(2);
    expect(loose.parameters).toEqual({ key: 'k', value: { string_value: 'v' } });
    expect((loose.sequence_batching as Record<string, unknown>).direct).toEqual({});

    expect(() => parseModelConfig('max_batchsize: 1\n')).toThrow(/'max_batchsize' is not a field of inference.ModelConfig/);
    expect(() => parseModelConfig('input [ { data_type: TYPE_FLOAT32 } ]\n')).toThrow(/'TYPE_FLOAT32' is not a value of enum DataType/);
    expect(() => parseModelConfig('name: "a"\nname: "b"\n')).toThrow(/set more than once/);
    expect(() => parseModelConfig('max_batch_size: [ 1 ]\n')).toThrow(/not repeated/);
    expect(() => parseModelConfig('max_batch_size: 3000000000\n')).toThrow(/out of range for int32/);
    expect(() => parseModelConfig('input { name: "a" \n')).toThrow(/expected '}'/);
  });
});

describe('Triton and KServe data types', () => {
  const CARRIED: Record<string, [string, string]> = {
    bool: ['TYPE_BOOL', 'BOOL'],
    uint8: ['TYPE_UINT8', 'UINT8'],
    uint16: ['TYPE_UINT16', 'UINT16'],
    uint32: ['TYPE_UINT32', 'UINT32'],
    uint64: ['TYPE_UINT64', 'UINT64'],
    int8: ['TYPE_INT8', 'INT8'],
    int16: ['TYPE_INT16', 'INT16'],
    int32: ['TYPE_INT32', 'INT32'],
    int64: ['TYPE_INT64', 'INT64'],
    float16: ['TYPE_FP16', 'FP16'],
    float32: ['TYPE_FP32', 'FP32'],
    float64: ['TYPE_FP64', 'FP64'],
    string: ['TYPE_STRING', 'BYTES'],
    bfloat16: ['TYPE_BF16', 'BF16'],
  };

  it('maps every dtype Triton carries, to values of the proto enum and the KServe datatype list', () => {
    const dataType = tritonProtoRoot().lookupEnum('inference.DataType');
    for (const [dtype, [triton, kserve]] of Object.entries(CARRIED)) {
      expect([dtype, tritonDataType(dtype), kserveDatatype(dtype), dtypeOfKserveDatatype(kserve)]).toEqual([dtype, triton, kserve, dtype]);
      expect(Object.hasOwn(dataType.values, triton)).toBe(true);
      expect(KSERVE_DATATYPES).toContain(kserve);
    }
    // Every Triton data type but TYPE_INVALID has a dtype, and every KServe datatype is reached.
    expect(Object.keys(dataType.values).filter((v) => v !== 'TYPE_INVALID')).toEqual([...TRITON_DATA_TYPES]);
    expect(new Set(Object.values(CARRIED).map(([, k]) => k))).toEqual(new Set(KSERVE_DATATYPES));
  });

  it('refuses, naming it, every ONNX element type Triton cannot carry', () => {
    const refused = Object.keys(DTYPE).filter((d) => !Object.hasOwn(CARRIED, d));
    expect(refused).toEqual(expect.arrayContaining(['complex64', 'float8e4m3fn', 'int4', 'undefined']));
    for (const dtype of [...refused, 'float', 'dtype(99)']) {
      for (const f of [tritonDataType, kserveDatatype]) {
        let err: unknown;
        try {
          f(dtype);
        } catch (e) {
          err = e;
        }
        expect([dtype, err instanceof TgateError && err.code]).toEqual([dtype, 'E_UNSUPPORTED_MODEL']);
        expect((err as Error).message).toContain(`'${dtype}'`);
      }
    }
    expect(() => dtypeOfKserveDatatype('FLOAT32')).toThrow(/'FLOAT32' is not a KServe v2 tensor datatype/);
  });
});
