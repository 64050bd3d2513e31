// CLIP's tokenizer as the diffusers pipelines run it: transformers' slow CLIPTokenizer
// (transformers 5728b5ad, the v4.40 branch point) without ftfy, from a folder written by
// save_pretrained (vocab.json, merges.txt, tokenizer_config.json, maybe special_tokens_map.json /
// added_tokens.json). Guarantees, for any prompt: the ids of
//   tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)
// (added/special tokens cut out first, BasicTokenizer clean-up, CLIP's pattern, byte-level BPE,
// BOS + ids + EOS, truncation and padding on the configured sides), the untruncated length, and
// decode() = tokenizer.decode(ids) with the folder's clean_up_tokenization_spaces. The pad token
// is the folder's own: <|endoftext|> for SD-1.x, "!" (id 0) for SD-2.x and SD-XL's tokenizer_2;
// a special token such as "!" is then also cut out of prompts as its own token, as transformers does.
// Beyond the 200-prompt corpus and the committed fixture, it was checked against the reference
// (transformers 5728b5ad run from source) on 9,000 random prompts with SD-1.x, SD-2.x and legacy
// SD-2.x configs (ids, length, decode) and on every code point in several contexts (tokens).
//
// Library tried first: @lenml/tokenizers 3.7.2 (transformers.js tokenizers), fed the tokenizer.json
// transformers' CLIPConverter derives; it reproduces the *fast* tokenizer's normalisation and got
// 6 of the 200 reference prompts wrong (ZWJ emoji sequences, zero-width/soft-hyphen and control
// characters not removed, no spaces around CJK ideographs, "<|ENDOFTEXT|>" not mapped to the EOS id).
//
// When the folder also holds a tokenizer.json (CLIPTokenizerFast's), it is ignored except for the
// legacy added-tokens lookup transformers' slow loader does: the slow tokenizer is the reference.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { type AddedToken, Trie, splitAddedTokens } from './added-tokens.js';
import { basicClean } from './basic-tokenizer.js';
import { ByteLevelBpe, CHAR_TO_BYTE, byteEncode, parseMerges } from './byte-level-bpe.js';
import { clipPieceBounds } from './clip-pattern.js';
import { isObject, missingFile, readJson, readText, tokenSpec, unsupported, type TokenSpec } from './config-files.js';
import { codePoints, fromCodePoints, pyStrip } from './python-text.js';
import { loadUnicodeTables } from './unicode-props.js';
import type { Tokenizer, TokenizerOutput } from './types.js';

/** SpecialTokensMixin.SPECIAL_TOKENS_ATTRIBUTES, in its order. */
const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
type SpecialKey = (typeof SPECIAL_KEYS)[number];

/** CLIPTokenizer.__init__'s defaults. */
const CLIP_DEFAULTS: Partial<Record<SpecialKey, string>> = {
  unk_token: '<|endoftext|>',
  bos_token: '<|startoftext|>',
  eos_token: '<|endoftext|>',
  pad_token: '<|endoftext|>',
};

export interface ClipSettings {
  vocab: Record<string, number>;
  merges: Map<string, number>;
  /** id -> added token (tokenizer_config's added_tokens_decoder, then the special tokens). */
  added: Map<number, AddedToken>;
  special: Partial<Record<SpecialKey, string>>;
  additionalSpecial: string[];
  maxLength: number;
  paddingSide: 'right' | 'left';
  truncationSide: 'right' | 'left';
  cleanUpTokenizationSpaces: boolean;
  splitSpecialTokens: boolean;
}

const added = (s: TokenSpec, special: boolean): AddedToken => ({ content: s.content, lstrip: s.lstrip, rstrip: s.rstrip, singleWord: s.singleWord, special });

/** The added tokens by id, and by content for the special tokens' lookup. */
class AddedTable {
  readonly byId = new Map<number, AddedToken>();
  readonly byContent = new Map<string, AddedToken>();

  put(id: number, t: AddedToken): void {
    this.byId.set(id, t);
    this.byContent.set(t.content, t);
  }
}

/** A folder's files by name, for the readers below. */
interface Folder {
  file: (f: string) => string;
  exists: (f: string) => boolean;
  /** tokenizer_config.json, named in errors about the config's entries. */
  cfgFile: string;
}

/** vocab.json and merges.txt: the byte-level BPE. */
function readBpe(folder: Folder): { vocab: Record<string, number>; merges: Map<string, number> } {
  const { file } = folder;
  const vocabJson = readJson(file('vocab.json'));
  if (!isObject(vocabJson) || !Object.values(vocabJson).every((v) => Number.isInteger(v)))
    throw unsupported(file('vocab.json'), 'not a JSON object of token -> integer id');
  return { vocab: vocabJson as Record<string, number>, merges: parseMerges(readText(file('merges.txt'))) };
}

