// Symbolic sizes: polynomials over named dims (batch_size, height, width, sequence_length, ...)
// with rational coefficients, enough for what UNet and DiT exports compute on shapes: sums
// (Concat), products (Reshape arithmetic), exact division (head splits, strides) and the floor of
// a stride (Conv), under the one assumption that a symbolic spatial size is divisible by the
// strides applied to it (what every UNet export needs to run at all).

type Frac = { n: number; d: number };

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a || 1;
}

function frac(n: number, d = 1): Frac {
  if (d < 0) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return { n: n / g, d: d / g };
}

/** A monomial is its sorted factor names joined by '*' ('' for the constant term). */
export class Sym {
  private constructor(readonly terms: ReadonlyMap<string, Frac>) {}

  static of(n: number): Sym {
    return new Sym(n === 0 ? new Map() : new Map([['', frac(n)]]));
  }

  static named(name: string): Sym {
    return new Sym(new Map([[name, frac(1)]]));
  }

  private static from(entries: Iterable<[string, Frac]>): Sym {
    const m = new Map<string, Frac>();
    for (const [k, f] of entries) {
      const prev = m.get(k);
      const sum = prev ? frac(prev.n * f.d + f.n * prev.d, prev.d * f.d) : f;
      if (sum.n === 0) m.delete(k);
      else m.set(k, sum);
    }
    return new Sym(m);
  }

  get isConst(): boolean {
    return [...this.terms.keys()].every((k) => k === '');
  }

  /** The value when constant and whole, else null. */
  get value(): number | null {
    if (!this.isConst) return null;
    const c = this.terms.get('') ?? { n: 0, d: 1 };
    return c.d === 1 ? c.n : null;
  }

  add(o: Sym): Sym {
    return Sym.from([...this.terms, ...o.terms]);
  }

  sub(o: Sym): Sym {
    return this.add(o.scale(-1, 1));
  }

  scale(n: number, d: number): Sym {
    return Sym.from([...this.terms].map(([k, f]): [string, Frac] => [k, frac(f.n * n, f.d * d)]));
  }

  mul(o: Sym): Sym {
    const out: [string, Frac][] = [];
    for (const [a, fa] of this.terms) {
      for (const [b, fb] of o.terms) {
        const key = [...a.split('*'), ...b.split('*')].filter(Boolean).sort().join('*');
        out.push([key, frac(fa.n * fb.n, fa.d * fb.d)]);
      }
    }
    return Sym.from(out);
  }

  /**
   * floor(this / o). Exact when o divides this (constants, or a constant divisor, or the same
   * single term); for a constant divisor the symbolic part is taken as divisible (see above).
   * null when it cannot be said.
   */
  floorDiv(o: Sym): Sym | null {
    const dv = o.value;
    if (dv !== null) {
      if (dv === 0) return null;
      if (this.isConst) {
        const c = this.terms.get('') ?? { n: 0, d: 1 };
        return Sym.of(Math.floor(c.n / c.d / dv));
      }
      const c = this.terms.get('') ?? { n: 0, d: 1 };
      const rest = Sym.from([...this.terms].filter(([k]) => k !== ''));
      return rest.scale(1, dv).add(Sym.of(Math.floor(c.n / c.d / dv)));
    }
    // A symbolic divisor: only a single-term quotient of single terms is known.
    if (this.terms.size === 1 && o.terms.size === 1) {
      const [a, fa] = [...this.terms][0]!;
      const [b, fb] = [...o.terms][0]!;
      const rest = a.split('*').filter(Boolean);
      for (const f of b.split('*').filter(Boolean)) {
        const i = rest.indexOf(f);
        if (i < 0) return null;
        rest.splice(i, 1);
      }
      return Sym.from([[rest.join('*'), frac(fa.n * fb.d, fa.d * fb.n)]]);
    }
    return null;
  }

  /** ceil(this / o), for Range and strided Slice lengths. */
  ceilDiv(o: Sym): Sym | null {
    const dv = o.value;
    if (dv === null || dv === 0) return null;
    return this.add(Sym.of(dv > 0 ? dv - 1 : dv + 1)).floorDiv(o);
  }

  equals(o: Sym): boolean {
    return this.toString() === o.toString();
  }

  /** The value under concrete sizes for every name, or null when one is missing. */
  evaluate(sizes: Record<string, number>): number | null {
    let total = 0;
    for (const [k, f] of this.terms) {
      let v = f.n / f.d;
      for (const name of k.split('*').filter(Boolean)) {
        const s = sizes[name];
        if (s === undefined) return null;
        v *= s;
      }
      total += v;
    }
    return Math.round(total * 1e6) / 1e6;
  }

  /** e.g. "height*width/4", "2*sequence_length+1", "320". */
  toString(): string {
    if (this.terms.size === 0) return '0';
    const parts = [...this.terms]
      .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0))
      .map(([k, f]) => {
        if (k === '') return f.d === 1 ? String(f.n) : `${f.n}/${f.d}`;
        const coef = Math.abs(f.n) === 1 ? (f.n < 0 ? '-' : '') : `${f.n}*`;
        // A spatial downsampling reads better per factor: height*width/4 as height/2*width/2.
        const vars = k.split('*');
        const root = Math.round(f.d ** (1 / vars.length));
        if (f.d !== 1 && vars.length > 1 && root ** vars.length === f.d) return `${coef}${vars.map((v) => `${v}/${root}`).join('*')}`;
        return `${coef}${k}${f.d === 1 ? '' : `/${f.d}`}`;
      });
    return parts.join('+').replace(/\+-/g, '-');
  }
}

/** A dim as the IR and manifest write it: a number, a symbolic expression, or unknown. */
export function symToDim(s: Sym | null): number | string | null {
  if (!s) return null;
  return s.value ?? s.toString();
}

/**
 * Parses the dims tgate writes and exporters use: a name, a number, or a product of factors each
 * optionally divided ("height/2*width/2", "height*width/4"). null for anything else.
 */
export function parseDim(text: string): Sym | null {
  if (/^\d+$/.test(text)) return Sym.of(Number(text));
  if (!/^[A-Za-z_][\w.]*(\/\d+)?(\*([A-Za-z_][\w.]*|\d+)(\/\d+)?)*$/.test(text)) return null;
  let out = Sym.of(1);
  for (const factor of text.split('*')) {
    const [base, div] = factor.split('/');
    const b = /^\d+$/.test(base!) ? Sym.of(Number(base)) : Sym.named(base!);
    out = out.mul(div ? b.scale(1, Number(div)) : b);
  }
  return out;
}
