// Triton's model configuration (`config.pbtxt`) as typed data: the subset of `inference.ModelConfig`
// (triton-inference-server/common, protobuf/model_config.proto) that a stateful ONNX model and plain
// ONNX models need, with the proto's snake_case field names and enum value names exactly, and the
// proto's field numbers in MODEL_CONFIG_SCHEMA. tests/triton-model-config.test.ts checks all three
// against a vendored copy of the official file; modelConfigText writes the text Triton reads.
import { TgateError } from '../../base/errors.js';
import { writeTextFormat, type TextField, type TextSchema } from './pbtxt.js';

/** `inference.DataType` values a tensor can have (TYPE_INVALID aside). */
export const TRITON_DATA_TYPES = [
  'TYPE_BOOL',
  'TYPE_UINT8',
  'TYPE_UINT16',
  'TYPE_UINT32',
  'TYPE_UINT64',
  'TYPE_INT8',
  'TYPE_INT16',
  'TYPE_INT32',
  'TYPE_INT64',
  'TYPE_FP16',
  'TYPE_FP32',
  'TYPE_FP64',
  'TYPE_STRING',
  'TYPE_BF16',
] as const;
export type TritonDataType = (typeof TRITON_DATA_TYPES)[number];

/** `ModelInstanceGroup.Kind` values we emit (KIND_MODEL is for backends that place devices themselves). */
export const INSTANCE_GROUP_KINDS = ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU'] as const;
export type InstanceGroupKind = (typeof INSTANCE_GROUP_KINDS)[number];

/** `ModelSequenceBatching.Control.Kind` values. */
export const SEQUENCE_CONTROL_KINDS = ['CONTROL_SEQUENCE_START', 'CONTROL_SEQUENCE_READY', 'CONTROL_SEQUENCE_END', 'CONTROL_SEQUENCE_CORRID'] as const;
export type SequenceControlKind = (typeof SEQUENCE_CONTROL_KINDS)[number];

/** `inference.ModelTensorReshape`. */
export interface ModelTensorReshape {
  shape: number[];
}

/** `inference.ModelInput`. dims exclude the batch dimension when max_batch_size > 0; -1 is a free dimension. */
export interface ModelInput {
  name: string;
  data_type: TritonDataType;
  dims: number[];
  reshape?: ModelTensorReshape;
  optional?: boolean;
}

/** `inference.ModelOutput`. */
export interface ModelOutput {
  name: string;
  data_type: TritonDataType;
  dims: number[];
  reshape?: ModelTensorReshape;
}

/** `inference.ModelVersionPolicy`: set exactly one member (a oneof). */
export interface ModelVersionPolicy {
  latest?: { num_versions: number };
  all?: Record<string, never>;
  specific?: { versions: number[] };
}

/** `inference.ModelDynamicBatching` (plain models that batch). */
export interface ModelDynamicBatching {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
}

/** `ModelSequenceBatching.Control`: how the batcher tells the model about a sequence event. */
export interface SequenceBatchingControl {
  kind: SequenceControlKind;
  int32_false_true?: number[];
  fp32_false_true?: number[];
  bool_false_true?: boolean[];
  data_type?: TritonDataType;
}

/** `ModelSequenceBatching.ControlInput`. */
export interface SequenceBatchingControlInput {
  name: string;
  control: SequenceBatchingControl[];
}

/** `ModelSequenceBatching.InitialState`: zeros at sequence start (data_file is not emitted). */
export interface SequenceBatchingInitialState {
  data_type: TritonDataType;
  dims: number[];
  zero_data: true;
  name: string;
}

/** `ModelSequenceBatching.State`: an implicit-state input/output pair kept by the server between requests. */
export interface SequenceBatchingState {
  input_name: string;
  output_name: string;
  data_type: TritonDataType;
  dims: number[];
  /** Repeated in the proto; Triton uses the first. */
  initial_state?: SequenceBatchingInitialState[];
  use_same_buffer_for_input_output?: boolean;
}

/** `ModelSequenceBatching.StrategyDirect`. */
export interface SequenceBatchingStrategyDirect {
  max_queue_delay_microseconds?: number;
  minimum_slot_utilization?: number;
}

/** `ModelSequenceBatching.StrategyOldest`. */
export interface SequenceBatchingStrategyOldest {
  max_candidate_sequences?: number;
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
}

/** `inference.ModelSequenceBatching`. direct and oldest are one oneof: set at most one. */
export interface ModelSequenceBatching {
  max_sequence_idle_microseconds?: number;
  control_input?: SequenceBatchingControlInput[];
  direct?: SequenceBatchingStrategyDirect;
  oldest?: SequenceBatchingStrategyOldest;
  state?: SequenceBatchingState[];
}

