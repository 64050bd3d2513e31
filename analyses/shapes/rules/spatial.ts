// Shape rules for ops over spatial dims: Conv, ConvTranspose, pooling, Resize and Upsample.
// Symbolic spatial sizes are taken as divisible by the strides applied to them (see sym.ts).
import type { Node } from '../../../ir/node.js';
import { constantNumbers } from '../../../ir/constant-value.js';
import { ints, known, type Rule, type Shape } from '../facts.js';
import { scaleDim } from '../shape-math.js';
import { Sym } from '../sym.js';

/** Conv/pool output size: floor((in + pads - dilation*(k-1) - 1) / stride) + 1. */
function windowed(n: Node, x: Shape, kernel: (Sym | null)[], channelsOut: Sym | null): Shape {
  const spatial = x.length - 2;
  const strides = n.attr.ints('strides') ?? Array(spatial).fill(1);
  const dil = n.attr.ints('dilations') ?? Array(spatial).fill(1);
  const pads = n.attr.ints('pads') ?? Array(2 * spatial).fill(0);
  const mode = n.attr.string('auto_pad') ?? 'NOTSET';
  const out: Shape = [x[0]!, channelsOut];
  for (let i = 0; i < spatial; i++) {
    const d = x[2 + i];
    if (!d) {
      out.push(null);
      continue;
    }
    if (mode === 'SAME_UPPER' || mode === 'SAME_LOWER') {
      out.push(d.ceilDiv(Sym.of(strides[i]!)));
      continue;
    }
    const k = kernel[i];
    if (!k || k.value === null) {
      out.push(null);
      continue;
    }
    const padded = mode === 'VALID' ? d : d.add(Sym.of(pads[i]! + pads[i + spatial]!));
    const num = padded.sub(Sym.of(dil[i]! * (k.value - 1) + 1));
    const q = num.floorDiv(Sym.of(strides[i]!));
    out.push(q ? q.add(Sym.of(1)) : null);
  }
  return out;
}

const conv: Rule = (n, ins) => {
  const x = ins[0]?.shape;
  const w = ins[1]?.shape;
  if (!x || !w) return [known(null)];
  return [known(windowed(n, x, w.slice(2), w[0] ?? null))];
};

const convTranspose: Rule = (n, ins) => {
  const x = ins[0]?.shape;
  const w = ins[1]?.shape;
  if (!x || !w) return [known(null)];
  const group = n.attr.int('group') ?? 1;
  const spatial = x.length - 2;
  const explicit = n.attr.ints('output_shape');
  if (explicit) return [known([x[0]!, w[1] ? w[1].mul(Sym.of(group)) : null, ...explicit.map((v) => Sym.of(v))])];
  const strides = n.attr.ints('strides') ?? Array(spatial).fill(1);
  const dil = n.attr.ints('dilations') ?? Array(spatial).fill(1);
  const pads = n.attr.ints('pads') ?? Array(2 * spatial).fill(0);
  const outPad = n.attr.ints('output_padding') ?? Array(spatial).fill(0);
  const out: Shape = [x[0]!, w[1] ? w[1].mul(Sym.of(group)) : null];
  for (let i = 0; i < spatial; i++) {
    const d = x[2 + i];
    const k = w[2 + i]?.value;
    out.push(
      d && typeof k === 'number'
        ? d
            .sub(Sym.of(1))
            .mul(Sym.of(strides[i]!))
            .add(Sym.of(outPad[i]! + dil[i]! * (k - 1) + 1 - pads[i]! - pads[i + spatial]!))
        : null,
    );
  }
  return [known(out)];
};

const pool: Rule = (n, ins) => {
  const x = ins[0]?.shape;
  const kernel = (n.attr.ints('kernel_shape') ?? []).map((k) => Sym.of(k));
  return [known(x ? windowed(n, x, kernel, x[1] ?? null) : null)];
};

const resize: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  if (!s) return [known(null)];
  const sizes = n.inputs[3] ? ints(n.inputs[3], ins[3]) : null;
  if (sizes && sizes.length) return [known(sizes.map((x) => Sym.of(x)))];
  const scales = constantNumbers(n.inputs[2] ?? n.inputs[1] ?? null);
  if (!scales || !scales.length) return [known(s.map(() => null))];
  return [known(s.map((d, i) => (d ? scaleDim(d, scales[i]!) : null)))];
};

const upsample: Rule = (n, ins) => {
  const s = ins[0]?.shape;
  const scales = constantNumbers(n.inputs[1] ?? null) ?? n.attr.floats('scales');
  return [known(s && scales ? s.map((d, i) => (d ? scaleDim(d, scales[i]!) : null)) : null)];
};

export const SPATIAL_RULES: Record<string, Rule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: (_n, ins) => [known(ins[0]?.shape ? ins[0].shape.map((d, i) => (i < 2 ? d : Sym.of(1))) : null)],
  Resize: resize,
  Upsample: upsample,
};
