// What a manifest site's shape says. The cut tensor is [batch, tokens, channels] as exporters
// write it, or [batch·tokens, channels] where onnxruntime's MatMulAddFusion made the
// out-projection a 2-D Gemm on a static-shape graph; either way its buffer holds the samples one
// after another (the matcher refuses any other order), which the CFG mean relies on. Readers of a
// site shape go through here so that neither rank is read as the other.

type Dim = string | number;

/**
 * Tokens and channels of a site shape: channels are the last dim; tokens are dim 1 at rank 3,
 * and at rank 2 the rows over the model's batch when that divides them (128 rows at batch 2, or
 * "batch_size*height/2*width/2" over "batch_size"), else '?'.
 */
export function siteDims(shape: readonly Dim[], batch?: Dim): { tokens: Dim; channels: Dim } {
  const channels = shape.length >= 2 ? shape[shape.length - 1]! : '?';
  if (shape.length === 3) return { tokens: shape[1]!, channels };
  const rows = shape.length === 2 ? shape[0]! : '?';
  if (typeof rows === 'number' && typeof batch === 'number' && batch > 0 && rows % batch === 0) return { tokens: rows / batch, channels };
  if (typeof rows === 'string' && typeof batch === 'string' && rows.startsWith(`${batch}*`)) return { tokens: rows.slice(batch.length + 1), channels };
  return { tokens: '?', channels };
}
