// The weights a model holds inside itself (initializers without external data), laid out for one
// external file: compile writes them once and every variant refers to them there. Kept in io/ so
// the build layer hands the parsed model along without reading protobuf fields itself.
import type { ModelProto } from 'onnx-buf';
import { externalRefOf, layoutWeights, type WeightsLayout } from './external-data.js';

export function layoutInlineWeights(model: ModelProto, location: string): WeightsLayout {
  return layoutWeights(model.graph?.initializer.filter((t) => !externalRefOf(t)) ?? [], location);
}
