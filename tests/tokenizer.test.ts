// The pipelines' tokenizers, id for id: transformers' slow CLIPTokenizer (no ftfy) on the shared
// fixture's 200 reference prompts and on a committed 300-token CLIP tokenizer (SD-1.x and SD-2.x
// pad tokens), the word-level tokenizer.json of the demo model, and the refusals.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { ClipTokenizer, loadTokenizer, type Tokenizer } from '../runtime/tokenizer/index.js';
import { clipPieces } from '../runtime/tokenizer/clip-pattern.js';
import { codePoints, fromCodePoints, pyLower } from '../runtime/tokenizer/python-text.js';
import { FIXTURES, ROOT, scratch, sharedAvailable } from './helpers/paths.js';

const MINI = path.join(ROOT, 'tests/fixtures/clip-tokenizer-mini');
const PIPELINE = path.join(FIXTURES, 'sd15-pipeline-tiny');

interface Expected {
  ids: number[];
  length: number;
  decode: string;
  removed: string;
}

function thrown(f: () => unknown): TgateError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TgateError);
    return e as TgateError;
  }
  throw new Error('expected a TgateError');
}

/** A copy of a tokenizer folder with some files replaced. */
function variant(src: string, files: Record<string, unknown>): string {
  const dir = scratch('tgate-tokenizer-');
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), typeof v === 'string' ? v : JSON.stringify(v));
  return dir;
}

function checkAgainst(tok: Tokenizer, prompt: string, e: Expected): void {
  const o = tok.encode(prompt);
  expect({ prompt, ids: o.ids }).toEqual({ prompt, ids: e.ids });
  expect(o.length).toBe(e.length);
  expect(o.truncated).toBe(e.length > tok.maxLength);
  expect(tok.decode(o.ids)).toBe(e.decode);
  expect(tok.decode(o.removed)).toBe(e.removed);
}

describe('CLIP tokenizer, committed 300-token fixture (reference ids from transformers 5728b5ad)', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(MINI, 'expected.json'), 'utf8')) as {
    pad_bang_files: Record<string, unknown>;
    pad_ids: { sd1: number; pad_bang: number };
    cases: { prompt: string; sd1: Expected; pad_bang: Expected }[];
  };
  const sd1 = loadTokenizer(path.join(MINI, 'tokenizer'));
  const bang = loadTokenizer(variant(path.join(MINI, 'tokenizer'), expected.pad_bang_files));

  it('pads with the folder\'s own pad token: <|endoftext|> (SD-1.x) or "!" = id 0 (SD-2.x, SD-XL tokenizer_2)', () => {
    expect(sd1).toBeInstanceOf(ClipTokenizer);
    expect(sd1.maxLength).toBe(16);
    expect(sd1.padId).toBe(expected.pad_ids.sd1);
    expect(bang.padId).toBe(expected.pad_ids.pad_bang);
    expect(bang.padId).toBe(0);
    expect(sd1.encode('a').ids.slice(3)).toEqual(new Array(13).fill(299));
    expect(bang.encode('a').ids.slice(3)).toEqual(new Array(13).fill(0));
  });

  it.each(expected.cases.map((c) => [c.prompt, c] as const))('%j', (prompt, c) => {
    checkAgainst(sd1, prompt, c.sd1);
    checkAgainst(bang, prompt, c.pad_bang);
  });

  it('the pad token "!" is a special token of the SD-2 folder, so "!" in a prompt is cut out as id 0', () => {
    const a = sd1.encode('wow!!').ids;
    const b = bang.encode('wow!!').ids;
    const wow = sd1.encode('wow').ids.slice(0, sd1.encode('wow').length - 1);
    expect(b.slice(0, wow.length + 3)).toEqual([...wow, 0, 0, 299]);
    expect(a.slice(0, wow.length)).toEqual(wow);
    expect(a.slice(wow.length, wow.length + 3)).not.toEqual([0, 0, 299]);
  });

  it('truncates to BOS + 14 + EOS and reports the untruncated length and the removed ids', () => {
    const o = sd1.encode('a b c d e f g h i j k l m n o p q r');
    expect(o.ids).toHaveLength(16);
    expect(o.length).toBe(20);
    expect(o.truncated).toBe(true);
    expect(o.ids[15]).toBe(299);
    expect(sd1.decode(o.removed)).toBe('o p q r');
    const short = sd1.encode('a b');
    expect(short).toMatchObject({ length: 4, truncated: false, removed: [] });
  });

  it("follows the reference's Unicode 14 data, not this Node's: an emoji assigned later is dropped like a control character", () => {
    // U+1FAE8 (Unicode 15) is category Cn for Python 3.11, so the cleaning step removes it.
    expect(sd1.encode('a\u{1FAE8}b').ids).toEqual(sd1.encode('ab').ids);
    expect(sd1.encode('a\u{1F600}b').ids).not.toEqual(sd1.encode('ab').ids);
  });

  it('a BPE tokenizer.json beside vocab.json + merges.txt is ignored: the slow tokenizer is the reference', () => {
    const withFast = loadTokenizer(variant(path.join(MINI, 'tokenizer'), { 'tokenizer.json': { model: { type: 'BPE', vocab: { a: 0 }, merges: [] } } }));
    expect(withFast).toBeInstanceOf(ClipTokenizer);
    for (const c of expected.cases.slice(0, 5)) expect(withFast.encode(c.prompt).ids).toEqual(c.sd1.ids);
  });
});

