// The demo model's text side: its vocabulary (vocab.json), the prompt tokenizer, and the text
// encoder session that turns a prompt into the UNet's encoder_hidden_states. A word outside the
// vocabulary is refused with the whole vocabulary listed.
import fs from 'node:fs';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { TgateError } from '../compiler/errors.js';
import { makeTensor, openSession } from './session.js';

export interface Vocabulary {
  tokens: string[];
  max_tokens: number;
  pad: number;
  colors: string[];
  shapes: string[];
  positions: string[];
  /** position -> phrase, e.g. left -> "on the left". */
  phrases: Record<string, string>;
  image_size: number;
}

export interface PromptLabels {
  color: string;
  shape: string;
  position: string;
}

export function readVocabulary(dir: string): Vocabulary {
  return JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8')) as Vocabulary;
}

/** Token ids, padded to max_tokens; an empty prompt is all padding (the CFG negative). */
export function tokenize(v: Vocabulary, prompt: string): number[] {
  const words = prompt.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const unknown = words.filter((w) => !v.tokens.includes(w) || w === v.tokens[v.pad]);
  if (unknown.length) {
    throw new TgateError('E_USAGE', `The prompt "${prompt}" has word(s) outside the model's vocabulary: ${unknown.join(', ')}.`, {
      hint: `The vocabulary: ${v.tokens.filter((_, i) => i !== v.pad).join(', ')}. Prompts read like "${promptOf(v, { color: v.colors[0]!, shape: v.shapes[0]!, position: v.positions[0]! })}".`,
    });
  }
  if (words.length > v.max_tokens) throw new TgateError('E_USAGE', `The prompt "${prompt}" has ${words.length} words; the model reads at most ${v.max_tokens}.`);
  const ids = words.map((w) => v.tokens.indexOf(w));
  return [...ids, ...Array(v.max_tokens - ids.length).fill(v.pad)];
}

/** The prompt the model was trained on for these labels: "a red circle on the left". */
export function promptOf(v: Vocabulary, l: PromptLabels): string {
  return `a ${l.color} ${l.shape} ${v.phrases[l.position]}`;
}

/** What a prompt asks for, when it is one the oracle can check ("a red circle on the left"). */
export function labelsOf(v: Vocabulary, prompt: string): PromptLabels | null {
  for (const color of v.colors) for (const shape of v.shapes) for (const position of v.positions) {
    if (promptOf(v, { color, shape, position }) === prompt.trim().toLowerCase()) return { color, shape, position };
  }
  return null;
}

export class TextEncoder {
  private constructor(readonly vocabulary: Vocabulary, private readonly session: ort.InferenceSession) {}

  static async load(dir: string): Promise<TextEncoder> {
    return new TextEncoder(readVocabulary(dir), await openSession(path.join(dir, 'text_encoder.onnx')));
  }

  /** encoder_hidden_states [n, tokens, dim] for n copies of the prompt. */
  async encode(prompt: string, n = 1): Promise<{ data: Float32Array; dims: number[] }> {
    const ids = tokenize(this.vocabulary, prompt);
    const all = BigInt64Array.from({ length: n * ids.length }, (_, i) => BigInt(ids[i % ids.length]!));
    const out = await this.session.run({ input_ids: makeTensor('int64', all, [n, ids.length]) });
    const t = Object.values(out)[0]!;
    return { data: t.data as Float32Array, dims: t.dims.slice() };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The oracle: reads colour, shape and position back from images in [-1, 1], [n, 3, H, W]. */
export class ShapeClassifier {
  private constructor(readonly vocabulary: Vocabulary, private readonly session: ort.InferenceSession) {}

  static async load(dir: string): Promise<ShapeClassifier> {
    return new ShapeClassifier(readVocabulary(dir), await openSession(path.join(dir, 'classifier.onnx')));
  }

  async classify(images: Float32Array, n: number): Promise<PromptLabels[]> {
    const s = this.vocabulary.image_size;
    const out = await this.session.run({ image: makeTensor('float32', images, [n, 3, s, s]) });
    const argmax = (t: ort.Tensor, i: number) => {
      const d = t.data as Float32Array;
      const k = d.length / n;
      let best = 0;
      for (let j = 1; j < k; j++) if (d[i * k + j]! > d[i * k + best]!) best = j;
      return best;
    };
    return Array.from({ length: n }, (_, i) => ({
      color: this.vocabulary.colors[argmax(out.color!, i)]!,
      shape: this.vocabulary.shapes[argmax(out.shape!, i)]!,
      position: this.vocabulary.positions[argmax(out.position!, i)]!,
    }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
