// The config.pbtxt contents of an exported repository, as typed data (model-config.ts): the stateful
// UNet under the sequence batcher with one implicit state per cached site, and plain models (text
// encoders, VAE) as they are. Shapes: max_batch_size 0, so dims are whole shapes; a symbolic
// dimension is -1; a scalar is dims [1] reshaped to [] (Triton wants non-empty dims).
import type { ManifestIo } from '../manifest.js';
import { dtypeName } from '../../ir/dtype.js';
import type { StatefulInterface } from '../stateful-model.js';
import { tritonDataType, type InstanceGroupKind, type ModelConfig, type ModelInput, type ModelOutput } from './model-config.js';

export interface InstanceOptions {
  kind: InstanceGroupKind;
  count: number;
}

type Shape = readonly (string | number | null)[];

const dimsOf = (shape: Shape) => (shape.length === 0 ? [1] : shape.map((d) => (typeof d === 'number' ? d : -1)));

function tensor(name: string, dtype: string, shape: Shape): ModelInput & ModelOutput {
  return { name, data_type: tritonDataType(dtype), dims: dimsOf(shape), ...(shape.length === 0 ? { reshape: { shape: [] } } : {}) };
}

/**
 * The stateful UNet. `If` takes a single-element condition, so the model runs one request at a
 * time (max_batch_size 0): Triton's batcher would stack requests of different steps, whose
 * variants differ, into one batch. Each sequence is one generation; the direct strategy gives it
 * a slot of an instance until it ends (more instances, more generations at once).
 */
export function statefulConfig(
  name: string,
  inputs: readonly ManifestIo[],
  io: StatefulInterface,
  o: InstanceOptions & { idleSeconds: number; parameters: Record<string, string> },
): ModelConfig {
  return {
    name,
    backend: 'onnxruntime',
    max_batch_size: 0,
    input: [...inputs.map((i) => tensor(i.name, i.dtype, i.shape)), ...io.flags.all.map((f) => ({ name: f, data_type: 'TYPE_BOOL' as const, dims: [1] }))],
    output: io.outputs.map((x) => tensor(x.name, dtypeName(x.dtype), x.shape)),
    sequence_batching: {
      max_sequence_idle_microseconds: o.idleSeconds * 1_000_000,
      direct: {},
      state: io.states.map((s) => ({
        input_name: s.input,
        output_name: s.output,
        data_type: tritonDataType(dtypeName(s.dtype)),
        dims: s.shape.map(() => -1),
        // A tensor of ones' shape at sequence start; no step reads a state before one stores it.
        initial_state: [{ data_type: tritonDataType(dtypeName(s.dtype)), dims: s.shape.map(() => 1), zero_data: true, name: 'empty' }],
      })),
    },
    instance_group: [{ kind: o.kind, count: o.count }],
    parameters: Object.fromEntries(Object.entries(o.parameters).map(([k, v]) => [k, { string_value: v }])),
  };
}

/** A plain model: its inputs and outputs as declared, no batcher (each request stands alone). */
export function plainConfig(name: string, inputs: readonly ManifestIo[], outputs: readonly ManifestIo[], o: InstanceOptions): ModelConfig {
  return {
    name,
    backend: 'onnxruntime',
    max_batch_size: 0,
    input: inputs.map((i) => tensor(i.name, i.dtype, i.shape)),
    output: outputs.map((x) => tensor(x.name, x.dtype, x.shape)),
    instance_group: [{ kind: o.kind, count: o.count }],
  };
}