/** `inference.ModelInstanceGroup`. */
export interface ModelInstanceGroup {
  name?: string;
  kind: InstanceGroupKind;
  count?: number;
  gpus?: number[];
}

/** `inference.ModelParameter`. */
export interface ModelParameter {
  string_value: string;
}

/** `inference.ModelConfig`. dynamic_batching and sequence_batching are one oneof: set at most one. */
export interface ModelConfig {
  name: string;
  platform?: string;
  backend?: string;
  version_policy?: ModelVersionPolicy;
  max_batch_size: number;
  input: ModelInput[];
  output: ModelOutput[];
  dynamic_batching?: ModelDynamicBatching;
  sequence_batching?: ModelSequenceBatching;
  instance_group?: ModelInstanceGroup[];
  default_model_filename?: string;
  parameters?: Record<string, ModelParameter>;
}

const f = (name: string, number: number, kind: TextField['kind'], more: Partial<TextField> = {}): TextField => ({ name, number, kind, ...more });
const dataType = (name: string, number: number): TextField => f(name, number, 'enum', { enumValues: TRITON_DATA_TYPES });

/**
 * Every field the interfaces above can hold, keyed by the message's name in package `inference`,
 * with the proto's field numbers (the text writer's order), kinds, repeated-ness and oneofs.
 */
export const MODEL_CONFIG_SCHEMA: TextSchema = {
  ModelConfig: [
    f('name', 1, 'string'),
    f('platform', 2, 'string'),
    f('version_policy', 3, 'message', { message: 'ModelVersionPolicy' }),
    f('max_batch_size', 4, 'int'),
    f('input', 5, 'message', { repeated: true, message: 'ModelInput' }),
    f('output', 6, 'message', { repeated: true, message: 'ModelOutput' }),
    f('instance_group', 7, 'message', { repeated: true, message: 'ModelInstanceGroup' }),
    f('default_model_filename', 8, 'string'),
    f('dynamic_batching', 11, 'message', { message: 'ModelDynamicBatching', oneof: 'scheduling_choice' }),
    f('sequence_batching', 13, 'message', { message: 'ModelSequenceBatching', oneof: 'scheduling_choice' }),
    f('parameters', 14, 'map', { message: 'ModelParameter' }),
    f('backend', 17, 'string'),
  ],
  ModelVersionPolicy: [
    f('latest', 1, 'message', { message: 'ModelVersionPolicy.Latest', oneof: 'policy_choice' }),
    f('all', 2, 'message', { message: 'ModelVersionPolicy.All', oneof: 'policy_choice' }),
    f('specific', 3, 'message', { message: 'ModelVersionPolicy.Specific', oneof: 'policy_choice' }),
  ],
  'ModelVersionPolicy.Latest': [f('num_versions', 1, 'int')],
  'ModelVersionPolicy.All': [],
  'ModelVersionPolicy.Specific': [f('versions', 1, 'int', { repeated: true })],
  ModelInput: [
    f('name', 1, 'string'),
    dataType('data_type', 2),
    f('dims', 4, 'int', { repeated: true }),
    f('reshape', 5, 'message', { message: 'ModelTensorReshape' }),
    f('optional', 8, 'bool'),
  ],
  ModelOutput: [
    f('name', 1, 'string'),
    dataType('data_type', 2),
    f('dims', 3, 'int', { repeated: true }),
    f('reshape', 5, 'message', { message: 'ModelTensorReshape' }),
  ],
  ModelTensorReshape: [f('shape', 1, 'int', { repeated: true })],
  ModelInstanceGroup: [
    f('name', 1, 'string'),
    f('count', 2, 'int'),
    f('gpus', 3, 'int', { repeated: true }),
    f('kind', 4, 'enum', { enumValues: INSTANCE_GROUP_KINDS }),
  ],
  ModelDynamicBatching: [
    f('preferred_batch_size', 1, 'int', { repeated: true }),
    f('max_queue_delay_microseconds', 2, 'int'),
    f('preserve_ordering', 3, 'bool'),
  ],
  ModelSequenceBatching: [
    f('max_sequence_idle_microseconds', 1, 'int'),
    f('control_input', 2, 'message', { repeated: true, message: 'ModelSequenceBatching.ControlInput' }),
    f('direct', 3, 'message', { message: 'ModelSequenceBatching.StrategyDirect', oneof: 'strategy_choice' }),
    f('oldest', 4, 'message', { message: 'ModelSequenceBatching.StrategyOldest', oneof: 'strategy_choice' }),
    f('state', 5, 'message', { repeated: true, message: 'ModelSequenceBatching.State' }),
  ],
  'ModelSequenceBatching.ControlInput': [f('name', 1, 'string'), f('control', 2, 'message', { repeated: true, message: 'ModelSequenceBatching.Control' })],
  'ModelSequenceBatching.Control': [
    f('kind', 1, 'enum', { enumValues: SEQUENCE_CONTROL_KINDS }),
    f('int32_false_true', 2, 'int', { repeated: true }),
    f('fp32_false_true', 3, 'float', { repeated: true }),
    dataType('data_type', 4),
    f('bool_false_true', 5, 'bool', { repeated: true }),
  ],
  'ModelSequenceBatching.State': [
    f('input_name', 1, 'string'),
    f('output_name', 2, 'string'),
    dataType('data_type', 3),
    f('dims', 4, 'int', { repeated: true }),
    f('initial_state', 5, 'message', { repeated: true, message: 'ModelSequenceBatching.InitialState' }),
    f('use_same_buffer_for_input_output', 6, 'bool'),
  ],
  'ModelSequenceBatching.InitialState': [
    dataType('data_type', 1),
    f('dims', 2, 'int', { repeated: true }),
    f('zero_data', 3, 'bool', { oneof: 'state_data' }),
    f('name', 5, 'string'),
  ],
  'ModelSequenceBatching.StrategyDirect': [f('max_queue_delay_microseconds', 1, 'int'), f('minimum_slot_utilization', 2, 'float')],
  'ModelSequenceBatching.StrategyOldest': [
    f('max_candidate_sequences', 1, 'int'),
    f('preferred_batch_size', 2, 'int', { repeated: true }),
    f('max_queue_delay_microseconds', 3, 'int'),
    f('preserve_ordering', 4, 'bool'),
  ],
  ModelParameter: [f('string_value', 1, 'string')],
};

