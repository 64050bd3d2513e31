// Lookups over unicode-tables.ts: for any code point, the facts the slow CLIPTokenizer's text path
// reads (dropped by _clean_text, whitespace, Python str.isspace, the CLIP pattern's class, final
// sigma context) and Python's str.lower mapping. Guarantees: answers are those of the reference
// Python (3.11.2 / unicodedata 14.0.0 / regex 2022.10.31) for all 0x110000 code points, whatever
// Unicode version this Node.js has. O(1) in the BMP, a binary search above it.
import * as T from './unicode-tables.js';

export const DROP = 1;
export const CLEAN_WHITESPACE = 2;
export const PY_SPACE = 4;
export const RX_LETTER = 8;
export const RX_NUMBER = 16;
export const RX_SPACE = 32;
export const RX_NONE = 64;
export const CASE_IGNORABLE = 128;
export const CASED = 256;

/** [start0, end0, start1, end1, ...], inclusive, ascending. */
function decodeRanges(s: string): Uint32Array {
  const parts = s === '' ? [] : s.split(',').map((x) => parseInt(x, 36));
  const out = new Uint32Array(parts.length);
  let prevEnd = -1;
  for (let i = 0; i < parts.length; i += 2) {
    const start = prevEnd + 1 + parts[i]!;
    const end = start + parts[i + 1]! - 1;
    out[i] = start;
    out[i + 1] = end;
    prevEnd = end;
  }
  return out;
}

function inRanges(r: Uint32Array, cp: number): boolean {
  let lo = 0;
  let hi = r.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < r[2 * mid]!) hi = mid - 1;
    else if (cp > r[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

export interface Tables {
  sets: [number, Uint32Array][];
  bmp: Uint16Array;
  lower: Map<number, number[]>;
}

let tables: Tables | null = null;

/** Builds the lookup tables (a few ms, once); called lazily, or up front by a tokenizer's loader. */
export function loadUnicodeTables(): Tables {
  if (tables) return tables;
  const sets: [number, Uint32Array][] = [
    [DROP, decodeRanges(T.DROP)],
    [CLEAN_WHITESPACE, decodeRanges(T.CLEAN_WHITESPACE)],
    [PY_SPACE, decodeRanges(T.PY_SPACE)],
    [RX_LETTER, decodeRanges(T.RX_LETTER)],
    [RX_NUMBER, decodeRanges(T.RX_NUMBER)],
    [RX_SPACE, decodeRanges(T.RX_SPACE)],
    [RX_NONE, decodeRanges(T.RX_NONE)],
    [CASE_IGNORABLE, decodeRanges(T.CASE_IGNORABLE)],
    [CASED, decodeRanges(T.CASED)],
  ];
  const bmp = new Uint16Array(0x10000);
  for (const [flag, r] of sets) {
    for (let i = 0; i < r.length; i += 2) {
      const end = Math.min(r[i + 1]!, 0xffff);
      for (let cp = r[i]!; cp <= end; cp++) bmp[cp]! |= flag;
    }
  }
  const lower = new Map<number, number[]>();
  for (const run of T.LOWER_RUNS.split(',')) {
    const [start, count, step, delta] = run.split('.').map((x) => parseInt(x, 36)) as [number, number, number, number];
    for (let k = 0; k < count; k++) lower.set(start + k * step, [start + k * step + delta]);
  }
  for (const [cp, to] of T.LOWER_MULTI) lower.set(cp, to);
  tables = { sets, bmp, lower };
  return tables;
}

/** The flags of a code point (a bitwise OR of the constants above). */
export function flagsOf(cp: number): number {
  const t = loadUnicodeTables();
  if (cp < 0x10000) return t.bmp[cp]!;
  let f = 0;
  for (const [flag, r] of t.sets) if (inRanges(r, cp)) f |= flag;
  return f;
}

export function has(cp: number, flag: number): boolean {
  return (flagsOf(cp) & flag) !== 0;
}

/** Python's chr(cp).lower() as code points, for every code point but U+03A3 (see pyLower). */
export function lowerOf(cp: number): number[] | undefined {
  return loadUnicodeTables().lower.get(cp);
}

/** Code points that IGNORECASE lets match an ASCII letter of the CLIP pattern besides its two cases. */
export function literalFolds(letter: string): readonly number[] {
  return T.RX_LITERAL_FOLDS[letter] ?? [];
}
