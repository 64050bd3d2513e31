#!/usr/bin/python3
# Writes unicode-tables.ts: the Unicode facts the slow CLIPTokenizer reads, as the reference
# environment had them (Debian bookworm: Python 3.11.2 = unicodedata 14.0.0, python3-regex
# 2022.10.31), so that tokenization does not depend on the Unicode version of the Node.js that
# runs it (Node 20 ships Unicode 15-17 data: e.g. emoji assigned after 14.0 are category Cn for
# Python 3.11, hence dropped, but letters/symbols for Node).
#
#   /usr/bin/python3 runtime/tokenizer/gen-unicode-tables.py > runtime/tokenizer/unicode-tables.ts
#
# Every table is measured by probing the functions transformers calls, code point by code point,
# not re-derived from the Unicode standard.
import sys
import unicodedata

import regex

N = 0x110000
CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def ranges(pred):
    out, start = [], None
    for cp in range(N):
        if pred(cp):
            if start is None:
                start = cp
        elif start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, N - 1))
    return out


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    s = ""
    while n:
        n, r = divmod(n, 36)
        s = digits[r] + s
    return s


def encode_ranges(rs):
    """gap,length pairs in base 36: gap = start - (previous end + 1), length = end - start + 1."""
    out, prev = [], -1
    for a, b in rs:
        out.append(b36(a - prev - 1))
        out.append(b36(b - a + 1))
        prev = b
    return ",".join(out)


cat = [unicodedata.category(chr(c)) for c in range(N)]

# BasicTokenizer._clean_text: drop NUL, U+FFFD and _is_control (category C*, but \t \n \r).
drop = lambda c: c == 0 or c == 0xFFFD or (cat[c][0] == "C" and c not in (9, 10, 13))
# _is_whitespace: " \t\n\r" or category Zs.
clean_ws = lambda c: c in (0x20, 9, 10, 13) or cat[c] == "Zs"
# str.split() / str.strip() without arguments.
isspace = lambda c: chr(c).isspace()

# The CLIP pattern's classes as the compiled pattern (regex, IGNORECASE, version 0) sees them.
rx_l = regex.compile(r"[\p{L}]", regex.IGNORECASE)
rx_n = regex.compile(r"[\p{N}]", regex.IGNORECASE)
rx_o = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
rx_s = regex.compile(r"\s", regex.IGNORECASE)
L = [bool(rx_l.fullmatch(chr(c))) for c in range(N)]
Nn = [bool(rx_n.fullmatch(chr(c))) for c in range(N)]
O = [bool(rx_o.fullmatch(chr(c))) for c in range(N)]
S = [bool(rx_s.fullmatch(chr(c))) for c in range(N)]
for c in range(N):
    assert L[c] + Nn[c] + O[c] + S[c] <= 1, hex(c)
# A code point in none of the classes (U+0345 here: IGNORECASE folds it to iota, a letter, for the
# negated class, but not for [\p{L}]) is skipped by findall, i.e. dropped.
NONE = {c for c in range(N) if not (L[c] or Nn[c] or O[c] or S[c])}

# IGNORECASE on the pattern's literal letters: which code points match each one.
literal_folds = {}
for lit in sorted(set("startoftextendoftextsrevmld")):
    m = [c for c in range(N) if regex.fullmatch(lit, chr(c), regex.IGNORECASE)]
    extra = [c for c in m if c not in (ord(lit), ord(lit.upper()))]
    if extra:
        literal_folds[lit] = extra
# the findall check of a few of these facts
p = regex.compile(CLIP_PATTERN, regex.IGNORECASE)
assert p.findall("a\u0345b") == ["a", "b"]
assert p.findall("x'\u017f") == ["x", "'\u017f"]

# str.lower(): per code point (U+03A3 is context dependent: final sigma, handled by the caller).
lower_single, lower_multi = [], []
for c in range(N):
    if c == 0x3A3:
        continue
    lo = chr(c).lower()
    if lo == chr(c):
        continue
    if len(lo) == 1:
        lower_single.append((c, ord(lo)))
    else:
        lower_multi.append((c, [ord(x) for x in lo]))
# runs: start, count, step, delta
runs = []
i = 0
while i < len(lower_single):
    c, lo = lower_single[i]
    delta = lo - c
    j = i + 1
    step = None
    if j < len(lower_single) and lower_single[j][1] - lower_single[j][0] == delta:
        step = lower_single[j][0] - c
        while j < len(lower_single) and lower_single[j][1] - lower_single[j][0] == delta and lower_single[j][0] - lower_single[j - 1][0] == step:
            j += 1
    runs.append((c, j - i, step or 1, delta))
    i = j


