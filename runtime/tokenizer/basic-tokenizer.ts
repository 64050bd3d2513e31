// The text clean-up CLIPTokenizer runs when ftfy is not installed: transformers'
// BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False).tokenize, then
// " ".join. Guarantees, in order and exactly as the Python code:
//   1. drop NUL, U+FFFD and category C* except \t \n \r (_clean_text);
//   2. \t \n \r, space and category Zs become a space;
//   3. a space on each side of a CJK ideograph (_is_chinese_char's ranges);
//   4. NFC;
//   5. str.split(), lower-case each piece with str.lower (no accent stripping, no punctuation
//      split), join with single spaces.
// NFC comes from the JS engine: every code point still present after step 1 was assigned in
// Unicode 14.0, and Unicode's normalization stability policy keeps NFC of such text unchanged in
// later Unicode versions.
import { codePoints, fromCodePoints, isPySpace, pyLowerInto } from './python-text.js';
import { CLEAN_WHITESPACE, DROP, flagsOf } from './unicode-props.js';

/** BasicTokenizer._is_chinese_char. */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** " ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text)), as code points. */
export function basicClean(text: readonly number[]): number[] {
  const cleaned: number[] = [];
  let plain = true;
  for (const cp of text) {
    const f = flagsOf(cp);
    if (f & DROP) continue;
    if (f & CLEAN_WHITESPACE) cleaned.push(0x20);
    else if (isChineseChar(cp)) {
      cleaned.push(0x20, cp, 0x20);
      plain = false;
    } else {
      cleaned.push(cp);
      if (cp >= 0x300) plain = false;
    }
  }
  // Below U+0300 every code point is NFC_Quick_Check=Yes and none combines: NFC is the identity.
  const nfc = plain ? cleaned : codePoints(fromCodePoints(cleaned).normalize('NFC'));
  // whitespace_tokenize (str.split), str.lower each token, " ".join. The second whitespace_tokenize
  // of BasicTokenizer.tokenize changes nothing: str.lower never yields whitespace.
  const out: number[] = [];
  for (let i = 0; i < nfc.length;) {
    if (isPySpace(nfc[i]!)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < nfc.length && !isPySpace(nfc[j]!)) j++;
    if (out.length) out.push(0x20);
    pyLowerInto(out, nfc, i, j);
    i = j;
  }
  return out;
}
