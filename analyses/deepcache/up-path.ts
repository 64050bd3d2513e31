// The UNet up path found by structure alone: every up-path layer reads Concat(main, skip) on the
// channel axis, the skips come from the down path (computed before the first up Concat), the
// Concats form one chain along the main path to a graph output, the last one's skip is conv_in's
// output, and upsampling ops on the main path between two Concats separate the up blocks.
// Module names are never read here; the result lists nodes and values, deepest layer first.
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { liveNodes } from '../attention/live-nodes.js';
import { deepCacheMiss, type DeepCacheMiss } from './miss.js';
import { ancestorNodes, descendantNodes } from './reach.js';

/** Ops that raise the spatial size on the main path: nearest/linear interpolation, transposed conv, pixel shuffle. */
const UPSAMPLING_OPS = new Set(['Resize', 'Upsample', 'ConvTranspose', 'DepthToSpace']);

export interface UpLayer {
  /** The Concat feeding the layer's resnet. */
  concat: Node;
  /** What the previous layer (or block, or the mid block) produced: the layer's main input. */
  main: Value;
  /** The skip from the down path. */
  skip: Value;
}

export interface UpBlock {
  /** Layers in execution order (diffusers `resnets.0`, `resnets.1`, ...). */
  layers: UpLayer[];
  /** The upsampling node(s) on the main path after the block (empty for the last block). */
  upsamplers: Node[];
}

export interface UpPath {
  /** Blocks in execution order: blocks[0] is the deepest (diffusers `up_blocks.0`). */
  blocks: UpBlock[];
  /** The first convolution of the graph input, whose output is the last layer's skip. */
  convIn: Node;
  /** How the path was recognised, in words. */
  evidence: string[];
}

/** A Concat of two computed tensors on the channel axis of an NCHW tensor. */
function isChannelConcat(n: Node): boolean {
  if (n.opType !== 'Concat' || n.domain !== '' || n.inputs.length !== 2) return false;
  if (!n.inputs.every((v) => v?.producer)) return false;
  const rank = n.outputs[0]?.type?.shape?.length;
  if (rank !== undefined && rank !== 4) return false;
  const axis = n.attr.int('axis');
  return axis === 1 || (axis === -3 && rank === 4);
}

export function findUpPath(graph: Graph): UpPath | DeepCacheMiss {
  const live = liveNodes(graph);
  const candidates = graph.nodes.filter((n) => live.has(n) && isChannelConcat(n));
  if (candidates.length === 0) return deepCacheMiss('NO_UP_PATH', 'No live Concat of two computed tensors on the channel axis: the graph has no UNet up path.');
  // A skip is computed before any candidate Concat; a main input after one (except the first layer's).
  const afterAny = descendantNodes(candidates.map((c) => c.outputs[0]!));
  const up = candidates.filter((c) => !afterAny.has(c.inputs[1]!.producer!));
  if (up.length === 0) {
    return deepCacheMiss(
      'NO_UP_PATH',
      `${candidates.length} channel Concat(s), but each reads a tensor computed after another one: no skip from a down path.`,
      candidates.slice(0, 3).map((c) => ({ node: c.name })),
    );
  }
  // One chain: the k-th Concat (in execution order) reaches exactly the n-1-k Concats after it.
  const reach = new Map(up.map((c) => [c, descendantNodes([c.outputs[0]!])] as const));
  const later = (c: Node) => up.filter((o) => reach.get(c)!.has(o)).length;
  const chain = [...up].sort((a, b) => later(b) - later(a));
  const broken = chain.findIndex((c, k) => later(c) !== chain.length - 1 - k);
  if (broken >= 0) {
    return deepCacheMiss(
      'UP_PATH_NOT_A_CHAIN',
      `${chain.length} skip Concats, but they are not one chain along a main path (${chain[broken]!.name} reaches ${later(chain[broken]!)} of the others).`,
      [{ node: chain[broken]!.name }],
    );
  }
  const first = chain[0]!;
  const last = chain[chain.length - 1]!;
  const downPath = ancestorNodes([first.inputs[0]!]);
  const stray = chain.find((c) => !downPath.has(c.inputs[1]!.producer!));
  if (stray) {
    return deepCacheMiss('SKIP_NOT_FROM_DOWN_PATH', `The skip ${stray.inputs[1]!.name} of ${stray.name} does not feed the first up Concat's main input.`, [
      { node: stray.name },
      { tensor: stray.inputs[1]!.name },
    ]);
  }
  const convIn = last.inputs[1]!.producer!;
  const convData = convIn.inputs[0];
  const isConvIn = convIn.opType === 'Conv' && !!convData && (graph.isGraphInput(convData) || ![...ancestorNodes([convData])].some((n) => n.opType === 'Conv'));
  if (!isConvIn) {
    return deepCacheMiss(
      'NO_CONV_IN_SKIP',
      `The last up Concat's skip ${last.inputs[1]!.name} is not the output of the first Conv on the graph input (conv_in).`,
      [{ node: last.name }, { tensor: last.inputs[1]!.name }],
    );
  }
  // Block boundaries: an upsampling op on the main path between two consecutive Concats.
  const blocks: UpBlock[] = [{ layers: [], upsamplers: [] }];
  chain.forEach((c, k) => {
    blocks[blocks.length - 1]!.layers.push({ concat: c, main: c.inputs[0]!, skip: c.inputs[1]! });
    const next = chain[k + 1];
    if (!next) return;
    const before = ancestorNodes([next.inputs[0]!]);
    const upsamplers = [...reach.get(c)!].filter((n) => before.has(n) && UPSAMPLING_OPS.has(n.opType));
    if (upsamplers.length) {
      blocks[blocks.length - 1]!.upsamplers = upsamplers;
      blocks.push({ layers: [], upsamplers: [] });
    }
  });
  const sizes = blocks.map((b) => b.layers.length);
  const evidence = [
    `${chain.length} Concat(main, skip) nodes on the channel axis form one chain along the main path, from ${first.inputs[0]!.name} (the mid block's output) to the graph output`,
    `every skip is computed on the down path, before the first up Concat; the last one's skip is the output of the first Conv on the graph input (conv_in: ${convIn.name})`,
    blocks.length > 1
      ? `upsampling on the main path (${blocks
          .flatMap((b) => b.upsamplers)
          .map((n) => `${n.opType} ${n.name}`)
          .join(', ')}) splits the chain into ${blocks.length} up blocks of ${sizes.join(', ')} layers`
      : `no upsampling on the main path: one up block of ${sizes[0]} layers`,
  ];
  return { blocks, convIn, evidence };
}
