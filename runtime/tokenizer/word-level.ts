// A word-level tokenizer.json (Hugging Face `tokenizers` format), the subset a tiny word-level
// text encoder needs (tgate's demo model): model.type "WordLevel" with vocab and unk_token;
// normalizer null, Lowercase, NFC/NFD/NFKC/NFKD, Strip or a Sequence of them; pre_tokenizer null,
// WhitespaceSplit, Whitespace or a Sequence of them; added_tokens cut out first; padding
// {strategy: {Fixed: N}, pad_id, direction}, truncation {max_length, direction}; no post_processor.
// Guarantees: the ids `tokenizers` gives for a single sequence, padded/truncated to maxLength:
// tokenizer_config.json's model_max_length when present (what the pipelines pass as max_length),
// else padding's Fixed length, else truncation.max_length. A word outside the vocabulary with no
// usable unk token is refused (E_USAGE) naming the word(s), with the vocabulary in the hint;
// anything outside the subset is refused (E_UNSUPPORTED_MODEL) rather than tokenized differently.
// Lowercase/NFx and whitespace come from the JS engine's Unicode data (Rust's may be another
// version; it only matters for words no tiny word-level vocabulary holds).
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { isObject, readJson, tokenSpec, unsupported } from './config-files.js';
import type { Tokenizer, TokenizerOutput } from './types.js';

type Normalize = (s: string) => string;
type PreTokenize = (s: string) => string[];

/** Unicode White_Space, which Rust's char::is_whitespace tests (JS \s differs: U+FEFF in, U+0085 out). */
const WS = /\p{White_Space}+/u;
/** `tokenizers` Whitespace: \w+|[^\w\s]+ with Rust regex's Unicode \w. */
const WORD_OR_PUNCT = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;

function normalizerOf(n: unknown, file: string): Normalize {
  if (n === null || n === undefined) return (s) => s;
  if (!isObject(n)) throw unsupported(file, 'normalizer is not an object');
  switch (n.type) {
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case 'Strip': {
      const left = n.strip_left !== false;
      const right = n.strip_right !== false;
      return (s) => s.replace(left ? /^\p{White_Space}+/u : /^$/, '').replace(right ? /\p{White_Space}+$/u : /^$/, '');
    }
    case 'Sequence': {
      if (!Array.isArray(n.normalizers)) throw unsupported(file, 'normalizer Sequence has no "normalizers" list');
      const steps = n.normalizers.map((x) => normalizerOf(x, file));
      return (s) => steps.reduce((acc, f) => f(acc), s);
    }
    default:
      throw unsupported(
        file,
        `normalizer ${JSON.stringify(n.type)} is not supported for word-level tokenizers (supported: Lowercase, NFC, NFD, NFKC, NFKD, Strip, Sequence)`,
      );
  }
}

function preTokenizerOf(p: unknown, file: string): PreTokenize {
  if (p === null || p === undefined) return (s) => (s ? [s] : []);
  if (!isObject(p)) throw unsupported(file, 'pre_tokenizer is not an object');
  switch (p.type) {
    case 'WhitespaceSplit':
      return (s) => s.split(WS).filter(Boolean);
    case 'Whitespace':
      return (s) => s.match(WORD_OR_PUNCT) ?? [];
    case 'Sequence': {
      if (!Array.isArray(p.pretokenizers)) throw unsupported(file, 'pre_tokenizer Sequence has no "pretokenizers" list');
      const steps = p.pretokenizers.map((x) => preTokenizerOf(x, file));
      return (s) => steps.reduce<string[]>((words, f) => words.flatMap(f), [s]);
    }
    default:
      throw unsupported(
        file,
        `pre_tokenizer ${JSON.stringify(p.type)} is not supported for word-level tokenizers (supported: WhitespaceSplit, Whitespace, Sequence)`,
      );
  }
}

interface Added {
  content: string;
  id: number;
  normalized: boolean;
}

/** Cuts the added tokens out of a text: leftmost match, longest at that position. */
function cutAdded(text: string, added: Added[]): (string | Added)[] {
  if (!added.length || !text) return text ? [text] : [];
  const out: (string | Added)[] = [];
  let plain = '';
  for (let i = 0; i < text.length;) {
    let best: Added | null = null;
    for (const a of added) if (a.content && text.startsWith(a.content, i) && (!best || a.content.length > best.content.length)) best = a;
    if (best) {
      if (plain) out.push(plain);
      plain = '';
      out.push(best);
      i += best.content.length;
    } else plain += text[i++];
  }
  if (plain) out.push(plain);
  return out;
}

export class WordLevelTokenizer implements Tokenizer {
  readonly maxLength: number;
  readonly padId: number;
  private readonly vocab = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  private readonly unkId: number | undefined;
  private readonly normalize: Normalize;
  private readonly preTokenize: PreTokenize;
  private readonly added: Added[] = [];
  private readonly padLeft: boolean;
  private readonly truncateLeft: boolean;

