// "Did you mean ...?" for a value outside a fixed set of names (--print-ir-after's passes): the name it
// is a prefix of, or the nearest by edit distance when near enough to be a typo, as commander
// offers for unknown options. No suggestion beats a wrong one: far-off words get none.

/** Edit distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The name `word` most likely meant, or null. */
export function closestName(word: string, names: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = names.filter((n) => w.length >= 3 && n.toLowerCase().startsWith(w));
  if (prefixed.length === 1) return prefixed[0]!;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const n of names) {
    const distance = editDistance(w, n.toLowerCase());
    const similarity = 1 - distance / Math.max(w.length, n.length);
    if (distance <= 3 && similarity > 0.4 && distance < bestDistance) [best, bestDistance] = [n, distance];
  }
  return best;
}

/** A usage error's hint for a value outside `names`: "Did you mean X? " and then the names. */
export function namesHint(word: string, names: readonly string[], what: string): string {
  const guess = closestName(word, names);
  return `${guess ? `Did you mean ${guess}? ` : ''}${what}: ${names.join(', ')}.`;
}
