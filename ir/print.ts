// A graph as readable text, for debugging rewrites (--print-ir-after) and structural goldens: a
// header with the inputs, outputs and initializers (with types), then one line per node in the
// graph's order, `%out = OpType<domain>(%in, ...) {attr=...}`. Deterministic: the same graph
// always prints the same text; weights are described (type, where they live), never printed.
// Names that are not plain (anything beyond letters, digits and `_ . / : -`) print JSON-quoted, so
// a name with a comma, space, quote or newline cannot be misread as two names or another line.
import type { AttrValue } from './attributes.js';
import type { TensorConstant } from './constant.js';
import { DTYPE, dtypeName } from './dtype.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { TensorType, Value } from './value.js';

/** Inline constants with at most this many elements print their numbers. */
const SMALL = 8;

export function printGraph(g: Graph, opts: { title?: string } = {}): string {
  const io = (vs: readonly Value[]) => vs.map((v) => `  ${ref(v)}: ${typeText(v.type)}`);
  const lines = [
    `graph ${JSON.stringify(opts.title ?? g.name)} {`,
    ` inputs (${g.inputs.length}):`,
    ...io(g.inputs),
    ` outputs (${g.outputs.length}):`,
    ...io(g.outputs),
    ` initializers (${g.initializers.length}):`,
    ...g.initializers.map((v) => `  ${ref(v)}: ${v.constant ? constantText(v.constant) : typeText(v.type)}`),
    ` nodes (${g.nodes.length}):`,
    ...g.nodes.map((n) => `  ${nodeText(n)}`),
    '}',
  ];
  return lines.join('\n') + '\n';
}

export function nodeText(n: Node): string {
  const outs = n.outputs.map(ref).join(', ');
  const op = n.domain && n.domain !== 'ai.onnx' ? `${nameText(n.opType)}<${nameText(n.domain)}>` : nameText(n.opType);
  const attrs = n.attr.entries();
  const attrText = attrs.length ? ` {${attrs.map(([k, a]) => `${nameText(k)}=${attrValueText(a)}`).join(', ')}}` : '';
  // Outer-scope reads of subgraph bodies are edges too: printed, so a cut that orphans one shows.
  const implicit = n.implicitInputs.length ? ` captures(${n.implicitInputs.map(ref).join(', ')})` : '';
  const name = n.declaredName ? `  # ${nameText(n.declaredName)}` : '';
  return `${outs || '()'} = ${op}(${n.inputs.map(ref).join(', ')})${attrText}${implicit}${name}`;
}

/** A value reference; `_` for an omitted optional input or output. */
function ref(v: Value | null): string {
  return v ? `%${nameText(v.name)}` : '_';
}

const PLAIN = /^[A-Za-z0-9_./:-]+$/;

/** A name as it is when plain, JSON-quoted otherwise (the empty name too). */
export function nameText(name: string): string {
  return PLAIN.test(name) ? name : JSON.stringify(name);
}

export function typeText(t: TensorType | null): string {
  if (!t) return '?';
  const shape = t.shape ? `[${t.shape.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '[?]';
  return `${dtypeName(t.dtype)}${shape}`;
}

function constantText(c: TensorConstant): string {
  const type = typeText({ dtype: c.dtype, shape: [...c.dims] });
  if (c.external) return `${type} external(${nameText(c.external.location)}@${c.external.offset}${c.external.length === null ? '' : `+${c.external.length}`})`;
  const count = c.dims.reduce((a, d) => a * d, 1);
  const numbers = count <= SMALL ? c.numbers() : undefined;
  const text = c.dtype === DTYPE.float32 ? float32Text : numberText;
  return numbers ? `${type} = [${numbers.map(text).join(', ')}]` : type;
}

function attrValueText(a: AttrValue): string {
  switch (a.kind) {
    case 'int':
      return numberText(a.value);
    case 'float':
      return float32Text(a.value);
    case 'string':
      return JSON.stringify(a.value);
    case 'ints':
      return `[${a.value.map(numberText).join(', ')}]`;
    case 'floats':
      return `[${a.value.map(float32Text).join(', ')}]`;
    case 'strings':
      return `[${a.value.map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'tensor':
      return `tensor ${constantText(a.value)}`;
    case 'tensors':
      return `[${a.value.map((t) => `tensor ${constantText(t)}`).join(', ')}]`;
    case 'opaque':
      return `<${a.type}>`;
  }
}

/** Numbers as JavaScript prints them (shortest round-trip form), -0 kept. */
function numberText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** A float32 in the fewest digits that read back as the same float32 (1e-5, not 0.000009999999747378752). */
function float32Text(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let digits = 1; digits < 17; digits++) {
    const s = x.toPrecision(digits);
    if (Math.fround(Number(s)) === x) return numberText(Number(s));
  }
  return numberText(x);
}