/**
 * Added tokens: tokenizer_config's added_tokens_decoder; without it (transformers < 4.34 saves),
 * special_tokens_map.json, added_tokens.json and tokenizer.json's added_tokens, as the loader does.
 * The legacy special_tokens_map.json is merged into `init`, as the loader's init kwargs.
 */
function readAddedTokens(folder: Folder, init: Record<string, unknown>, table: AddedTable): void {
  const { cfgFile } = folder;
  if (!('added_tokens_decoder' in init)) return readLegacyAddedTokens(folder, init, table);
  const atd = init.added_tokens_decoder;
  if (!isObject(atd)) throw unsupported(cfgFile, '"added_tokens_decoder" is not an object of id -> token');
  for (const [id, v] of Object.entries(atd)) {
    const s = isObject(v) ? tokenSpec(v, cfgFile, `added_tokens_decoder.${id}`) : null;
    if (!s || !/^\d+$/.test(id)) throw unsupported(cfgFile, `added_tokens_decoder entry ${id} is not an id -> {"content": ...} pair`);
    table.put(Number(id), added(s, s.special ?? false));
  }
}

function readLegacyAddedTokens(folder: Folder, init: Record<string, unknown>, table: AddedTable): void {
  const { file, exists, cfgFile } = folder;
  if (exists('special_tokens_map.json')) {
    const map = readJson(file('special_tokens_map.json'));
    if (!isObject(map)) throw unsupported(file('special_tokens_map.json'), 'not a JSON object');
    for (const [key, value] of Object.entries(map)) {
      if (key === 'additional_special_tokens' && Array.isArray(value)) {
        const list = Array.isArray(init.additional_special_tokens) ? [...(init.additional_special_tokens as unknown[])] : [];
        const have = new Set(list.map((t) => tokenSpec(t, cfgFile, key)?.content));
        for (const t of value) if (!have.has(tokenSpec(t, file('special_tokens_map.json'), key)?.content)) list.push(t);
        init[key] = list;
      } else init[key] = value;
    }
  }
  if (exists('added_tokens.json')) {
    const at = readJson(file('added_tokens.json'));
    if (!isObject(at)) throw unsupported(file('added_tokens.json'), 'not a JSON object of token -> id');
    const specials = new Set<string>();
    for (const key of [...SPECIAL_KEYS, 'additional_special_tokens'] as const) {
      const v = init[key];
      for (const t of Array.isArray(v) ? v : [v]) {
        const s = tokenSpec(t, cfgFile, key);
        if (s) specials.add(s.content);
      }
    }
    for (const [content, id] of Object.entries(at)) {
      if (!Number.isInteger(id)) throw unsupported(file('added_tokens.json'), `the id of "${content}" is not an integer`);
      table.put(id as number, { content, lstrip: false, rstrip: false, singleWord: false, special: specials.has(content) });
    }
  }
  if (exists('tokenizer.json')) {
    const tj = readJson(file('tokenizer.json'));
    const list = isObject(tj) && Array.isArray(tj.added_tokens) ? tj.added_tokens : [];
    for (const t of list) {
      const s = isObject(t) && Number.isInteger(t.id) ? tokenSpec(t, file('tokenizer.json'), 'added_tokens') : null;
      if (s) table.put((t as { id: number }).id, added(s, s.special ?? false));
    }
  }
}

/** The special tokens: the config's values (mapped onto the added tokens of the same content), else CLIPTokenizer's defaults. */
function specialTokens(init: Record<string, unknown>, cfgFile: string, table: AddedTable) {
  const special: Partial<Record<SpecialKey, string>> = {};
  const specs: TokenSpec[] = [];
  for (const key of SPECIAL_KEYS) {
    const spec = key in init ? tokenSpec(init[key], cfgFile, key) : CLIP_DEFAULTS[key] !== undefined ? tokenSpec(CLIP_DEFAULTS[key], cfgFile, key) : null;
    if (!spec) continue;
    const known = table.byContent.get(spec.content);
    special[key] = spec.content;
    specs.push(known ? { ...known } : spec);
  }
  const additionalSpecial: string[] = [];
  if (Array.isArray(init.additional_special_tokens)) {
    for (const t of init.additional_special_tokens) {
      const spec = tokenSpec(t, cfgFile, 'additional_special_tokens');
      if (!spec) continue;
      additionalSpecial.push(spec.content);
      const known = table.byContent.get(spec.content);
      specs.push(known ? { ...known } : spec);
    }
  }
  return { special, additionalSpecial, specs };
}

/**
 * PreTrainedTokenizer.__init__: every special token becomes an added token, at its vocab id
 * (or its added id), or appended after the vocabulary.
 */
