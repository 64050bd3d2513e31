// CLIP's pre-tokenization: re.findall of
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// compiled by the Python `regex` module with IGNORECASE. Guarantees: the same pieces as that call
// for any code point sequence. It is a hand-written scanner, not a JS RegExp, because the classes
// must be the reference's (unicode-props.ts) and JS's /iu case folding differs from regex's:
// e.g. U+0345 is in no class under regex's IGNORECASE (findall skips it), and U+017F (long s)
// matches the 's of "'s".
import { RX_LETTER, RX_NONE, RX_NUMBER, RX_SPACE, flagsOf, literalFolds } from './unicode-props.js';
import { codePoints } from './python-text.js';

/** The literal alternatives, in the pattern's order (alternation is ordered, not longest). */
const LITERALS: readonly (readonly number[])[] = ['<|startoftext|>', '<|endoftext|>', "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(codePoints);

function foldsOf(lit: number): readonly number[] {
  const c = String.fromCharCode(lit);
  if (!/[a-z]/.test(c)) return [lit];
  return [lit, c.toUpperCase().charCodeAt(0), ...literalFolds(c)];
}

const FOLDS = new Map<number, readonly number[]>();
for (const lit of LITERALS) for (const cp of lit) if (!FOLDS.has(cp)) FOLDS.set(cp, foldsOf(cp));

function literalAt(text: readonly number[], i: number, lit: readonly number[]): boolean {
  if (i + lit.length > text.length || (text[i] !== 0x27 && text[i] !== 0x3c)) return false;
  for (let k = 0; k < lit.length; k++) if (!FOLDS.get(lit[k]!)!.includes(text[i + k]!)) return false;
  return true;
}

const enum Cls {
  Letter,
  Number,
  Other,
  Skip,
}

function classOf(cp: number): Cls {
  const f = flagsOf(cp);
  if (f & RX_LETTER) return Cls.Letter;
  if (f & RX_NUMBER) return Cls.Number;
  if (f & (RX_SPACE | RX_NONE)) return Cls.Skip;
  return Cls.Other;
}

/** findall: the matched pieces as [start, end) index pairs, left to right; code points no alternative matches are skipped. */
export function clipPieceBounds(text: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  outer: while (i < text.length) {
    for (const lit of LITERALS) {
      if (literalAt(text, i, lit)) {
        out.push(i, i + lit.length);
        i += lit.length;
        continue outer;
      }
    }
    const cls = classOf(text[i]!);
    if (cls === Cls.Skip) {
      i++;
    } else if (cls === Cls.Number) {
      out.push(i, i + 1);
      i++;
    } else {
      let j = i + 1;
      while (j < text.length && classOf(text[j]!) === cls) j++;
      out.push(i, j);
      i = j;
    }
  }
  return out;
}

/** findall: the matched pieces. */
export function clipPieces(text: readonly number[]): number[][] {
  const b = clipPieceBounds(text);
  const out: number[][] = [];
  for (let k = 0; k < b.length; k += 2) out.push(text.slice(b[k], b[k + 1]));
  return out;
}
