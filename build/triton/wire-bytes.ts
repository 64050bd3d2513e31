// The bytes one generation puts on the network when its UNet steps run on a KServe v2 server, two
// ways: stateful (the exported model keeps its caches as Triton implicit state; a step sends the
// source inputs it reads, placeholders and flags, and gets the source output: runtime/stateful-calls.ts)
// and stateless (a server that keeps nothing: a gated model over every variant, to which each step
// sends the caches its variant reads and from which it fetches the site outputs it stores, exactly
// as the in-process sampler feeds and fetches them: runtime/gated-unet.ts, variant-runner.ts).
// Tensor bytes are exact; the JSON headers are those of tgate's HTTP client (binary extension).
import { TgateError } from '../../base/errors.js';
import { parseDim } from '../../analyses/shapes/sym.js';
import { dtypeFromName, exactTensorBytes } from '../../ir/dtype.js';
import { gatedCacheInput, gatedOutputName, gatedSiteOutput, runFlag } from '../gated-model.js';
import { latentInput } from '../latent-factor.js';
import type { PlannedStep } from '../schedule.js';
import { statefulFlags } from '../stateful-model.js';
import { SITE_KINDS, type SiteKind, type SiteRole } from '../variants.js';
import { kserveDatatype } from './model-config.js';

type Dim = string | number | null;

/** What the count reads of a compiled folder: its manifest satisfies it; a model described by hand (full-size SD-XL) can too. */
export interface WireModel {
  source: { inputs: readonly WireIo[]; outputs: readonly WireIo[] };
  sites: readonly { id: string; kind: SiteKind; cached: boolean; dtype: string; shape: readonly Dim[] }[];
  variants: readonly { name: string; cuts: Readonly<Record<string, SiteRole>>; removedInputs: readonly string[] }[];
}

export interface WireIo {
  name: string;
  dtype: string;
  shape: readonly Dim[];
}

/** Concrete sizes: samples per generation (B) and every symbolic dim but the batch (height, width, sequence_length, ...). */
export interface WireDims {
  samples: number;
  sizes: Readonly<Record<string, number>>;
}

export interface WireTensor {
  name: string;
  datatype: string;
  dims: number[];
  bytes: number;
}

export interface WireStep {
  k: number;
  variant: string;
  batch: number;
  sent: WireTensor[];
  received: WireTensor[];
  /** Raw tensor bytes of the request and the answer. */
  tensorBytesSent: number;
  tensorBytesReceived: number;
  /** The JSON header of the request (as tgate's client writes it) and of the answer (the KServe v2 response object). */
  headerBytesSent: number;
  headerBytesReceived: number;
}

export interface WireTotals {
  requests: number;
  tensorBytesSent: number;
  tensorBytesReceived: number;
  headerBytesSent: number;
  headerBytesReceived: number;
  /** HTTP body bytes: tensors plus headers. */
  bytesSent: number;
  bytesReceived: number;
}

export interface WireWay {
  steps: WireStep[];
  total: WireTotals;
}

export interface WireOptions {
  /** The served model's name and version, as the answer's header names them. Default 'unet', '1'. */
  modelName?: string;
  version?: string;
  /** The variants the stateless server's gated model holds (its run flags, and the cache inputs it has). Default: every variant. */
  statelessVariants?: readonly string[];
  /** Digits of the stateful sequence's id (the client draws a random 63-bit id: 19 digits 9 times in 10). Default 19. */
  sequenceIdDigits?: number;
}

/** Bytes per sample of each kind of cached site at these sizes (at batch 1), and how many sites of each kind. */
export function cacheSizes(m: WireModel, dims: WireDims): Record<SiteKind, { sites: number; bytesPerSample: number }> {
  const batch = batchName(m);
  const out = Object.fromEntries(SITE_KINDS.map((k) => [k, { sites: 0, bytesPerSample: 0 }])) as Record<SiteKind, { sites: number; bytesPerSample: number }>;
  for (const s of m.sites.filter((x) => x.cached)) {
    out[s.kind].sites++;
    out[s.kind].bytesPerSample += tensorOf(s.id, s.dtype, concrete(s.shape, batch, 1, dims, s.id)).bytes;
  }
  return out;
}

