// Fixes named symbolic dimensions of a model's inputs and outputs to sizes: a static-shape copy
// of a dynamic export, as exporters write with fixed shapes and as onnxruntime needs to fold
// shape arithmetic. Only the io declarations change; everything else keeps its bytes.
import { toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { parseModelProto } from './decode.js';

export function bindDimParams(bytes: Uint8Array, sizes: Record<string, number>, file = 'model'): Uint8Array {
  const proto = parseModelProto(bytes, file);
  for (const vi of [...proto.graph!.input, ...proto.graph!.output]) {
    const t = vi.type?.value;
    if (t?.case !== 'tensorType') continue;
    for (const d of t.value.shape?.dim ?? []) {
      if (d.value.case === 'dimParam' && d.value.value in sizes) d.value = { case: 'dimValue', value: BigInt(sizes[d.value.value]!) };
    }
  }
  return toBinary(ModelProtoSchema, proto);
}
