// The weights a model holds inside itself (initializers without external data), laid out for one
// external file: compile writes them once and every variant refers to them there. Reached through
// LoadedModel.inlineWeights (io/load.ts): the parsed model never leaves io/.
import type { ModelProto } from 'onnx-buf';
import { externalRefOf, layoutWeights, type WeightsLayout } from './external-data.js';

export function layoutInlineWeights(model: ModelProto, location: string): WeightsLayout {
  return layoutWeights(model.graph?.initializer.filter((t) => !externalRefOf(t)) ?? [], location);
}
