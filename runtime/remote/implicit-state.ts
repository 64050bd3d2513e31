// Triton's implicit state management (docs/user_guide/implicit_state_management.md) in process, over
// an onnxruntime-node session: per sequence id, the state outputs of request i are the state inputs
// of request i+1; a sequence's first request (start) gets the initial state; `end` drops it; a
// request of an unknown sequence without `start` is refused, as Triton refuses it. A request that
// fails leaves its sequence's state as it was. For the tests and for a server with no Triton.
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import type { InferModel, InferResult, SequenceFlags, TensorSpec } from './sequence-model.js';
import { datatypeOf, datatypeOfConfigType, elementBytes, elementCount, tensorBytes, tensorFromBytes } from './tensor-wire.js';

/** One entry of config.pbtxt's `sequence_batching.state`, with model_config.proto's field names. */
export interface StateConfig {
  input_name: string;
  output_name: string;
  /** TYPE_FP32, TYPE_FP16, ... */
  data_type: string;
  /** -1 for a variable-sized dimension. Numbers, or decimal strings as protobuf JSON writes int64. */
  dims: readonly (number | string)[];
  initial_state?: { data_type?: string; dims: readonly (number | string)[]; zero_data?: boolean; data_file?: string; name?: string };
}

export interface ImplicitStateOptions {
  /** The model's name in errors and metadata. Default 'model'. */
  name?: string;
}

interface State {
  input: string;
  output: string;
  /** What a sequence's first request reads as this state. */
  initial: ort.Tensor;
}

function badConfig(model: string, why: string): TgateError {
  return new TgateError('E_BAD_CONFIG', `model ${model}: sequence_batching.state: ${why}`, {
    hint: "Each state names one of the model's inputs and one of its outputs, of the data type given.",
  });
}

function dimsOf(model: string, dims: readonly (number | string)[], what: string): number[] {
  const out = dims.map(Number);
  if (!out.every((d) => Number.isSafeInteger(d) && d >= -1)) throw badConfig(model, `${what} ${JSON.stringify(dims)} are not integers >= -1`);
  return out;
}

function specsOf(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new TgateError('E_UNSUPPORTED_MODEL', `${m.name} is not a tensor`, { subject: { tensor: m.name } });
    return { name: m.name, datatype: datatypeOf(m.type, m.name), shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  });
}

export class ImplicitStateModel implements InferModel {
  readonly name: string;
  /** The model's inputs without the state inputs (Triton feeds those; a client may not). */
  readonly inputs: readonly TensorSpec[];
  /** All of the model's outputs: state outputs may be asked for too (for debugging, as in Triton). */
  readonly outputs: readonly TensorSpec[];
  private readonly states: readonly State[];
  private readonly sequences = new Map<bigint, Map<string, ort.Tensor>>();
  /** Requests run one at a time, in arrival order, as a Triton model instance runs them. */
  private queue: Promise<unknown> = Promise.resolve();

  /** The model owns `session` from here on: close() releases it. */
  constructor(
    private readonly session: ort.InferenceSession,
    states: readonly StateConfig[],
    opts: ImplicitStateOptions = {},
  ) {
    this.name = opts.name ?? 'model';
    const inputs = specsOf(session.inputMetadata);
    const outputs = specsOf(session.outputMetadata);
    this.states = states.map((c) => this.stateOf(c, inputs, outputs));
    const stateInputs = new Set(this.states.map((s) => s.input));
    this.inputs = inputs.filter((i) => !stateInputs.has(i.name));
    this.outputs = outputs;
  }

  /** From a Triton model configuration as JSON (`name`, `sequence_batching.state`). */
  static fromConfig(session: ort.InferenceSession, config: Record<string, unknown>): ImplicitStateModel {
    const name = typeof config.name === 'string' ? config.name : 'model';
    const sb = config.sequence_batching as { state?: unknown } | undefined;
    const states = sb?.state ?? [];
    if (!Array.isArray(states)) throw badConfig(name, 'is not a list');
    // initial_state is repeated in model_config.proto (config.pbtxt read strictly gives a list); Triton takes the first.
    const one = (states as Record<string, unknown>[]).map((st) => (Array.isArray(st.initial_state) ? { ...st, initial_state: st.initial_state[0] } : st));
    return new ImplicitStateModel(session, one as unknown as StateConfig[], { name });
  }