/**
 * `config` as a `config.pbtxt`: protobuf text format, fields in field-number order, deterministic.
 * `comment` (e.g. "Generated by tgate 0.1.0 from ...") becomes leading `#` lines.
 */
export function modelConfigText(config: ModelConfig, comment?: string): string {
  return writeTextFormat(config, MODEL_CONFIG_SCHEMA, 'ModelConfig', comment);
}

/** KServe v2 protocol tensor datatypes, as Triton names them. */
export const KSERVE_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
  'BF16',
] as const;
export type KserveDatatype = (typeof KSERVE_DATATYPES)[number];

/** Our dtype names (ir/dtype.ts) -> Triton's model-config data type and the KServe v2 tensor datatype. */
const DTYPES: Readonly<Record<string, readonly [TritonDataType, KserveDatatype]>> = {
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
  // KServe v2 calls variable-length byte strings BYTES (Triton's model_configuration.md type table).
  string: ['TYPE_STRING', 'BYTES'],
  // Triton carries BF16, but that table lists no ONNX Runtime type for it: the onnxruntime backend
  // may refuse a model with bfloat16 inputs or outputs.
  bfloat16: ['TYPE_BF16', 'BF16'],
};

function lookup(dtype: string): readonly [TritonDataType, KserveDatatype] {
  const hit = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (hit) return hit;
  throw new TgateError('E_UNSUPPORTED_MODEL', `Triton Inference Server has no tensor data type for ONNX element type '${dtype}'`, {
    hint: `Triton carries ${Object.keys(DTYPES).join(', ')}; convert the model's inputs and outputs to one of these before exporting`,
  });
}

/** Triton's model-config data type ('TYPE_FP32', ...) for one of our dtype names ('float32', ...). */
export function tritonDataType(dtype: string): TritonDataType {
  return lookup(dtype)[0];
}

/** The KServe v2 protocol's tensor datatype ('FP32', 'BYTES', ...) for one of our dtype names. */
export function kserveDatatype(dtype: string): KserveDatatype {
  return lookup(dtype)[1];
}

/** Our dtype name for a KServe v2 tensor datatype (what a server's response declares). */
export function dtypeOfKserveDatatype(datatype: string): string {
  for (const [name, [, kserve]] of Object.entries(DTYPES)) if (kserve === datatype) return name;
  throw new TgateError('E_UNSUPPORTED_MODEL', `'${datatype}' is not a KServe v2 tensor datatype tgate knows`, {
    hint: `expected one of ${KSERVE_DATATYPES.join(', ')}`,
  });
}