  constructor(
    private readonly file: string,
    json: Record<string, unknown>,
    config: Record<string, unknown> | null,
  ) {
    const model = json.model as Record<string, unknown>;
    if (!isObject(model.vocab)) throw unsupported(file, 'model.vocab is not an object of word -> id');
    for (const [w, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id)) throw unsupported(file, `the id of "${w}" in model.vocab is not an integer`);
      this.vocab.set(w, id as number);
      this.byId.set(id as number, w);
    }
    const unk = typeof model.unk_token === 'string' && model.unk_token ? model.unk_token : null;
    this.unkId = unk === null ? undefined : this.vocab.get(unk);
    if (json.post_processor !== null && json.post_processor !== undefined) {
      throw unsupported(
        file,
        `post_processor ${JSON.stringify((json.post_processor as { type?: unknown }).type)} is not supported for word-level tokenizers (only null: no BOS/EOS added)`,
      );
    }
    this.normalize = normalizerOf(json.normalizer, file);
    this.preTokenize = preTokenizerOf(json.pre_tokenizer, file);
    if (Array.isArray(json.added_tokens)) {
      for (const t of json.added_tokens) {
        if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id))
          throw unsupported(file, 'an added_tokens entry has no "content" string and integer "id"');
        this.added.push({ content: t.content, id: t.id as number, normalized: t.normalized === true });
        this.byId.set(t.id as number, t.content);
      }
    }

    const padding = isObject(json.padding) ? json.padding : null;
    const truncation = isObject(json.truncation) ? json.truncation : null;
    const fixed = padding && isObject(padding.strategy) ? padding.strategy.Fixed : undefined;
    const maxLength = config?.model_max_length ?? fixed ?? truncation?.max_length;
    if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1 || maxLength > 1e6) {
      throw unsupported(
        file,
        'no sequence length: the pipelines pad every prompt to a fixed length, and neither tokenizer_config.json model_max_length, padding.strategy.Fixed nor truncation.max_length gives one',
      );
    }
    this.maxLength = maxLength;
    let padId: unknown = padding?.pad_id;
    if (padId === undefined) {
      const padToken = tokenSpec(config?.pad_token, file, 'pad_token')?.content;
      padId = padToken === undefined ? undefined : (this.vocab.get(padToken) ?? this.added.find((a) => a.content === padToken)?.id);
    }
    if (typeof padId !== 'number' || !Number.isInteger(padId))
      throw unsupported(file, 'no pad id: padding.pad_id (or a pad_token of tokenizer_config.json in the vocabulary) is needed to pad prompts');
    this.padId = padId;
    this.padLeft = padding?.direction === 'Left' || config?.padding_side === 'left';
    this.truncateLeft = truncation?.direction === 'Left' || config?.truncation_side === 'left';
  }

  encode(text: string): TokenizerOutput {
    const raw = this.added.filter((a) => !a.normalized);
    const norm = this.added.filter((a) => a.normalized);
    let ids: number[] = [];
    const unknown: string[] = [];
    for (const part of cutAdded(text, raw)) {
      if (typeof part !== 'string') {
        ids.push(part.id);
        continue;
      }
      for (const sub of cutAdded(this.normalize(part), norm)) {
        if (typeof sub !== 'string') {
          ids.push(sub.id);
          continue;
        }
        for (const word of this.preTokenize(sub)) {
          const id = this.vocab.get(word) ?? this.unkId;
          if (id === undefined) {
            if (!unknown.includes(word)) unknown.push(word);
          } else ids.push(id);
        }
      }
    }
    if (unknown.length) {
      const words = [...this.vocab.entries()].sort((a, b) => a[1] - b[1]).map(([w]) => w);
      const shown = words.length > 300 ? `${words.slice(0, 300).join(', ')}, ... (${words.length - 300} more)` : words.join(', ');
      throw new TgateError('E_USAGE', `The prompt "${text}" has word(s) outside the tokenizer's vocabulary: ${unknown.join(', ')}.`, {
        subject: { file: this.file },
        hint: `The vocabulary (${this.file}, which has no unk token): ${shown}.`,
      });
    }
    const length = ids.length;
    const untruncated = ids;
    let truncated = false;
    if (ids.length > this.maxLength) {
      ids = this.truncateLeft ? ids.slice(ids.length - this.maxLength) : ids.slice(0, this.maxLength);
      truncated = true;
    }
    const pad = new Array<number>(this.maxLength - ids.length).fill(this.padId);
    return {
      ids: this.padLeft ? [...pad, ...ids] : [...ids, ...pad],
      length,
      truncated,
      removed: truncated ? (this.truncateLeft ? untruncated.slice(0, length - this.maxLength) : untruncated.slice(this.maxLength)) : [],
    };
  }

  /** The words of the ids, space separated (a tokenizer.json without a decoder joins tokens so). */
  decode(ids: number[]): string {
    return ids
      .map((id) => {
        const w = this.byId.get(id);
        if (w === undefined) throw new TgateError('E_USAGE', `Token id ${id} is not in the vocabulary of ${this.file}.`);
        return w;
      })
      .join(' ');
  }
}

/** The tokenizer.json's model type ("WordLevel", "BPE", ...), or null when the folder has none. */
export function tokenizerJsonModel(dir: string): { file: string; json: Record<string, unknown>; type: string } | null {
  const file = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(file)) return null;
  const json = readJson(file);
  if (!isObject(json) || !isObject(json.model)) throw unsupported(file, 'not a tokenizers JSON file (no "model" object)');
  return { file, json, type: typeof json.model.type === 'string' ? json.model.type : 'BPE' };
}

export function loadWordLevel(file: string, json: Record<string, unknown>, dir: string): WordLevelTokenizer {
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = fs.existsSync(cfgFile) ? readJson(cfgFile) : null;
  return new WordLevelTokenizer(file, json, isObject(cfg) ? cfg : null);
}
