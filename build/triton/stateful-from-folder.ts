// The stateful model (build/stateful-model.ts) of a compiled folder: every variant the folder
// holds, read through manifestGraph's checks, chained in the manifest's order (planning first).
// Its initializers keep referencing the folder's weights file by the same relative name, so the
// model works beside a copy or link of that file.
import type { Manifest } from '../manifest.js';
import { manifestGraph } from '../manifest.js';
import type { GatedBranch, GatedCache } from '../gated-model.js';
import { encodeStatefulModel, type StatefulInterface } from '../stateful-model.js';

export function statefulModelOf(dir: string, m: Manifest): { bytes: Uint8Array; io: StatefulInterface } {
  const branches: GatedBranch[] = m.variants.map((v) => ({ name: v.name, model: manifestGraph(dir, m, v).model(), cuts: v.cuts }));
  const caches: GatedCache[] = m.sites.filter((s) => s.cached).map((s) => ({ id: s.id, kind: s.kind, tensor: s.tensor }));
  return encodeStatefulModel(branches, caches);
}