describe('Python text semantics the slow tokenizer relies on', () => {
  const lower = (s: string) => fromCodePoints(pyLower(codePoints(s)));
  it('str.lower: İ -> i + U+0307, final sigma in context', () => {
    expect(lower('İ')).toBe('i\u0307');
    expect(lower('ΟΔΟΣ')).toBe('οδος');
    expect(lower('ΣΑ')).toBe('σα');
    expect(lower('Σ')).toBe('σ');
    expect(lower("Α'Σ")).toBe("α'ς");
  });

  it('CLIP pattern with regex IGNORECASE: U+0345 matches no class, long s ends a contraction', () => {
    const pieces = (s: string) => clipPieces(codePoints(s)).map(fromCodePoints);
    expect(pieces('a\u0345b')).toEqual(['a', 'b']);
    expect(pieces("it'\u017f")).toEqual(['it', "'\u017f"]);
    expect(pieces('x<|endoftext|>y 12')).toEqual(['x', '<|endoftext|>', 'y', '1', '2']);
    expect(pieces("''s")).toEqual(["''", 's']);
  });
});

const have = sharedAvailable('the 200 reference prompts of sd15-pipeline-tiny') && fs.existsSync(PIPELINE);

(have ? describe : describe.skip)('CLIP tokenizer on sd15-pipeline-tiny (shared reference corpus)', () => {
  const dir = path.join(PIPELINE, 'tokenizer');
  const corpus = () =>
    JSON.parse(fs.readFileSync(path.join(PIPELINE, 'ref/tokenizer/tokenizer/corpus.json'), 'utf8')) as {
      pad_token_id: number;
      entries: { prompt: string; input_ids: number[]; attention_mask: number[]; untruncated_length: number; truncated: boolean }[];
    };

  it('reproduces all 200 prompts id for id, with the untruncated length and the truncation flag', () => {
    const tok = loadTokenizer(dir);
    const c = corpus();
    expect(tok.maxLength).toBe(77);
    expect(tok.padId).toBe(c.pad_token_id);
    const t0 = performance.now();
    const outs = c.entries.map((e) => tok.encode(e.prompt));
    const ms = performance.now() - t0;
    const wrong = c.entries.filter((e, i) => JSON.stringify(outs[i]!.ids) !== JSON.stringify(e.input_ids)).map((e) => e.prompt);
    expect(wrong).toEqual([]);
    expect(outs.map((o) => o.length)).toEqual(c.entries.map((e) => e.untruncated_length));
    expect(outs.map((o) => o.truncated)).toEqual(c.entries.map((e) => e.truncated));
    expect(c.entries.filter((e) => e.truncated)).toHaveLength(7);
    for (const [i, e] of c.entries.entries()) if (e.truncated) expect(outs[i]!.removed).toHaveLength(e.untruncated_length - 77);
    console.log(`tokenized 200 prompts in ${ms.toFixed(1)} ms (cold)`);
    expect(ms).toBeLessThan(2000);
  });

  it('special-token strings inside the text: <|endoftext|> and <|ENDOFTEXT|> both give the EOS id', () => {
    const tok = loadTokenizer(dir);
    const plain = tok.encode('a cat <|endoftext|> a dog').ids;
    expect(tok.encode('a cat <|ENDOFTEXT|> a dog').ids).toEqual(plain);
    expect(plain.filter((x) => x === 1513).length).toBeGreaterThan(70);
    expect(plain.slice(0, 3)).toEqual([1512, 320, 1286]);
    expect(plain[3]).toBe(1513);
    expect(tok.encode('<|startoftext|>').ids.slice(0, 3)).toEqual([1512, 1512, 1513]);
  });

  it('matches ref/prompts: the three pipeline prompts and the empty negative prompt', () => {
    const tok = loadTokenizer(dir);
    const prompts = [
      'a photo of an astronaut riding a horse on mars',
      'A cozy wooden cabin in a snowy forest at night, warm light, oil painting',
      'Portrait of a fox wearing a tiny crown, highly detailed, 4k -- café style!',
    ];
    const ids = (f: string) => {
      const b = fs.readFileSync(f);
      return Array.from(new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    };
    prompts.forEach((p, k) => {
      expect(tok.encode(p).ids).toEqual(ids(path.join(PIPELINE, `ref/prompts/p${k}/tokenizer_input_ids.bin`)));
      expect(tok.encode('').ids).toEqual(ids(path.join(PIPELINE, `ref/prompts/p${k}/tokenizer_negative_input_ids.bin`)));
    });
  });

  it('an SD-2.x-style folder (same vocabulary, pad_token "!") pads with id 0', () => {
    const sd2 = loadTokenizer(
      variant(dir, {
        'tokenizer_config.json': {
          added_tokens_decoder: {
            '0': { content: '!', lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
            '1512': { content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
            '1513': { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
          },
          bos_token: '<|startoftext|>',
          eos_token: '<|endoftext|>',
          model_max_length: 77,
          pad_token: '!',
          tokenizer_class: 'CLIPTokenizer',
          unk_token: '<|endoftext|>',
        },
      }),
    );
    const sd1 = loadTokenizer(dir);
    expect(sd2.padId).toBe(0);
    const p = 'a photo of an astronaut riding a horse on mars';
    const a = sd1.encode(p).ids;
    const b = sd2.encode(p).ids;
    expect(b.slice(0, 13)).toEqual(a.slice(0, 13));
    expect(b.slice(13)).toEqual(new Array(64).fill(0));
  });
});

describe('word-level tokenizer.json (the demo model)', () => {
  const vocab = ['<pad>', 'a', 'red', 'green', 'circle', 'square', 'on', 'the', 'left', 'right'];
  const json = (over: Record<string, unknown> = {}) => ({
    version: '1.0',
    truncation: { direction: 'Right', max_length: 8, strategy: 'LongestFirst', stride: 0 },
    padding: { strategy: { Fixed: 8 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '<pad>' },
    added_tokens: [{ id: 0, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(vocab.map((w, i) => [w, i])), unk_token: null },
    ...over,
  });
  const folder = (over?: Record<string, unknown>, files: Record<string, unknown> = {}) => {
    const dir = scratch('tgate-wordlevel-');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json(over)));
    for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), JSON.stringify(v));
    return dir;
  };

  it('lower-cases, splits on whitespace, pads to the fixed length with pad_id', () => {
    const tok = loadTokenizer(folder());
    expect(tok.maxLength).toBe(8);
    expect(tok.padId).toBe(0);
    expect(tok.encode('  A Red\tcircle on the LEFT ')).toEqual({ ids: [1, 2, 4, 6, 7, 8, 0, 0], length: 6, truncated: false, removed: [] });
    expect(tok.encode('').ids).toEqual(new Array(8).fill(0));
    expect(tok.decode([1, 3, 5])).toBe('a green square');
  });

  it('truncates at max_length and says so', () => {
    const tok = loadTokenizer(folder());
    const o = tok.encode('a red circle on the left a green square');
    expect(o).toMatchObject({ ids: [1, 2, 4, 6, 7, 8, 1, 3], length: 9, truncated: true });
    expect(tok.decode(o.removed)).toBe('square');
  });

  it('refuses a word outside the vocabulary (no unk token), naming it and listing the vocabulary', () => {
    const tok = loadTokenizer(folder());
    const e = thrown(() => tok.encode('a blue circle on the top'));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toMatch(/outside the tokenizer's vocabulary: blue, top\./);
    expect(e.hint).toContain('<pad>, a, red, green, circle, square, on, the, left, right');
  });

  it('maps unknown words to the unk token when the vocabulary has one; Whitespace splits punctuation', () => {
    const v = Object.fromEntries([...vocab, '[UNK]', ','].map((w, i) => [w, i]));
    const tok = loadTokenizer(folder({ model: { type: 'WordLevel', vocab: v, unk_token: '[UNK]' }, pre_tokenizer: { type: 'Whitespace' }, normalizer: null }));
    expect(tok.encode('a blue, circle').ids.slice(0, 5)).toEqual([1, 10, 11, 4, 0]);
    expect(tok.encode('A').ids[0]).toBe(10); // no Lowercase normalizer: "A" is unknown
  });

  it("takes the length the pipelines pass (tokenizer_config.json model_max_length) over the file's padding", () => {
    const tok = loadTokenizer(folder({}, { 'tokenizer_config.json': { model_max_length: 5, tokenizer_class: 'PreTrainedTokenizerFast' } }));
    expect(tok.maxLength).toBe(5);
    expect(tok.encode('a red').ids).toEqual([1, 2, 0, 0, 0]);
  });

  it('refuses what it does not implement', () => {
    const e = thrown(() => loadTokenizer(folder({ post_processor: { type: 'TemplateProcessing' } })));
    expect(e.code).toBe('E_UNSUPPORTED_MODEL');
    expect(e.message).toMatch(/tokenizer\.json: post_processor "TemplateProcessing" is not supported/);
    expect(thrown(() => loadTokenizer(folder({ normalizer: { type: 'BertNormalizer' } }))).code).toBe('E_UNSUPPORTED_MODEL');
    expect(thrown(() => loadTokenizer(folder({ padding: null, truncation: null }))).message).toMatch(/no sequence length/);
  });
});

describe('tokenizer folders tgate cannot read', () => {
  it('a missing folder or missing files: E_FILE_MISSING naming them', () => {
    const none = path.join(scratch('tgate-tok-'), 'nope');
    let e = thrown(() => loadTokenizer(none));
    expect(e.code).toBe('E_FILE_MISSING');
    expect(e.message).toContain(none);

    const empty = scratch('tgate-tok-');
    e = thrown(() => loadTokenizer(empty));
    expect(e.code).toBe('E_FILE_MISSING');
    expect(e.message).toMatch(/has no vocab\.json \/ merges\.txt \/ tokenizer_config\.json \/ tokenizer\.json/);
    expect(e.hint).toMatch(/CLIP tokenizers .* word-level tokenizers/);

    const noMerges = variant(path.join(MINI, 'tokenizer'), {});
    fs.rmSync(path.join(noMerges, 'merges.txt'));
    e = thrown(() => loadTokenizer(noMerges));
    expect(e.code).toBe('E_FILE_MISSING');
    expect(e.message).toMatch(/has no merges\.txt/);
    expect(e.subject.file).toBe(path.join(noMerges, 'merges.txt'));
  });

  it('another tokenizer class or format: E_UNSUPPORTED_MODEL naming the file and what is supported', () => {
    const t5 = variant(path.join(MINI, 'tokenizer'), { 'tokenizer_config.json': { tokenizer_class: 'T5TokenizerFast', model_max_length: 512 } });
    let e = thrown(() => loadTokenizer(t5));
    expect(e.code).toBe('E_UNSUPPORTED_MODEL');
    expect(e.message).toMatch(/tokenizer_config\.json: tokenizer_class is T5TokenizerFast/);
    expect(e.hint).toMatch(/tgate reads CLIP tokenizers/);

    const unigram = scratch('tgate-tok-');
    fs.writeFileSync(path.join(unigram, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    e = thrown(() => loadTokenizer(unigram));
    expect(e.code).toBe('E_UNSUPPORTED_MODEL');
    expect(e.message).toMatch(/tokenizer\.json: its model is Unigram/);

    const badJson = variant(path.join(MINI, 'tokenizer'), { 'vocab.json': '{"a": 0,' });
    e = thrown(() => loadTokenizer(badJson));
    expect(e.code).toBe('E_UNSUPPORTED_MODEL');
    expect(e.message).toMatch(/vocab\.json: not valid JSON/);

    const noLength = variant(path.join(MINI, 'tokenizer'), { 'tokenizer_config.json': { tokenizer_class: 'CLIPTokenizer' } });
    expect(thrown(() => loadTokenizer(noLength)).message).toMatch(/model_max_length is undefined/);
  });
});
