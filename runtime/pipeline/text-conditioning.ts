// Prompts to the UNet's conditioning inputs, as diffusers' encode_prompt does:
// - SD-1.x/2.x: tokenizer (padded to model_max_length) -> text encoder -> last_hidden_state; the
//   negative prompt ("" when none) the same way.
// - SD-XL: both tokenizers and encoders; each encoder's penultimate hidden state
//   (hidden_states[-2]), concatenated on channels; the pooled `text_embeds` of text_encoder_2;
//   time ids (original size, crop top-left, target size). Without a negative prompt and with
//   force_zeros_for_empty_prompt, the negative embeddings and pooled embeddings are zeros.
// Input dtypes (int32 ids in optimum <= 1.23, int64 after) are read from the models.
import type ort from 'onnxruntime-node';
import { TgateError } from '../../base/errors.js';
import { makeTensor, openComponent, runModel, type ModelSession, type SessionOptions } from '../session.js';
import { numbersOf } from '../tensor-values.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import type { TensorInput } from '../gated-unet.js';
import type { PipelineFolder } from './pipeline-folder.js';

/** A prompt longer than the tokenizer reads: truncated, as diffusers does (and warns). */
export interface PromptWarning {
  prompt: string;
  /** The text cut off, as diffusers prints it. */
  removed: string;
  /** Tokens the prompt has, BOS/EOS included, and how many the model reads. */
  tokens: number;
  maxLength: number;
}

export interface Conditioning {
  cond: Record<string, TensorInput>;
  uncond: Record<string, TensorInput>;
  warnings: PromptWarning[];
  tokenizeMs: number;
  encodeMs: number;
}

interface Encoder {
  tokenizer: Tokenizer;
  session: ModelSession;
  idsName: string;
  idsType: 'int32' | 'int64';
  /** The output that conditions the UNet: last_hidden_state (SD) or hidden_states.{N-1} (SD-XL). */
  hidden: string;
  /** SD-XL text_encoder_2: the pooled projection. */
  pooled: string | null;
}

async function openEncoder(model: string | ModelSession, tokenizerDir: string, penultimate: boolean, pooled: boolean, opts: SessionOptions): Promise<Encoder> {
  const tokenizer = loadTokenizer(tokenizerDir);
  // A file is opened here; a session given is a model on a server (remote/remote-session.ts).
  const session = typeof model === 'string' ? await openComponent(model, 'text encoder', opts) : model;
  const what = typeof model === 'string' ? model : 'The text encoder on the server';
  const ids = session.inputMetadata.find((m) => m.name === 'input_ids') ?? session.inputMetadata[0]!;
  const idsType = ids.isTensor && ids.type === 'int32' ? 'int32' : 'int64';
  const outputs = session.outputNames;
  let hidden = outputs.includes('last_hidden_state') ? 'last_hidden_state' : outputs[0]!;
  if (penultimate) {
    const layers = outputs
      .map((n) => /^hidden_states\.(\d+)$/.exec(n)?.[1])
      .filter((x): x is string => !!x)
      .map(Number);
    if (layers.length < 2) {
      throw new TgateError('E_UNSUPPORTED_MODEL', `${what} has no hidden_states.N outputs; SD-XL conditions on each text encoder's penultimate hidden state.`, {
        subject: { file: what },
        hint: 'Export the SD-XL text encoders with their hidden states, as optimum-cli export onnx does.',
      });
    }
    hidden = `hidden_states.${Math.max(...layers) - 1}`;
  }
  let pooledName: string | null = null;
  if (pooled) {
    pooledName = outputs.includes('text_embeds') ? 'text_embeds' : null;
    if (!pooledName)
      throw new TgateError('E_UNSUPPORTED_MODEL', `${what} has no text_embeds output (the pooled projection SD-XL's UNet takes).`, {
        subject: { file: what },
      });
  }
  return { tokenizer, session, idsName: ids.name, idsType, hidden, pooled: pooledName };
}

function rows(x: TensorInput, n: number): TensorInput {
  const data = new Float32Array(x.data.length * n);
  for (let i = 0; i < n; i++) data.set(x.data as Float32Array, i * x.data.length);
  return { data, dims: [x.dims[0]! * n, ...x.dims.slice(1)] };
}

function zerosLike(x: TensorInput): TensorInput {
  return { data: new Float32Array(x.data.length), dims: x.dims.slice() };
}

/** [a | b] on the last axis of two [1, L, D] tensors. */
function concatChannels(a: TensorInput, b: TensorInput): TensorInput {
  const L = a.dims[1]!;
  const da = a.dims[2]!;
  const db = b.dims[2]!;
  const out = new Float32Array(L * (da + db));
  for (let l = 0; l < L; l++) {
    out.set((a.data as Float32Array).subarray(l * da, (l + 1) * da), l * (da + db));
    out.set((b.data as Float32Array).subarray(l * db, (l + 1) * db), l * (da + db) + da);
  }
  return { data: out, dims: [1, L, da + db] };
}

