// A model on a server as the pipeline's components use a session (ModelSession): its inputs and
// outputs from the server's metadata, run as one stateless request. The text encoders and the VAE
// decoder of an exported pipeline run through it with `tgate generate --server`.
import type ort from 'onnxruntime-node';
import type { ModelSession } from '../session.js';
import type { InferModel, TensorSpec } from './sequence-model.js';
import { ortTypeOf } from './tensor-wire.js';

const metadata = (specs: readonly TensorSpec[]): ort.InferenceSession.ValueMetadata[] =>
  specs.map(
    (s) =>
      ({
        name: s.name,
        isTensor: true,
        type: ortTypeOf(s.datatype, s.name),
        shape: s.shape.map((d) => (d < 0 ? -1 : d)),
      }) as ort.InferenceSession.ValueMetadata,
  );

/** What the components' calls sent and received. */
export interface RemoteSessionStats {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

export function remoteSession(model: InferModel, stats: RemoteSessionStats): ModelSession {
  const run = async (feeds: ort.InferenceSession.FeedsType, fetches?: unknown): Promise<ort.InferenceSession.ReturnType> => {
    // ort's overloads: run(feeds, options) or run(feeds, fetches[, options]); only a list of names is a fetch list here.
    const names = Array.isArray(fetches) ? (fetches as string[]) : model.outputs.map((o) => o.name);
    const res = await model.infer(feeds as Record<string, ort.Tensor>, names);
    stats.requests++;
    stats.bytesSent += res.bytesSent;
    stats.bytesReceived += res.bytesReceived;
    return res.outputs as ort.InferenceSession.ReturnType;
  };
  return {
    inputNames: model.inputs.map((i) => i.name),
    outputNames: model.outputs.map((o) => o.name),
    inputMetadata: metadata(model.inputs),
    outputMetadata: metadata(model.outputs),
    run: run as ModelSession['run'],
    release: () => model.close(),
  };
}
