// Symbolic dimensions as the site analysis writes them: a product of factors, each a name or a
// number, optionally divided ("height/2*width/2"). Evaluated under concrete sizes for the proof
// and for memory accounting.
import type { Dim } from './value.js';

/** The dim's value with every name bound; null when a name is unbound or the result is not whole. */
export function evalDim(d: Dim | string | number, dims: Record<string, number>): number | null {
  if (typeof d === 'number') return d;
  if (typeof d !== 'string') return null;
  let value = 1;
  for (const factor of d.split('*')) {
    const [name, div] = factor.split('/');
    const base = /^\d+$/.test(name!) ? Number(name) : dims[name!];
    if (base === undefined) return null;
    value *= div === undefined ? base : base / Number(div);
  }
  return Number.isInteger(value) ? value : null;
}
