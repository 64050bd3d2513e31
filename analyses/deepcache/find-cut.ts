// The DeepCache cut for a branch id, found by structure: the official helper
// (horseee/DeepCache DeepCacheSDHelper) names block `b // 3`, layer `b % 3`, with up blocks and
// their layers mirrored, and caches the main input of the first up-path layer that still runs on a
// shallow step. Module scopes are reported as evidence only; renamed graphs give the same cut.
import type { Graph } from '../../ir/graph.js';
import type { TensorType } from '../../ir/value.js';
import { modulePath } from '../attention/scope.js';
import { deepCacheMiss, isDeepCacheMiss, type DeepCacheMiss } from './miss.js';
import { findUpPath } from './up-path.js';

/** DeepCacheSDHelper.set_params: `cache_layer_id = b % 3`, `cache_block_id = b // 3` (fixed 3, as diffusers' UNets have 3 up layers per block). */
const LAYERS_PER_BRANCH_BLOCK = 3;

export interface DeepCacheCut {
  branch: number;
  /** The cached tensor: the value name of the main input of the Concat below. */
  tensor: string;
  /** Its type when the graph records one. */
  type: TensorType | null;
  /** The node that computes it (null only if it were a graph input, which the structure rules out). */
  producer: string | null;
  /** The Concat that joins the cached tensor with its fresh skip; the shallow network starts there. */
  consumer: string;
  /** The skip that Concat reads (computed afresh on shallow steps; conv_in's output for branch 0). */
  skip: string;
  /** DeepCache's indices: block from the outermost (0), layer mirrored within the block. */
  block: number;
  layer: number;
  /** The same place in execution order: diffusers `up_blocks.<upBlock>.resnets.<upLayer>` reads the cut. */
  upBlock: number;
  upLayer: number;
  /** Layers per up block, deepest block first, and how many branch ids (0..branches-1) name a layer. */
  upBlocks: number[];
  branches: number;
  /** Module scope of the producer when the export names it ("/up_blocks.3/attentions.1"), evidence only. */
  scope: string | null;
  /** How the cut was found, in words. */
  evidence: string[];
}

/** Where branch `b` lands: DeepCache's block and layer, and the up path's block and layer (mirrored); `found` is false when the up path has no such layer. */
function locate(upBlocks: number[], b: number) {
  const block = Math.floor(b / LAYERS_PER_BRANCH_BLOCK);
  const layer = b % LAYERS_PER_BRANCH_BLOCK;
  const upBlock = upBlocks.length - 1 - block;
  const layers = upBlocks[upBlock];
  const upLayer = layers === undefined ? -1 : layers - 1 - layer;
  return { block, layer, upBlock, upLayer, found: upLayer >= 0 };
}

export function findDeepCacheCut(graph: Graph, branch = 0): DeepCacheCut | DeepCacheMiss {
  if (!Number.isInteger(branch) || branch < 0) return deepCacheMiss('BRANCH_OUT_OF_RANGE', `The branch id must be a whole number >= 0, not ${branch}.`);
  const path = findUpPath(graph);
  if (isDeepCacheMiss(path)) return path;
  const upBlocks = path.blocks.map((b) => b.layers.length);
  const { block, layer, upBlock, upLayer } = locate(upBlocks, branch);
  const inBlock = path.blocks[upBlock];
  const site = inBlock?.layers[upLayer];
  let branches = 0;
  while (locate(upBlocks, branches).found) branches++;
  if (!site) {
    return deepCacheMiss(
      'BRANCH_OUT_OF_RANGE',
      `Branch ${branch} names block ${block}, layer ${layer}, but the up path has ${path.blocks.length} blocks of ${upBlocks.join(', ')} layers (branches 0..${branches - 1}).`,
    );
  }
  const producer = site.main.producer;
  const segments = producer ? modulePath(producer) : null;
  const scope = segments && segments.length ? `/${segments.join('/')}` : null;
  return {
    branch,
    tensor: site.main.name,
    type: site.main.type,
    producer: producer?.name ?? null,
    consumer: site.concat.name,
    skip: site.skip.name,
    block,
    layer,
    upBlock,
    upLayer,
    upBlocks,
    branches,
    scope,
    evidence: [
      ...path.evidence,
      `branch ${branch} = block ${branch} // 3 = ${block}, layer ${branch} % 3 = ${layer}; mirrored: up block ${upBlock} of ${path.blocks.length}, layer ${upLayer} of ${inBlock!.layers.length}`,
      `the cut is the main input of ${site.concat.name}, which joins it with the skip ${site.skip.name}${scope ? `; its producer's scope is ${scope}` : ''}`,
    ],
  };
}
