// CLIP's byte-level BPE (openai/CLIP simple_tokenizer, transformers CLIPTokenizer.bpe): a piece's
// UTF-8 bytes are mapped to printable characters (bytes_to_unicode), the last one gets "</w>", and
// the lowest-ranked adjacent pair is merged everywhere until no ranked pair is left. Guarantees:
// the same symbols as CLIPTokenizer.bpe, including how merges.txt is read (its first line is
// skipped whatever it holds, at most 49152 - 256 - 2 merges are used, a repeated merge keeps its
// last rank) and the two pieces that bypass BPE (<|startoftext|>, <|endoftext|>, no "</w>").
import { codePoints, fromCodePoints, pySplit, pyStrip } from './python-text.js';

/** bytes_to_unicode(): byte -> character, and back. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i]!)));
  return out;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** A piece (code points, no lone surrogates) as bytes_to_unicode characters of its UTF-8 bytes. */
export function byteEncode(piece: readonly number[], start = 0, end = piece.length): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const cp = piece[i]!;
    if (cp < 0x80) s += BYTE_TO_CHAR[cp]!;
    else if (cp < 0x800) s += BYTE_TO_CHAR[0xc0 | (cp >> 6)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!;
    else if (cp < 0x10000) s += BYTE_TO_CHAR[0xe0 | (cp >> 12)]! + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!;
    else
      s +=
        BYTE_TO_CHAR[0xf0 | (cp >> 18)]! + BYTE_TO_CHAR[0x80 | ((cp >> 12) & 63)]! + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)]! + BYTE_TO_CHAR[0x80 | (cp & 63)]!;
  }
  return s;
}

const MAX_MERGES = 49152 - 256 - 2;
// JS \s covers every str.isspace() code point but \x1c-\x1f and \x85.
const SIMPLE_MERGE = /^[^\s\x1c-\x1f\x85]+ [^\s\x1c-\x1f\x85]+$/;

/** merges.txt -> rank of "first second", as CLIPTokenizer reads it. */
export function parseMerges(text: string): Map<string, number> {
  // open(encoding="utf-8").read() translates \r\n and \r; then .strip().split("\n")[1 : 48895].
  const lines = fromCodePoints(pyStrip(codePoints(text.replace(/\r\n?/g, '\n'))))
    .split('\n')
    .slice(1, MAX_MERGES + 1);
  const ranks = new Map<string, number>();
  lines.forEach((line, rank) => {
    // Fast path: one ASCII space between two runs free of anything str.split() splits on.
    const parts = SIMPLE_MERGE.test(line) ? line.split(' ') : pySplit(codePoints(line)).map(fromCodePoints);
    if (parts.length === 2) ranks.set(`${parts[0]} ${parts[1]}`, rank);
  });
  return ranks;
}

export class ByteLevelBpe {
  private readonly cache = new Map<string, string[]>([
    ['<|startoftext|>', ['<|startoftext|>']],
    ['<|endoftext|>', ['<|endoftext|>']],
  ]);

  constructor(private readonly ranks: ReadonlyMap<string, number>) {}

  /** CLIPTokenizer.bpe(token).split(" ") for a byte-encoded piece. */
  bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let word = Array.from(token);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (word[i] === first && i + 1 < word.length && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }
}