/** Per step and in total, the bytes of a plan (build/schedule.ts planSchedule) run statefully and statelessly. */
export function wireBytes(m: WireModel, plan: readonly PlannedStep[], dims: WireDims, o: WireOptions = {}): { stateful: WireWay; stateless: WireWay } {
  const batch = batchName(m);
  const output = m.source.outputs[0];
  if (!output) throw new TgateError('E_INTERNAL', 'The model has no output.');
  const cached = m.sites.filter((s) => s.cached);
  const flags = statefulFlags(
    m.variants.map((v) => v.name),
    cached.map((s) => s.kind),
  );
  // The stateless gated model takes every site one of its variants is fed (variant-runner.ts gatedFeeds).
  const gated = m.variants.filter((v) => !o.statelessVariants || o.statelessVariants.includes(v.name));
  const fedSomewhere = cached.filter((s) => gated.some((v) => v.cuts[s.id] === 'input'));
  const modelName = o.modelName ?? 'unet';
  const version = o.version ?? '1';
  const idDigits = o.sequenceIdDigits ?? 19;
  /** The batch each site's cache was stored at (the stateless client holds it). */
  const stored = new Map<string, number>();
  const stateful: WireStep[] = [];
  const stateless: WireStep[] = [];
  plan.forEach((step, i) => {
    const variant = m.variants.find((v) => v.name === step.variant);
    if (!variant) throw new TgateError('E_INTERNAL', `The model has no ${step.variant} variant.`);
    const b = step.paired ? 2 * dims.samples : dims.samples;
    const flag = (name: string): WireTensor => ({ name, datatype: 'BOOL', dims: [1], bytes: 1 });
    // The source inputs: at the step's batch, or a placeholder where the variant does not read one.
    const inputs = m.source.inputs.map((io) =>
      inputOf(io.name, io.dtype, variant.removedInputs.includes(io.name) ? placeholderDims(io.shape, b) : concrete(io.shape, batch, b, dims, io.name)),
    );
    if (!gated.includes(variant)) throw new TgateError('E_USAGE', `The plan runs the ${step.variant} variant, which the stateless model does not hold.`);
    const out = tensorOf(output.name, output.dtype, concrete(output.shape, batch, b, dims, output.name));

    // Stateful: flags say what to store; the caches never leave the server.
    const sf = [...inputs, ...flags.all.map(flag)];
    const sequence = { digits: idDigits, start: i === 0, end: i === plan.length - 1 };
    stateful.push(stepOf(step, b, sf, [out], requestHeader(sf, [out.name], sequence), responseHeader(modelName, version, [out])));

    // Stateless: the caches the variant reads at the batch they were stored at, placeholders for the others.
    const caches = fedSomewhere.map((s) => {
      const name = gatedCacheInput(s.id);
      if (variant.cuts[s.id] !== 'input') return tensorOf(name, s.dtype, placeholderDims(s.shape, b));
      const at = stored.get(s.id);
      if (at === undefined) throw new TgateError('E_INTERNAL', `Step ${step.k} (${step.variant}) reads site ${s.id}, which no earlier step stored.`);
      return tensorOf(name, s.dtype, concrete(s.shape, batch, at, dims, s.id));
    });
    const fetched = sitesToFetch(cached, variant, step);
    const sl = [...inputs, ...gated.map((v) => flag(runFlag(v.name))), ...caches];
    const outputs = [
      { ...out, name: gatedOutputName(step.variant, output.name) },
      ...fetched.map((s) => tensorOf(gatedSiteOutput(step.variant, s.id), s.dtype, concrete(s.shape, batch, b, dims, s.id))),
    ];
    stateless.push(
      stepOf(
        step,
        b,
        sl,
        outputs,
        requestHeader(
          sl,
          outputs.map((x) => x.name),
          null,
        ),
        responseHeader(modelName, version, outputs),
      ),
    );
    // What the sampler keeps (gated-unet.ts keepCaches): the deep feature as computed; at the gate the mean over the CFG pair.
    for (const s of fetched) stored.set(s.id, s.kind !== 'deep' && step.phase === 'gate' && step.paired ? b / 2 : b);
  });
  return { stateful: way(stateful), stateless: way(stateless) };
}

/** The site outputs a step fetches in process (gated-unet.ts sitesToFetch, without attention recording). */
function sitesToFetch<S extends { id: string; kind: SiteKind }>(cached: readonly S[], variant: WireModel['variants'][number], step: PlannedStep): S[] {
  const attention = cached.filter(
    (s) => variant.cuts[s.id] === 'output' && ((s.kind === 'cross' && step.cross === 'store') || (s.kind === 'self' && step.keepSelf)),
  );
  const deep = step.keepDeep ? cached.filter((s) => s.kind === 'deep').slice(0, 1) : [];
  return [...attention, ...deep];
}