function addSpecialTokens(vocab: Record<string, number>, specs: TokenSpec[], table: AddedTable): void {
  const current = new Map<string, number>(Object.entries(vocab));
  for (const [id, t] of table.byId) current.set(t.content, id);
  const seen = new Set<string>();
  let next = current.size;
  for (const spec of specs) {
    if (!spec.content || seen.has(spec.content)) continue;
    seen.add(spec.content);
    let id = current.get(spec.content);
    if (id === undefined) {
      id = next++;
      current.set(spec.content, id);
    }
    table.put(id, added(spec, true));
  }
}

/** model_max_length (or the legacy max_len): every prompt is padded to it, so it must be a sequence length. */
function maxLengthOf(init: Record<string, unknown>, cfgFile: string): number {
  const maxLength = init.model_max_length ?? init.max_len;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 2 || maxLength > 1e6) {
    throw unsupported(
      cfgFile,
      `model_max_length is ${JSON.stringify(maxLength)}; the pipelines pad every prompt to it, so it must be the text encoder's sequence length (77 for CLIP)`,
    );
  }
  return maxLength;
}

/** Reads a CLIPTokenizer folder the way PreTrainedTokenizerBase._from_pretrained + CLIPTokenizer.__init__ do. */
export function readClipFolder(dir: string): ClipSettings {
  const file = (f: string) => path.join(dir, f);
  const folder: Folder = { file, exists: (f) => fs.existsSync(file(f)), cfgFile: file('tokenizer_config.json') };
  const missing = ['vocab.json', 'merges.txt', 'tokenizer_config.json'].filter((f) => !folder.exists(f));
  if (missing.length)
    throw missingFile(
      dir,
      missing,
      'a CLIP tokenizer is vocab.json + merges.txt (the BPE) and tokenizer_config.json (model_max_length and the special tokens)',
    );
  const { vocab, merges } = readBpe(folder);
  const { cfgFile } = folder;
  const cfg = readJson(cfgFile);
  if (!isObject(cfg)) throw unsupported(cfgFile, 'not a JSON object');
  const init: Record<string, unknown> = { ...cfg };
  const table = new AddedTable();
  readAddedTokens(folder, init, table);
  const { special, additionalSpecial, specs } = specialTokens(init, cfgFile, table);
  addSpecialTokens(vocab, specs, table);
  const maxLength = maxLengthOf(init, cfgFile);
  const side = (key: string): 'right' | 'left' => {
    const v = init[key] ?? 'right';
    if (v !== 'right' && v !== 'left') throw unsupported(cfgFile, `${key} is ${JSON.stringify(v)} (transformers accepts "right" or "left")`);
    return v;
  };
  return {
    vocab,
    merges,
    added: table.byId,
    special,
    additionalSpecial,
    maxLength,
    paddingSide: side('padding_side'),
    truncationSide: side('truncation_side'),
    cleanUpTokenizationSpaces: init.clean_up_tokenization_spaces !== false,
    splitSpecialTokens: init.split_special_tokens === true,
  };
}

/** PreTrainedTokenizerBase.clean_up_tokenization. */
function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

export class ClipTokenizer implements Tokenizer {
  readonly maxLength: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  private readonly encoder: Map<string, number>;
  private readonly decoder = new Map<number, string>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedIds = new Map<string, number>();
  private readonly trie = new Trie();
  private readonly bpe: ByteLevelBpe;
  private readonly unk: string | undefined;
  /** Added tokens decode() keeps out of the byte-level decoding (PreTrainedTokenizer._decode's legacy_added_tokens). */
  private readonly legacyAdded = new Set<string>();

  constructor(
    private readonly s: ClipSettings,
    private readonly source: string,
  ) {
    this.encoder = new Map(Object.entries(s.vocab));
    for (const [token, id] of this.encoder) this.decoder.set(id, token);
    for (const [id, t] of [...s.added].sort((a, b) => a[0] - b[0])) {
      this.addedByContent.set(t.content, t);
      this.addedIds.set(t.content, id);
      this.trie.add(t.content);
    }
    this.bpe = new ByteLevelBpe(s.merges);
    this.unk = s.special.unk_token;
    this.maxLength = s.maxLength;
    const idOf = (key: SpecialKey) => {
      const t = s.special[key];
      const id = t === undefined ? undefined : this.tokenId(t, false);
      if (id === undefined) {
        throw unsupported(
          path.join(source, 'tokenizer_config.json'),
          `the ${key} ${t === undefined ? 'is not set' : `"${t}" is not in the vocabulary`}; the pipelines need BOS, EOS and a pad token`,
        );
      }
      return id;
    };
    this.bosId = idOf('bos_token');
    this.eosId = idOf('eos_token');
    this.padId = idOf('pad_token');
    const allSpecial = new Set([...Object.values(s.special), ...s.additionalSpecial]);
    for (const content of this.addedIds.keys()) if (!allSpecial.has(content)) this.legacyAdded.add(content);
    for (const t of s.additionalSpecial) if ((this.addedIds.get(t) ?? -1) >= this.encoder.size) this.legacyAdded.add(t);
  }