# Final sigma (CPython handle_capital_sigma): the code points that are skipped (case-ignorable) and
# the ones that count as cased when not skipped, probed through str.lower itself.
def final(s):
    return s.lower()[-1] == "\u03c2"


cased_stop = [c for c in range(N) if c != 0x3A3 and final(chr(c) + "\u03a3")]
ignorable = [c for c in range(N) if c != 0x3A3 and final("A" + chr(c) + "\u03a3") and not final(chr(c) + "\u03a3")]
cased_stop.append(0x3A3)  # Σ is cased and not case-ignorable
cased_stop.sort()
cs, ig = set(cased_stop), set(ignorable)
# sanity: the following-context probe agrees ("AΣ" + c: final unless c is a cased stop)
for c in range(N):
    if c == 0x3A3:
        continue
    assert ("A\u03a3" + chr(c)).lower()[1] == ("\u03c3" if c in cs else "\u03c2"), hex(c)

w = sys.stdout.write
w("// GENERATED by gen-unicode-tables.py (run it with /usr/bin/python3, output to this file); do not edit.\n")
w("// Guarantees: the Unicode facts the slow CLIPTokenizer's text path reads, exactly as in the\n")
w(f"// reference environment (Python {sys.version.split()[0]}, unicodedata {unicodedata.unidata_version}, regex {regex.__version__}),\n")
w("// independent of the Unicode version of the Node.js running tgate. Sets are base-36 gap,length pairs.\n\n")
w(f"export const UNICODE_SOURCE = 'Python {sys.version.split()[0]} unicodedata {unicodedata.unidata_version}, regex {regex.__version__}';\n\n")
w("/** BasicTokenizer._clean_text drops these: NUL, U+FFFD, category C* except tab, LF, CR. */\n")
w(f"export const DROP = '{encode_ranges(ranges(drop))}';\n\n")
w("/** BasicTokenizer._is_whitespace (space, tab, LF, CR, category Zs): becomes a space. */\n")
w(f"export const CLEAN_WHITESPACE = '{encode_ranges(ranges(clean_ws))}';\n\n")
w("/** Python str.isspace: what str.split() / str.strip() split and strip on. */\n")
w(f"export const PY_SPACE = '{encode_ranges(ranges(isspace))}';\n\n")
w("/** The CLIP pattern's [\\p{L}] under regex.IGNORECASE. */\n")
w(f"export const RX_LETTER = '{encode_ranges(ranges(lambda c: L[c]))}';\n\n")
w("/** The CLIP pattern's [\\p{N}] under regex.IGNORECASE. */\n")
w(f"export const RX_NUMBER = '{encode_ranges(ranges(lambda c: Nn[c]))}';\n\n")
w("/** \\s under regex.IGNORECASE. */\n")
w(f"export const RX_SPACE = '{encode_ranges(ranges(lambda c: S[c]))}';\n\n")
w("/** In none of the pattern's classes (findall skips them); everything else is [^\\s\\p{L}\\p{N}]. */\n")
w(f"export const RX_NONE = '{encode_ranges(ranges(lambda c: c in NONE))}';\n\n")
w("/** Non-ASCII code points that IGNORECASE lets match a literal letter of the pattern. */\n")
folds = ", ".join(k + ": [" + ", ".join(hex(x) for x in v) + "]" for k, v in literal_folds.items())
w("export const RX_LITERAL_FOLDS: Record<string, number[]> = { " + folds + " };\n\n")
w("/** str.lower, one code point to one: [start, count, step, delta] runs (U+03A3 excluded: final sigma). */\n")
w("export const LOWER_RUNS = '" + ",".join(f"{b36(a)}.{b36(n)}.{b36(s)}.{'-' if d < 0 else ''}{b36(abs(d))}" for a, n, s, d in runs) + "';\n\n")
w("/** str.lower, one code point to several. */\n")
multi = ", ".join("[" + hex(c) + ", [" + ", ".join(hex(x) for x in lo) + "]]" for c, lo in lower_multi)
w("export const LOWER_MULTI: [number, number[]][] = [" + multi + "];\n\n")
w("/** Final sigma: code points skipped while looking for a cased neighbour (case-ignorable). */\n")
w(f"export const CASE_IGNORABLE = '{encode_ranges(ranges(lambda c: c in ig))}';\n\n")
w("/** Final sigma: cased code points that are not case-ignorable. */\n")
w(f"export const CASED = '{encode_ranges(ranges(lambda c: c in cs))}';\n")
