// How many nodes a serialized model's main graph has, read from the protobuf wire format without
// decoding a node, and the refusal of a graph too large for this process's JavaScript heap. A
// model is decoded into several graphs at once (the source, each variant, shape facts), about
// HEAP_BYTES_PER_NODE per node in all; a 1,000,000-node model used to grow until V8 aborted the
// process ("JavaScript heap out of memory", a signal, no exit code). Checked before decoding.
import v8 from 'node:v8';
import { WireType } from '@bufbuild/protobuf/wire';
import { TgateError } from '../base/errors.js';

/**
 * JavaScript heap a compile needs per node of the source graph, measured with bench/scale.ts on
 * Add/Relu chains in front of a tiny UNet: compile of 100k nodes fails at
 * --max-old-space-size=500 and passes at 700 (6-7 KiB per node); inspect needs less. Rounded up.
 */
export const HEAP_BYTES_PER_NODE = 8 * 1024;

/** The fraction of the heap limit a graph may plan for: the rest is the runtime's and the weights'. */
const HEAP_SHARE = 0.85;

/** A varint at `pos`: [value, next position], or null past the end or when over 2^53. */
function varint(b: Uint8Array, pos: number): [number, number] | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) return null;
    const byte = b[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value <= Number.MAX_SAFE_INTEGER ? [value, pos] : null;
    scale *= 128;
  }
  return null;
}

/**
 * Calls `field(number, start, end)` for each length-delimited field of the message in
 * b[start, end); false when the bytes are not a well-formed message (the decoder says why later).
 */
function eachField(b: Uint8Array, start: number, end: number, field: (no: number, from: number, to: number) => void): boolean {
  let pos = start;
  while (pos < end) {
    const tag = varint(b, pos);
    if (!tag) return false;
    pos = tag[1];
    const no = Math.floor(tag[0] / 8);
    switch (tag[0] % 8) {
      case WireType.Varint: {
        const v = varint(b, pos);
        if (!v) return false;
        pos = v[1];
        break;
      }
      case WireType.Bit64:
        pos += 8;
        break;
      case WireType.Bit32:
        pos += 4;
        break;
      case WireType.LengthDelimited: {
        const len = varint(b, pos);
        if (!len || len[1] + len[0] > end) return false;
        field(no, len[1], len[1] + len[0]);
        pos = len[1] + len[0];
        break;
      }
      default:
        return false; // groups (3, 4) and unknown wire types: not ONNX
    }
  }
  return pos === end;
}

/** Nodes of the main graph (ModelProto.graph = 7, GraphProto.node = 1); null for malformed bytes. */
export function countGraphNodes(bytes: Uint8Array): number | null {
  let nodes = 0;
  let ok = true;
  const top = eachField(bytes, 0, bytes.length, (no, from, to) => {
    if (no !== 7) return;
    ok &&= eachField(bytes, from, to, (n) => {
      if (n === 1) nodes++;
    });
  });
  return top && ok ? nodes : null;
}

/**
 * Refuses a model whose main graph needs more heap than this process may use, naming both and the
 * option that raises the limit. `heapLimit` is V8's (for tests: a smaller one).
 */
export function refuseOversizedGraph(bytes: Uint8Array, file: string, heapLimit = v8.getHeapStatistics().heap_size_limit): void {
  const nodes = countGraphNodes(bytes);
  if (nodes === null) return;
  const need = nodes * HEAP_BYTES_PER_NODE;
  if (need <= heapLimit * HEAP_SHARE) return;
  const mib = (x: number) => Math.ceil(x / 2 ** 20);
  throw new TgateError(
    'E_UNSUPPORTED_MODEL',
    `${file} has ${nodes} nodes: tgate needs about ${mib(need)} MiB of JavaScript heap for a graph this size, and this Node.js process may use ${mib(heapLimit)} MiB.`,
    {
      subject: { file },
      hint: `Exported diffusion denoisers have under 30,000 nodes. If this graph is meant to be this large, run with NODE_OPTIONS=--max-old-space-size=${Math.ceil(mib(need / HEAP_SHARE) / 1024) * 1024} on a machine with that much memory.`,
    },
  );
}
