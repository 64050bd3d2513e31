// The demo model's parts outside the text-to-image pipeline (fixtures/models/shapes, a pipeline
// folder in the diffusers layout): the oracle that reads colour, shape and position back from an
// image (classifier/model.onnx) with its label vocabulary (classifier/labels.json: the colours,
// shapes and positions, and the phrases the prompts were written with), and a plain text encoder
// over the folder's own tokenizer/ and text_encoder/ for callers that drive a bare UNet (tgate
// calibrate on a folder compiled from the UNet alone). The pipeline itself (GatedPipeline) encodes
// prompts through the same tokenizer and text encoder.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { isTgateError, TgateError } from '../base/errors.js';
import { readRegularFile } from '../io/contained-file.js';
import { makeTensor, openComponent } from './session.js';
import { loadTokenizer, type Tokenizer } from './tokenizer/index.js';

/** classifier/labels.json: what the oracle reads and how prompts name it. */
export interface Labels {
  colors: string[];
  shapes: string[];
  positions: string[];
  /** position -> phrase, e.g. left -> "on the left". */
  phrases: Record<string, string>;
  /** The side of the square images the model draws and the classifier reads. */
  image_size: number;
}

export interface PromptLabels {
  color: string;
  shape: string;
  position: string;
}

export const CLASSIFIER_DIR = 'classifier';

/** Reads <dir>/classifier/labels.json (dir: the demo model's folder). */
export function readLabels(dir: string): Labels {
  const file = path.join(dir, CLASSIFIER_DIR, 'labels.json');
  if (!fs.existsSync(file)) {
    throw new TgateError('E_FILE_MISSING', `${dir} has no ${CLASSIFIER_DIR}/labels.json: it is not the demo model's folder.`, {
      subject: { file },
      hint: 'The demo model ships in fixtures/models/shapes (its oracle in classifier/model.onnx and classifier/labels.json); fixtures/export/shapes_model.py trains it.',
    });
  }
  // A regular file of bounded size (never a FIFO), valid JSON of the expected shape, or a coded error.
  const bad = (why: string) =>
    new TgateError('E_BAD_PIPELINE', `${file} ${why}.`, {
      subject: { file },
      hint: 'Restore classifier/labels.json from fixtures/models/shapes (fixtures/export/shapes_model.py writes it).',
    });
  let l: Partial<Labels> | null;
  try {
    l = JSON.parse(readRegularFile(file, { kind: 'config', what: 'labels file' }).bytes.toString('utf8')) as Partial<Labels> | null;
  } catch (e) {
    if (isTgateError(e)) throw e;
    throw bad('is not valid JSON');
  }
  const strings = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === 'string');
  if (
    !l ||
    typeof l !== 'object' ||
    !strings(l.colors) ||
    !strings(l.shapes) ||
    !strings(l.positions) ||
    !l.phrases ||
    typeof l.phrases !== 'object' ||
    !Number.isSafeInteger(l.image_size) ||
    l.image_size! <= 0
  ) {
    throw bad('does not hold the demo labels (colors, shapes, positions: lists of names; phrases: an object; image_size: a whole number)');
  }
  return l as Labels;
}

/** The prompt the model was trained on for these labels: "a red circle on the left". */
export function promptOf(l: Labels, p: PromptLabels): string {
  return `a ${p.color} ${p.shape} ${l.phrases[p.position]}`;
}

/** Every prompt the model was trained on (colours x shapes x positions, 75 for the demo model). */
export function allPrompts(l: Labels): string[] {
  return l.colors.flatMap((color) => l.shapes.flatMap((shape) => l.positions.map((position) => promptOf(l, { color, shape, position }))));
}

/** What a prompt asks for, when it is one the oracle can check ("a red circle on the left"). */
export function labelsOf(l: Labels, prompt: string): PromptLabels | null {
  const want = prompt.trim().toLowerCase().split(/\s+/).join(' ');
  for (const color of l.colors)
    for (const shape of l.shapes)
      for (const position of l.positions) {
        if (promptOf(l, { color, shape, position }) === want) return { color, shape, position };
      }
  return null;
}

/**
 * A pipeline folder's tokenizer/ and text_encoder/model.onnx as one encoder: a prompt ->
 * the text encoder's first output ([n, tokens, dim], SD-1.x's last_hidden_state). A word outside
 * a word-level vocabulary is refused by the tokenizer (E_USAGE), with the vocabulary listed.
 */
export class TextEncoder {
  private constructor(
    readonly tokenizer: Tokenizer,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(dir: string): Promise<TextEncoder> {
    const model = path.join(dir, 'text_encoder', 'model.onnx');
    if (!fs.existsSync(model)) {
      throw new TgateError('E_FILE_MISSING', `${dir} has no text_encoder/model.onnx.`, {
        subject: { file: model },
        hint: 'Give a pipeline folder in the diffusers layout (tokenizer/, text_encoder/model.onnx), e.g. fixtures/models/shapes.',
      });
    }
    return new TextEncoder(loadTokenizer(path.join(dir, 'tokenizer')), await openComponent(model, 'text encoder'));
  }

  /** encoder_hidden_states [n, tokens, dim] for n copies of the prompt. */
  async encode(prompt: string, n = 1): Promise<{ data: Float32Array; dims: number[] }> {
    const ids = this.tokenizer.encode(prompt).ids;
    const input = this.session.inputNames[0]!;
    const meta = this.session.inputMetadata.find((m) => m.name === input);
    const at = (i: number) => ids[i % ids.length]!;
    const tensor =
      meta?.isTensor && meta.type === 'int32'
        ? makeTensor(
            'int32',
            Int32Array.from({ length: n * ids.length }, (_, i) => at(i)),
            [n, ids.length],
          )
        : makeTensor(
            'int64',
            BigInt64Array.from({ length: n * ids.length }, (_, i) => BigInt(at(i))),
            [n, ids.length],
          );
    const out = await this.session.run({ [input]: tensor });
    const t = out[this.session.outputNames[0]!]!;
    return { data: t.data as Float32Array, dims: t.dims.slice() };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The oracle: reads colour, shape and position back from images in [-1, 1], [n, 3, H, W]. */
export class ShapeClassifier {
  private constructor(
    readonly labels: Labels,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Opens <dir>/classifier/model.onnx with its labels.json (dir: the demo model's folder). */
  static async load(dir: string): Promise<ShapeClassifier> {
    const labels = readLabels(dir);
    return new ShapeClassifier(labels, await openComponent(path.join(dir, CLASSIFIER_DIR, 'model.onnx'), 'classifier'));
  }

  /** Whether a folder holds the oracle (classifier/model.onnx and labels.json). */
  static in(dir: string): boolean {
    return fs.existsSync(path.join(dir, CLASSIFIER_DIR, 'model.onnx')) && fs.existsSync(path.join(dir, CLASSIFIER_DIR, 'labels.json'));
  }

  async classify(images: Float32Array, n: number): Promise<PromptLabels[]> {
    const s = this.labels.image_size;
    const out = await this.session.run({ image: makeTensor('float32', images, [n, 3, s, s]) });
    const argmax = (t: ort.Tensor, i: number) => {
      const d = t.data as Float32Array;
      const k = d.length / n;
      let best = 0;
      for (let j = 1; j < k; j++) if (d[i * k + j]! > d[i * k + best]!) best = j;
      return best;
    };
    return Array.from({ length: n }, (_, i) => ({
      color: this.labels.colors[argmax(out.color!, i)]!,
      shape: this.labels.shapes[argmax(out.shape!, i)]!,
      position: this.labels.positions[argmax(out.position!, i)]!,
    }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
