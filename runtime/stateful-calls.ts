// The sampler's model calls against a stateful gated model (build/stateful-model.ts) that a server
// runs with implicit state (Triton; or in process, remote/implicit-state.ts): one generation is one
// sequence; each step sends the source inputs the step's variant reads (placeholders for the ones it
// does not), its run flag and what it stores, and fetches only the source output. The caches never
// leave the server. The names all follow from the manifest (stateful-model.ts's rules), so a client
// needs only the compiled folder's tgate.json.
import { randomBytes } from 'node:crypto';
import type ort from 'onnxruntime-node';
import { TgateError } from '../base/errors.js';
import type { Manifest } from '../build/manifest.js';
import type { PlannedStep } from '../build/schedule.js';
import { statefulFlags } from '../build/stateful-model.js';
import type { SiteKind } from '../build/variants.js';
import { placeholder } from './placeholders.js';
import type { InferModel } from './remote/sequence-model.js';
import { makeTensor, type Feeds } from './session.js';

/** What crossed the wire (or would have) over one generation. */
export interface WireStats {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

const flag = (on: boolean): ort.Tensor => makeTensor('bool', Uint8Array.of(on ? 1 : 0), [1]);

/** The stateful model's flags and output as the manifest implies them (the exporter builds the model by the same rule). */
export function statefulNames(m: Manifest) {
  const flags = statefulFlags(
    m.variants.map((v) => v.name),
    m.sites.filter((s) => s.cached).map((s) => s.kind),
  );
  return { flags, output: m.source.outputs[0]!.name };
}

/** A fresh sequence id: a random non-zero 63-bit number (Triton's correlation ids are uint64; 0 means none). */
export function newSequenceId(): bigint {
  const id = randomBytes(8).readBigUInt64BE() >> 1n;
  return id === 0n ? 1n : id;
}

/** The model calls of one generation: one sequence, its own id and counts (generations may overlap). */
export class StatefulSequence {
  readonly wire: WireStats = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly id = newSequenceId();
  private started = false;
  private ended = false;
  private readonly names: ReturnType<typeof statefulNames>;

  constructor(
    private readonly manifest: Manifest,
    private readonly model: InferModel,
  ) {
    this.names = statefulNames(manifest);
  }

  /** One step; `last` ends the sequence (the server drops its state). */
  async call(step: PlannedStep, batch: number, feeds: Feeds, last: boolean): Promise<{ output: ort.Tensor; modelMs: number }> {
    if (this.ended) throw new TgateError('E_INTERNAL', 'A stateful model call after the sequence ended.');
    const m = this.manifest;
    const variant = m.variants.find((v) => v.name === step.variant);
    if (!variant) throw new TgateError('E_INTERNAL', `The stateful model holds no ${step.variant} variant.`);
    const f: Feeds = { ...feeds };
    // Inputs the variant does not read: placeholders of one token, as over the gated model.
    for (const n of variant.removedInputs) {
      const io = m.source.inputs.find((i) => i.name === n)!;
      f[n] = placeholder(io.shape, batch, io.dtype);
    }
    const { flags, output: outputName } = this.names;
    for (const [v, name] of Object.entries(flags.runFlags)) f[name] = flag(v === step.variant);
    const keeps: Record<SiteKind, boolean> = { cross: step.cross === 'store', self: step.keepSelf, deep: step.keepDeep };
    for (const [k, name] of Object.entries(flags.keepFlags)) f[name!] = flag(keeps[k as SiteKind]);
    // The sampler averages stored attention over the CFG pair at the gate step (meanOfPair); the model does it here.
    if (flags.pairMean) f[flags.pairMean] = flag(step.phase === 'gate' && step.paired);
    // A scalar travels as the [1] the server declares (Triton's dims are never empty; its config reshapes to []).
    for (const spec of this.model.inputs) {
      const t = f[spec.name];
      if (t && t.dims.length === 0 && spec.shape.length === 1) f[spec.name] = makeTensor(t.type, t.data, [1]);
    }
    const res = await this.model.infer(f, [outputName], { id: this.id, start: !this.started, end: last });
    this.started = true;
    this.ended = last;
    this.wire.requests++;
    this.wire.bytesSent += res.bytesSent;
    this.wire.bytesReceived += res.bytesReceived;
    const output = res.outputs[outputName];
    if (!output) throw new TgateError('E_INTERNAL', `The stateful model ${this.model.name} returned no ${outputName}.`);
    return { output, modelMs: res.ms };
  }
}

/** A stateful model on a server (or in process), for the generations of one GatedUNet. */
export class StatefulCalls {
  constructor(
    readonly manifest: Manifest,
    readonly model: InferModel,
  ) {}

  /** A new generation: a new sequence. */
  begin(): StatefulSequence {
    return new StatefulSequence(this.manifest, this.model);
  }

  async release(): Promise<void> {
    await this.model.close();
  }
}