  private stateOf(c: StateConfig, inputs: TensorSpec[], outputs: TensorSpec[]): State {
    const datatype = datatypeOfConfigType(c.data_type);
    const input = inputs.find((i) => i.name === c.input_name);
    const output = outputs.find((o) => o.name === c.output_name);
    if (!input) throw badConfig(this.name, `input_name ${c.input_name} is not an input of the model (${inputs.map((i) => i.name).join(', ')})`);
    if (!output) throw badConfig(this.name, `output_name ${c.output_name} is not an output of the model (${outputs.map((o) => o.name).join(', ')})`);
    for (const t of [input, output]) {
      if (t.datatype !== datatype) throw badConfig(this.name, `${t.name} is ${t.datatype}, but the state's data_type is ${c.data_type}`);
    }
    const dims = dimsOf(this.name, c.dims, 'dims');
    let initialDims: number[];
    const init = c.initial_state;
    if (init) {
      if (init.data_file !== undefined) throw badConfig(this.name, `initial_state of ${c.input_name}: data_file is not supported here (zero_data is)`);
      if (init.zero_data !== true) throw badConfig(this.name, `initial_state of ${c.input_name} has neither zero_data nor data_file`);
      if (init.data_type !== undefined && datatypeOfConfigType(init.data_type) !== datatype) {
        throw badConfig(this.name, `initial_state of ${c.input_name} is ${init.data_type}, the state ${c.data_type}`);
      }
      initialDims = dimsOf(this.name, init.dims, 'initial_state dims');
      if (initialDims.some((d) => d < 0)) throw badConfig(this.name, `initial_state of ${c.input_name} has variable dims ${JSON.stringify(init.dims)}`);
    } else {
      // Triton hands the first request uninitialized memory of these dims (variable ones as 1) and
      // expects the model to ignore it at the start; zeros are this harness's choice, so that
      // results never depend on what memory held.
      initialDims = dims.map((d) => (d === -1 ? 1 : d));
    }
    const initial = tensorFromBytes(datatype, initialDims, new Uint8Array(elementCount(initialDims) * elementBytes(datatype)), c.input_name);
    return { input: c.input_name, output: c.output_name, initial };
  }

  /** Sequence ids holding a state now (started and not ended). */
  activeSequences(): bigint[] {
    return [...this.sequences.keys()];
  }

  infer(feeds: Record<string, ort.Tensor>, outputs: readonly string[], sequence?: SequenceFlags): Promise<InferResult> {
    const run = this.queue.then(
      () => this.run(feeds, outputs, sequence),
      () => this.run(feeds, outputs, sequence),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private refuse(why: string, cause?: unknown): TgateError {
    return new TgateError('E_REMOTE_FAILED', `model ${this.name}: ${why}`, cause === undefined ? {} : { cause });
  }

  private async run(feeds: Record<string, ort.Tensor>, asked: readonly string[], sequence: SequenceFlags | undefined): Promise<InferResult> {
    const t0 = performance.now();
    if (this.states.length > 0 && !sequence)
      throw this.refuse('the model is stateful: every request must name a sequence (sequence_id, sequence_start, sequence_end)');
    if (sequence && sequence.id <= 0n) throw this.refuse(`sequence id ${sequence.id} is not a sequence (ids start at 1)`);
    const expected = new Set(this.inputs.map((i) => i.name));
    for (const k of Object.keys(feeds))
      if (!expected.has(k)) throw this.refuse(`unexpected inference input '${k}' (the model takes ${[...expected].join(', ')})`);
    for (const k of expected) if (!feeds[k]) throw this.refuse(`the inference input '${k}' is missing`);
    const known = new Set(this.outputs.map((o) => o.name));
    for (const o of asked) if (!known.has(o)) throw this.refuse(`unexpected inference output '${o}' (the model has ${[...known].join(', ')})`);
    const wanted = asked.length > 0 ? [...asked] : [...known];

    let previous: Map<string, ort.Tensor> | undefined;
    if (sequence && this.states.length > 0) {
      previous = sequence.start ? new Map(this.states.map((s) => [s.input, s.initial])) : this.sequences.get(sequence.id);
      if (!previous) {
        throw this.refuse(
          `inference request for sequence ${sequence.id} must specify the START flag on the first request of the sequence (no such sequence is active)`,
        );
      }
    }
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const s of this.states) all[s.input] = previous!.get(s.input)!;
    // State outputs are always fetched: the next request of the sequence reads them.
    const fetches = [...new Set([...wanted, ...this.states.map((s) => s.output)])];
    let results: Record<string, ort.Tensor>;
    try {
      results = (await this.session.run(all, fetches)) as Record<string, ort.Tensor>;
    } catch (cause) {
      // The sequence's state is untouched: the request can be sent again.
      throw this.refuse(`onnxruntime failed${sequence ? ` on a request of sequence ${sequence.id}` : ''}: ${(cause as Error).message.split('\n')[0]}`, cause);
    }
    if (sequence && this.states.length > 0) {
      if (sequence.end) this.sequences.delete(sequence.id);
      else this.sequences.set(sequence.id, new Map(this.states.map((s) => [s.input, results[s.output]!])));
    }
    // A state output asked for is the very tensor kept as the next request's state (no copy): read it, never write into it.
    const outputs: Record<string, ort.Tensor> = {};
    for (const o of wanted) outputs[o] = results[o]!;
    const bytes = (ts: Record<string, ort.Tensor>) => Object.entries(ts).reduce((n, [k, t]) => n + tensorBytes(t, k).byteLength, 0);
    return { outputs, bytesSent: bytes(feeds), bytesReceived: bytes(outputs), ms: performance.now() - t0 };
  }

  /** Drops every sequence's state and releases the session. */
  async close(): Promise<void> {
    await this.queue;
    this.sequences.clear();
    await this.session.release();
  }
}
