// Why a candidate was not accepted as an attention site: a stable code (for tests, JSON readers
// and scripts), the reason in words (for people), and the nodes and tensors it is about. Codes
// never change meaning; a new way to miss gets a new code.

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

export interface MatchMiss {
  code: MissCode;
  /** The reason in words, as `inspect --explain` shows it. */
  reason: string;
  /** The node names and tensor names the miss is about, most specific first. */
  at: string[];
}

export function miss(code: MissCode, reason: string, at: (string | null | undefined)[]): MatchMiss {
  return { code, reason, at: at.filter((x): x is string => !!x) };
}
