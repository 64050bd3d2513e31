// A Triton model repository served in process the way Triton serves it, for tests: each model's
// config.pbtxt read strictly against the official model_config.proto (tests/helpers/pbtxt.ts), its
// `1/model.onnx` (a folder with the model and its external data) opened in onnxruntime-node, the
// sequence batcher's implicit state from the config (runtime/remote/implicit-state.ts), and the
// config's inputs enforced as Triton enforces them: every input given, of the config's datatype and
// dims (-1 free), nothing else, and `reshape` applied before the model sees the tensor. Served over
// KServe v2 by tests/helpers/kserve-server.ts.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import { ImplicitStateModel } from '../../runtime/remote/implicit-state.js';
import type { InferModel, SequenceFlags, TensorSpec } from '../../runtime/remote/sequence-model.js';
import { datatypeOfConfigType, shapeMatches } from '../../runtime/remote/tensor-wire.js';
import { makeTensor, openSession, type SessionOptions } from '../../runtime/session.js';
import { parseModelConfig } from './pbtxt.js';
import type { ServedModel } from './kserve-server.js';

interface ConfigTensor {
  name: string;
  data_type: string;
  dims: (number | string)[];
  reshape?: { shape?: (number | string)[] };
}

const specOf = (t: ConfigTensor): TensorSpec => ({ name: t.name, datatype: datatypeOfConfigType(t.data_type), shape: (t.dims ?? []).map(Number) });

const refused = (model: string, why: string) => new TgateError('E_REMOTE_FAILED', `[request for model '${model}'] ${why}`);

/** A model as Triton presents it: the config's inputs and outputs, checked and reshaped. */
class ConfiguredModel implements InferModel {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  constructor(
    readonly name: string,
    private readonly config: { input: ConfigTensor[]; output: ConfigTensor[] },
    private readonly inner: InferModel,
  ) {
    this.inputs = config.input.map(specOf);
    this.outputs = config.output.map(specOf);
  }

  async infer(feeds: Record<string, ort.Tensor>, outputs: readonly string[], sequence?: SequenceFlags) {
    const fed: Record<string, ort.Tensor> = {};
    for (const name of Object.keys(feeds))
      if (!this.config.input.some((i) => i.name === name)) throw refused(this.name, `unexpected inference input '${name}'`);
    for (const c of this.config.input) {
      const t = feeds[c.name];
      if (!t)
        throw refused(this.name, `expected ${this.config.input.length} inputs but got ${Object.keys(feeds).length} inputs for model; missing '${c.name}'`);
      const spec = specOf(c);
      if (!shapeMatches(spec.shape, t.dims)) throw refused(this.name, `unexpected shape for input '${c.name}', model expects [${spec.shape}], got [${t.dims}]`);
      fed[c.name] = c.reshape ? makeTensor(t.type, t.data, (c.reshape.shape ?? []).map(Number)) : t;
    }
    for (const o of outputs) if (!this.config.output.some((x) => x.name === o)) throw refused(this.name, `unexpected inference output '${o}'`);
    return this.inner.infer(fed, outputs, sequence);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Every model of a repository, ready for startKServeServer. The sessions are opened as tgate opens
 * them in process (pre-packing off for the stateful model, which holds several variants; on for a
 * plain one), so a test can ask for bit-identical results.
 */
export async function serveRepository(repo: string, session: SessionOptions = { threads: 0, optimization: 'extended' }): Promise<Record<string, ServedModel>> {
  const served: Record<string, ServedModel> = {};
  for (const name of fs.readdirSync(repo).sort()) {
    const dir = path.join(repo, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    const config = parseModelConfig(fs.readFileSync(path.join(dir, 'config.pbtxt'), 'utf8')) as Record<string, unknown> & {
      input: ConfigTensor[];
      output: ConfigTensor[];
    };
    if (config.name !== name) throw new Error(`${dir}/config.pbtxt names the model ${String(config.name)}, not ${name}`);
    const s = await openSession(path.join(dir, '1', 'model.onnx', 'model.onnx'), { ...session, prepacking: !config.sequence_batching });
    served[name] = { model: new ConfiguredModel(name, config, ImplicitStateModel.fromConfig(s, config)), config, platform: 'onnxruntime_onnx' };
  }
  return served;
}
