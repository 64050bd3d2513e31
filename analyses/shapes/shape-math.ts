// Dim arithmetic the rules share: numpy broadcasting, products of dims, the MatMul output
// shape, and scaling a dim by a Resize factor. Pure functions over Sym; null where a dim cannot be said.
import type { Shape } from './facts.js';
import { Sym } from './sym.js';

function broadcastDim(a: Sym | null, b: Sym | null): Sym | null {
  if (a && a.value === 1) return b;
  if (b && b.value === 1) return a;
  if (a && b) return a.equals(b) ? a : a.isConst && b.isConst ? null : a.isConst ? a : b.isConst ? b : a;
  return a ?? b ?? null;
}

export function broadcast(shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => s === null)) return null;
  const r = Math.max(...shapes.map((s) => s!.length));
  const out: Shape = [];
  for (let i = 0; i < r; i++) {
    let d: Sym | null = Sym.of(1);
    let first = true;
    for (const s of shapes) {
      const j = i - (r - s!.length);
      if (j < 0) continue;
      d = first ? s![j]! : broadcastDim(d, s![j]!);
      first = false;
    }
    out.push(d);
  }
  return out;
}

export function product(dims: Shape): Sym | null {
  let p: Sym = Sym.of(1);
  for (const d of dims) {
    if (!d) return null;
    p = p.mul(d);
  }
  return p;
}

export function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b) return null;
  const a2 = a.length === 1 ? [Sym.of(1), a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, Sym.of(1)] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return null;
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

export function scaleDim(d: Sym, s: number): Sym | null {
  if (Number.isInteger(s)) return d.mul(Sym.of(s));
  const inv = 1 / s;
  return Number.isInteger(inv) ? d.floorDiv(Sym.of(inv)) : d.value !== null ? Sym.of(Math.floor(d.value * s)) : null;
}
