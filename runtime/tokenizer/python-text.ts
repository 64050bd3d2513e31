// The Python str methods the slow tokenizers call, on arrays of code points (Python strings are
// code point sequences; JS strings are UTF-16): str.lower() (incl. its final-sigma rule),
// str.split() and str.strip() without arguments. Guarantees: the same result as CPython 3.11 for
// any input, since every Unicode fact comes from unicode-props.ts (JS toLowerCase and \s follow
// the engine's newer Unicode version and differ on some code points).
import { CASE_IGNORABLE, CASED, PY_SPACE, has, lowerOf } from './unicode-props.js';

/** The code points of a string; a lone surrogate stays one code point (0xD800-0xDFFF). */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

export function fromCodePoints(cps: readonly number[]): string {
  let s = '';
  for (let i = 0; i < cps.length; i += 4096) s += String.fromCodePoint(...cps.slice(i, i + 4096));
  return s;
}

const SIGMA = 0x3a3;

/**
 * str.lower(). U+03A3 becomes final sigma (U+03C2) when a cased letter precedes it and none
 * follows, case-ignorable code points being skipped both ways (CPython handle_capital_sigma).
 */
export function pyLower(cps: readonly number[]): number[] {
  const out: number[] = [];
  pyLowerInto(out, cps, 0, cps.length);
  return out;
}

/** Appends str.lower() of the string cps[start:end] to out. */
export function pyLowerInto(out: number[], cps: readonly number[], start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const cp = cps[i]!;
    if (cp < 0x41) out.push(cp);
    else if (cp <= 0x5a) out.push(cp + 32);
    else if (cp === SIGMA) out.push(finalSigma(cps, start, end, i) ? 0x3c2 : 0x3c3);
    else {
      const lo = cp < 0x80 ? undefined : lowerOf(cp);
      if (lo === undefined) out.push(cp);
      else for (const x of lo) out.push(x);
    }
  }
}

function finalSigma(cps: readonly number[], start: number, end: number, i: number): boolean {
  let j = i - 1;
  while (j >= start && has(cps[j]!, CASE_IGNORABLE)) j--;
  if (j < start || !has(cps[j]!, CASED)) return false;
  j = i + 1;
  while (j < end && has(cps[j]!, CASE_IGNORABLE)) j++;
  return j === end || !has(cps[j]!, CASED);
}

export function isPySpace(cp: number): boolean {
  return has(cp, PY_SPACE);
}

/** str.split() without arguments: runs of whitespace separate, no empty pieces. */
export function pySplit(cps: readonly number[]): number[][] {
  const out: number[][] = [];
  let cur: number[] | null = null;
  for (const cp of cps) {
    if (isPySpace(cp)) {
      if (cur) out.push(cur);
      cur = null;
    } else (cur ??= []).push(cp);
  }
  if (cur) out.push(cur);
  return out;
}

/** str.strip() without arguments. */
export function pyStrip(cps: readonly number[]): number[] {
  let a = 0;
  let b = cps.length;
  while (a < b && isPySpace(cps[a]!)) a++;
  while (b > a && isPySpace(cps[b - 1]!)) b--;
  return cps.slice(a, b);
}

export function pyLstrip(cps: readonly number[]): number[] {
  let a = 0;
  while (a < cps.length && isPySpace(cps[a]!)) a++;
  return cps.slice(a);
}

export function pyRstrip(cps: readonly number[]): number[] {
  let b = cps.length;
  while (b > 0 && isPySpace(cps[b - 1]!)) b--;
  return cps.slice(0, b);
}
