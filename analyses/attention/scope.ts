// Module paths of nodes, for labelling sites. TorchScript exports name nodes
// "/down_blocks.1/attentions.0/.../attn2/MatMul"; dynamo exports name them generically and keep
// the module stack in metadata_props "pkg.torch.onnx.name_scopes", a Python list literal whose
// last entry is the node itself (entries may be relative or full dotted paths). Both give the
// same segments, so a site's scope reads the same whichever exporter made the graph.
import type { Node } from '../../ir/node.js';

const NAME_SCOPES = 'pkg.torch.onnx.name_scopes';

/** The strings of a Python list literal of strings: ['', 'a.b', "c"]. */
export function parsePythonStringList(text: string): string[] | null {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return null;
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(t); m; m = re.exec(t)) out.push((m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
  return out;
}

/** The module path segments of a node (without the node's own name), or null when unknown. */
export function modulePath(n: Node): string[] | null {
  const meta = n.metadata.get(NAME_SCOPES);
  if (meta !== undefined) {
    const scopes = parsePythonStringList(meta);
    if (scopes && scopes.length > 0) {
      const segments: string[] = [];
      let parent = '';
      for (const s of scopes.slice(0, -1)) {
        if (!s) continue;
        // Full dotted paths repeat their parent: keep only what this level adds.
        const relative = parent && s.startsWith(`${parent}.`) ? s.slice(parent.length + 1) : s;
        segments.push(relative);
        parent = parent ? `${parent}.${relative}` : relative;
      }
      return segments;
    }
  }
  const name = n.declaredName;
  if (name.startsWith('/')) return name.split('/').slice(1, -1);
  return null;
}

/** "/a/b/attn2": the path all the nodes share, or null when any is unknown or none is shared. */
export function commonScope(nodes: Node[]): string | null {
  const paths = nodes.map(modulePath);
  if (paths.length === 0 || paths.some((p) => p === null)) return null;
  let common = paths[0]!;
  for (const p of paths) {
    let i = 0;
    while (i < common.length && i < p!.length && common[i] === p![i]) i++;
    common = common.slice(0, i);
  }
  return common.length ? `/${common.join('/')}` : null;
}
