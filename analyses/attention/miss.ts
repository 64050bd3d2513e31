// Why a candidate was not accepted as an attention site: a stable code (for tests, JSON readers
// and scripts), the reason in words (for people), and the nodes and tensors it is about, each
// marked as one or the other. Codes never change meaning; a new way to miss gets a new code.

export type MissCode =
  /** The candidate's result reaches no graph output. */
  | 'DEAD_CODE'
  /** No MatMul of two activations (query x key) feeds the softmax. */
  | 'NO_SCORES_MATMUL'
  /** The softmax output does not feed a MatMul with values. */
  | 'NO_PROBS_MATMUL'
  | 'NO_QUERY_PROJECTION'
  | 'NO_KEY_PROJECTION'
  | 'NO_VALUE_PROJECTION'
  /** A packed key/value input with no projection behind it. */
  | 'NO_KV_PROJECTION'
  /** com.microsoft Attention whose packed weights are not constant. */
  | 'WEIGHTS_NOT_CONSTANT'
  /** The attention result does not reach an out-projection through head-merge ops. */
  | 'NO_OUT_PROJECTION'
  /** The head merge moves the batch axis off the front: rows are not sample-major. */
  | 'BATCH_AXIS_MOVED'
  /** Keys/values read the queries' inputs through another tensor: joint attention. */
  | 'JOINT_ATTENTION';

/** A place a miss is about: a node or a tensor, by name. */
export interface MissPlace {
  node?: string;
  tensor?: string;
}

export interface MatchMiss {
  code: MissCode;
  /** The reason in words, as `inspect --explain` shows it. */
  reason: string;
  /** The nodes and tensors the miss is about, most specific first. */
  at: MissPlace[];
}

/** A miss; places without a name (an absent input) are left out. */
export function miss(code: MissCode, reason: string, at: { node?: string | null; tensor?: string | null }[]): MatchMiss {
  const places = at.flatMap((p): MissPlace[] => (p.node ? [{ node: p.node }] : p.tensor ? [{ tensor: p.tensor }] : []));
  return { code, reason, at: places };
}

/** A place as people read it: "node /x/MatMul_3" or "tensor q". */
export function placeText(p: MissPlace): string {
  return p.node !== undefined ? `node ${p.node}` : `tensor ${p.tensor}`;
}

/**
 * " at node X, tensor y" for a candidate's miss, the candidate node itself left out (a listing
 * names it already); empty when nothing else is named.
 */
export function missPlacesText(m: MatchMiss, candidate: string): string {
  const places = m.at.filter((p) => p.node !== candidate);
  return places.length ? ` at ${places.map(placeText).join(', ')}` : '';
}
