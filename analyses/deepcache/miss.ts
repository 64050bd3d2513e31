// Why no DeepCache cut was found: a stable code (for tests, JSON readers and scripts), the reason
// in words, and the nodes and tensors it is about (the shape of analyses/attention/miss.ts, with
// codes of its own). Codes never change meaning; a new way to miss gets a new code.
import type { MissPlace } from '../attention/miss.js';

export type DeepCacheMissCode =
  /** No Concat on the channel axis joins a main-path tensor with a skip from the down path. */
  | 'NO_UP_PATH'
  /** The skip Concats do not form one chain along the main path to a graph output. */
  | 'UP_PATH_NOT_A_CHAIN'
  /** A skip does not come from the down path (it is not computed before the first up Concat). */
  | 'SKIP_NOT_FROM_DOWN_PATH'
  /** The skip of the last up Concat is not the first convolution of the graph input (conv_in). */
  | 'NO_CONV_IN_SKIP'
  /** The branch id names no layer of the up path found (or is not a whole number >= 0). */
  | 'BRANCH_OUT_OF_RANGE';

export interface DeepCacheMiss {
  code: DeepCacheMissCode;
  /** The reason in words, as `inspect --explain` would show it. */
  reason: string;
  /** The nodes and tensors the miss is about, most specific first. */
  at: MissPlace[];
}

/** A miss; places without a name are left out. */
export function deepCacheMiss(code: DeepCacheMissCode, reason: string, at: { node?: string | null; tensor?: string | null }[] = []): DeepCacheMiss {
  const places = at.flatMap((p): MissPlace[] => (p.node ? [{ node: p.node }] : p.tensor ? [{ tensor: p.tensor }] : []));
  return { code, reason, at: places };
}

export function isDeepCacheMiss(r: object): r is DeepCacheMiss {
  return 'code' in r && 'reason' in r && 'at' in r;
}