export class PromptEncoder {
  private constructor(
    private readonly encoders: Encoder[],
    private readonly folder: PipelineFolder,
    private readonly textInput: string,
  ) {}

  /** `remote`: the text encoders as models on a server, instead of the folder's files. */
  static async load(
    folder: PipelineFolder,
    textInput: string,
    opts: SessionOptions = {},
    remote: { textEncoder?: ModelSession | undefined; textEncoder2?: ModelSession | undefined } = {},
  ): Promise<PromptEncoder> {
    const sdxl = folder.kind === 'sdxl';
    const encoders = [await openEncoder(remote.textEncoder ?? folder.models.textEncoder, folder.tokenizers.tokenizer, sdxl, false, opts)];
    if (sdxl) encoders.push(await openEncoder(remote.textEncoder2 ?? folder.models.textEncoder2!, folder.tokenizers.tokenizer2!, true, true, opts));
    return new PromptEncoder(encoders, folder, textInput);
  }

  /** The cond/uncond inputs of the UNet for `count` images of one prompt at height x width pixels. */
  async encode(prompt: string, negativePrompt: string | undefined, count: number, height: number, width: number): Promise<Conditioning> {
    const warnings: PromptWarning[] = [];
    let tokenizeMs = 0;
    let encodeMs = 0;
    const run = async (e: Encoder, text: string, warn: boolean) => {
      const t0 = performance.now();
      const tok = e.tokenizer.encode(text);
      tokenizeMs += performance.now() - t0;
      if (warn && tok.truncated && warnings.length === 0)
        warnings.push({ prompt: text, removed: e.tokenizer.decode(tok.removed), tokens: tok.length, maxLength: e.tokenizer.maxLength });
      const n = tok.ids.length;
      const ids =
        e.idsType === 'int32' ? makeTensor('int32', Int32Array.from(tok.ids), [1, n]) : makeTensor('int64', BigInt64Array.from(tok.ids, BigInt), [1, n]);
      const feeds: Record<string, ort.Tensor> = { [e.idsName]: ids };
      // An exported attention_mask input (some exports have one) is all ones: the pipelines pass none.
      for (const name of e.session.inputNames.filter((x) => x !== e.idsName)) {
        if (name !== 'attention_mask') throw new TgateError('E_UNSUPPORTED_MODEL', `The text encoder has an input "${name}" tgate does not know how to feed.`);
        feeds[name] =
          e.idsType === 'int32' ? makeTensor('int32', new Int32Array(n).fill(1), [1, n]) : makeTensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
      }
      const t1 = performance.now();
      const out = await runModel(e.session, feeds, [e.hidden, ...(e.pooled ? [e.pooled] : [])], 'text encoder');
      encodeMs += performance.now() - t1;
      const h = out[e.hidden]!;
      const hidden: TensorInput = { data: Float32Array.from(numbersOf(h)), dims: h.dims.slice() };
      const pooled = e.pooled ? { data: Float32Array.from(numbersOf(out[e.pooled]!)), dims: out[e.pooled]!.dims.slice() } : null;
      return { hidden, pooled };
    };
    const both = async (text: string, warn: boolean) => {
      const parts = [];
      for (const e of this.encoders) parts.push(await run(e, text, warn));
      const hidden = parts.length === 1 ? parts[0]!.hidden : concatChannels(parts[0]!.hidden, parts[1]!.hidden);
      return { hidden, pooled: parts[parts.length - 1]!.pooled };
    };
    const positive = await both(prompt, true);
    const zeroNegative = this.folder.kind === 'sdxl' && negativePrompt === undefined && this.folder.forceZerosForEmptyPrompt;
    const negative = zeroNegative
      ? { hidden: zerosLike(positive.hidden), pooled: positive.pooled ? zerosLike(positive.pooled) : null }
      : await both(negativePrompt ?? '', false);
    const cond: Record<string, TensorInput> = { [this.textInput]: rows(positive.hidden, count) };
    const uncond: Record<string, TensorInput> = { [this.textInput]: rows(negative.hidden, count) };
    if (this.folder.kind === 'sdxl') {
      cond.text_embeds = rows(positive.pooled!, count);
      uncond.text_embeds = rows(negative.pooled!, count);
      // original_size + crops_coords_top_left + target_size, the pipeline's defaults.
      const ids: TensorInput = { data: Float32Array.from([height, width, 0, 0, height, width]), dims: [1, 6] };
      cond.time_ids = rows(ids, count);
      uncond.time_ids = rows(ids, count);
    }
    return { cond, uncond, warnings, tokenizeMs, encodeMs };
  }

  async release(): Promise<void> {
    for (const e of this.encoders) await e.session.release();
  }
}