  /** convert_tokens_to_ids for one token: added tokens, then the vocabulary, then the unk token's id. */
  private tokenId(token: string, unkFallback = true): number | undefined {
    const a = this.addedIds.get(token);
    if (a !== undefined) return a;
    const v = this.encoder.get(token);
    if (v !== undefined || !unkFallback) return v;
    return this.unk === undefined ? undefined : this.encoder.get(this.unk);
  }

  /** PreTrainedTokenizer.tokenize: the token strings of a text (no BOS/EOS). */
  tokenize(text: string): string[] {
    const cps = codePoints(text);
    const pieces = this.s.splitSpecialTokens ? [{ added: false as const, text: cps }] : splitAddedTokens(cps, this.trie, this.addedByContent);
    const out: string[] = [];
    for (const p of pieces) {
      if (p.added) out.push(p.content);
      else {
        const text = basicClean(p.text);
        const bounds = clipPieceBounds(text);
        for (let k = 0; k < bounds.length; k += 2) for (const t of this.bpe.bpe(byteEncode(text, bounds[k], bounds[k + 1]))) out.push(t);
      }
    }
    return out;
  }

  encode(text: string): TokenizerOutput {
    const tokens = this.tokenize(text);
    let ids = tokens.map((t) => {
      const id = this.tokenId(t);
      if (id === undefined) {
        throw new TgateError(
          'E_UNSUPPORTED_MODEL',
          `The token "${t}" is not in ${path.join(this.source, 'vocab.json')} and the unk token ${this.unk === undefined ? 'is not set' : `"${this.unk}" is not in it either`}.`,
          {
            subject: { file: path.join(this.source, 'vocab.json') },
            hint: 'A byte-level BPE vocabulary has every single byte symbol; check that vocab.json and merges.txt belong together.',
          },
        );
      }
      return id;
    });
    const length = ids.length + 2;
    const untruncated = [this.bosId, ...ids, this.eosId];
    const remove = length - this.maxLength;
    let truncated = false;
    // truncate_sequences: only when the sequence is longer than what must go (else transformers logs an error and keeps it).
    if (remove > 0 && ids.length > remove) {
      ids = this.s.truncationSide === 'left' ? ids.slice(remove) : ids.slice(0, ids.length - remove);
      truncated = true;
    }
    const body = [this.bosId, ...ids, this.eosId];
    const pad = new Array<number>(Math.max(0, this.maxLength - body.length)).fill(this.padId);
    return {
      ids: this.s.paddingSide === 'left' ? [...pad, ...body] : [...body, ...pad],
      length,
      truncated,
      removed: truncated ? untruncated.slice(this.maxLength - 1, -1) : [],
    };
  }

  /** tokenizer.decode(ids): skip_special_tokens=False, the folder's clean_up_tokenization_spaces. */
  decode(ids: number[]): string {
    const tokens = ids.map((id) => {
      const a = this.s.added.get(id);
      const t = a ? a.content : this.decoder.get(id);
      if (t === undefined)
        throw new TgateError(
          'E_USAGE',
          `Token id ${id} is not in the vocabulary of ${this.source} (${this.encoder.size} tokens + ${this.s.added.size} added).`,
        );
      return t;
    });
    const subTexts: string[] = [];
    let current: string[] = [];
    for (const t of tokens) {
      if (this.legacyAdded.has(t)) {
        if (current.length) {
          const s = this.tokensToString(current);
          if (s.length) subTexts.push(s);
          current = [];
        }
        subTexts.push(t);
      } else current.push(t);
    }
    if (current.length) subTexts.push(this.tokensToString(current));
    const text = subTexts.join(' ');
    return this.s.cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
  }

  /** CLIPTokenizer.convert_tokens_to_string: bytes back from bytes_to_unicode, UTF-8 with errors="replace". */
  private tokensToString(tokens: string[]): string {
    const bytes: number[] = [];
    for (const ch of tokens.join('')) {
      const b = CHAR_TO_BYTE.get(ch);
      // A character outside bytes_to_unicode (only in hand-made added tokens): its own UTF-8 bytes
      // (transformers raises a KeyError there).
      if (b === undefined) bytes.push(...new TextEncoder().encode(ch));
      else bytes.push(b);
    }
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ');
    return fromCodePoints(pyStrip(codePoints(text)));
  }
}

export function loadClipTokenizer(dir: string): ClipTokenizer {
  loadUnicodeTables();
  return new ClipTokenizer(readClipFolder(dir), dir);
}