function stepOf(step: PlannedStep, batch: number, sent: WireTensor[], received: WireTensor[], headerSent: number, headerReceived: number): WireStep {
  const sum = (ts: WireTensor[]) => ts.reduce((a, t) => a + t.bytes, 0);
  return {
    k: step.k,
    variant: step.variant,
    batch,
    sent,
    received,
    tensorBytesSent: sum(sent),
    tensorBytesReceived: sum(received),
    headerBytesSent: headerSent,
    headerBytesReceived: headerReceived,
  };
}

function way(steps: WireStep[]): WireWay {
  const total = (f: (s: WireStep) => number) => steps.reduce((a, s) => a + f(s), 0);
  const t = {
    requests: steps.length,
    tensorBytesSent: total((s) => s.tensorBytesSent),
    tensorBytesReceived: total((s) => s.tensorBytesReceived),
    headerBytesSent: total((s) => s.headerBytesSent),
    headerBytesReceived: total((s) => s.headerBytesReceived),
  };
  return { steps, total: { ...t, bytesSent: t.tensorBytesSent + t.headerBytesSent, bytesReceived: t.tensorBytesReceived + t.headerBytesReceived } };
}

/** The request's JSON header as runtime/remote/kserve-client.ts writes it (length only: key order does not change it). */
function requestHeader(inputs: WireTensor[], outputs: string[], sequence: { digits: number; start: boolean; end: boolean } | null): number {
  const body: Record<string, unknown> = {
    inputs: inputs.map((t) => ({ name: t.name, shape: t.dims, datatype: t.datatype, parameters: { binary_data_size: t.bytes } })),
    outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
  };
  if (sequence) {
    // The id is a JSON number: written here as one digit, counted at its length.
    body.parameters = { sequence_id: 1, ...(sequence.start ? { sequence_start: true } : {}), ...(sequence.end ? { sequence_end: true } : {}) };
    return jsonBytes(body) - 1 + sequence.digits;
  }
  return jsonBytes(body);
}

const utf8 = new TextEncoder();
const jsonBytes = (v: unknown) => utf8.encode(JSON.stringify(v)).byteLength;

/** The KServe v2 inference response object with binary outputs (extension_binary_data.md). */
function responseHeader(model: string, version: string, outputs: WireTensor[]): number {
  const body = {
    model_name: model,
    model_version: version,
    outputs: outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.dims, parameters: { binary_data_size: t.bytes } })),
  };
  return jsonBytes(body);
}

function batchName(m: WireModel): string | null {
  const latent = latentInput(m.source.inputs);
  if (!latent) throw new TgateError('E_UNSUPPORTED_MODEL', 'The model has no rank-4 latent input ([batch, channels, height, width]).');
  return typeof latent.shape[0] === 'string' ? latent.shape[0] : null;
}

/** A manifest shape at concrete sizes, the batch dim at `batch`; symbolic expressions ("height/2*width/2") evaluated. */
function concrete(shape: readonly Dim[], batchDim: string | null, batch: number, dims: WireDims, what: string): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    if (d !== null && d === batchDim) return batch;
    const sym = d === null ? null : parseDim(d);
    // A rank-2 site [batch·tokens, C]: the batch is a factor of the first dim's expression.
    const v = sym?.evaluate({ ...dims.sizes, ...(batchDim ? { [batchDim]: batch } : {}) }) ?? null;
    if (v === null || !Number.isInteger(v) || v < 0)
      throw new TgateError('E_USAGE', `${what}: the dim "${String(d)}" has no size (sizes given: ${JSON.stringify(dims.sizes)}).`, {
        hint: 'Give every symbolic dim of the inputs a size.',
      });
    return v;
  });
}

/** runtime/placeholders.ts's shape: fixed dims kept, a symbolic first dim the batch, any other symbolic dim 1. */
function placeholderDims(shape: readonly Dim[], batch: number): number[] {
  return shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : 1));
}

function tensorOf(name: string, dtype: string, dims: number[]): WireTensor {
  const t = dtypeFromName(dtype);
  const bytes =
    t === undefined
      ? null
      : exactTensorBytes(
          t,
          dims.reduce((a, b) => a * b, 1),
        );
  if (bytes === null) throw new TgateError('E_UNSUPPORTED_MODEL', `${name} has the element type ${dtype}, which tgate does not carry over KServe.`);
  return { name, datatype: kserveDatatype(dtype), dims, bytes };
}

/** A model input as a request carries it: a scalar as [1] (Triton's dims are never empty; its config reshapes to []). */
function inputOf(name: string, dtype: string, dims: number[]): WireTensor {
  return tensorOf(name, dtype, dims.length === 0 ? [1] : dims);
}
