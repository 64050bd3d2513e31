// Medians for measured times (bench, calibrate): robust to the odd slow run.

export function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}
