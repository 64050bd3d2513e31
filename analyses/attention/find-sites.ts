// The attention-site analysis: every Softmax is a candidate; matchAttention decides whether it is
// an attention module, data flow from the graph inputs decides cross vs self. Returns a report of
// sites and of rejected candidates with their miss (code, reason, nodes); never mutates the graph.
import type { Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import type { TensorType } from '../../ir/value.js';
import { InputAncestry } from './ancestry.js';
import { isFusedAttention, matchFusedAttention } from './match-fused.js';
import { matchAttention, streamOf, type AttentionMatch } from './match-site.js';
import { miss, type MatchMiss } from './miss.js';
import { liveNodes } from './live-nodes.js';
import { commonScope } from './scope.js';
import { cutRank, cutType, siteType } from './site-shape.js';

export type SiteKind = 'cross' | 'self';

export interface Site {
  id: string;
  kind: SiteKind;
  /** Module path shared by the site's nodes (e.g. /down_blocks.1/.../attn2), or null. */
  scope: string | null;
  /** The cut tensor: the module's output before the residual add. */
  tensor: string;
  /** The module output as [batch, tokens, channels], as far as structure tells (family and inspect read tokens here). */
  type: TensorType;
  /**
   * The cut tensor's own type: `type`, or [batch·tokens, channels] where the out-projection is a
   * 2-D Gemm/MatMul (onnxruntime's fusion on static shapes). Rows are sample-major either way.
   */
  cut: TensorType;
  /** For cross sites: the graph inputs the keys/values read (the text conditioning). */
  conditioning: string[];
  /** Where a fusion swallowed the module output, what the cut is instead. */
  note: string | null;
  match: AttentionMatch;
}

/** A candidate that is not a site: its node and the miss (code, reason in words, what it is about). */
export interface RejectedCandidate extends MatchMiss {
  node: string;
}

/** One softmax or fused attention op the analysis looked at, and what came of it. */
export interface ConsideredCandidate {
  node: string;
  op: string;
  /** The site it became, or null when rejected. */
  siteId: string | null;
  outcome: string;
  /** Why it was rejected (absent for a site). */
  miss?: MatchMiss;
}

export interface SiteReport {
  sites: Site[];
  rejected: RejectedCandidate[];
  candidates: number;
  /** Every candidate in graph order, accepted or not. */
  considered: ConsideredCandidate[];
}

function isSoftmax(n: Node): boolean {
  return n.opType === 'Softmax' && (n.domain === '' || n.domain === 'ai.onnx');
}

export function findAttentionSites(g: Graph): SiteReport {
  const ancestry = new InputAncestry(g);
  const rejected: RejectedCandidate[] = [];
  const found: Omit<Site, 'id'>[] = [];
  const considered: (ConsideredCandidate & { found?: Omit<Site, 'id'> })[] = [];
  const op = (n: Node) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType);
  // Candidates: every Softmax (unfused attention) and every fused attention op.
  const candidates = g.nodes.filter((n) => isSoftmax(n) || isFusedAttention(n));
  const live = liveNodes(g);
  const reject = (sm: Node, m: MatchMiss) => {
    rejected.push({ node: sm.name, ...m });
    considered.push({ node: sm.name, op: op(sm), siteId: null, outcome: `rejected: ${m.reason}`, miss: m });
  };
  for (const sm of candidates) {
    if (!live.has(sm)) {
      reject(sm, miss('DEAD_CODE', 'dead code: its result reaches no graph output', [{ node: sm.name }]));
      continue;
    }
    const r = isSoftmax(sm) ? matchAttention(sm) : matchFusedAttention(sm);
    if (!r.ok) {
      reject(sm, { code: r.code, reason: r.reason, at: r.at });
      continue;
    }
    const m = r.match;
    let kind: SiteKind;
    let conditioning: string[] = [];
    const stream = streamOf(m.qSource);
    if (streamOf(m.kSource) === stream && streamOf(m.vSource) === stream) {
      kind = 'self';
    } else {
      const q = ancestry.of(m.qSource);
      const kv = new Set([...ancestry.of(m.kSource), ...ancestry.of(m.vSource)]);
      // Cross: keys/values do not read the stream the queries come from (the latent input).
      const latentOnly = [...q].filter((n) => !kv.has(n));
      if (latentOnly.length === 0 || kv.size === 0) {
        const reason = 'keys/values read the same inputs as the queries but are a different tensor (joint attention); not a TGATE site';
        reject(sm, miss('JOINT_ATTENTION', reason, [{ node: sm.name }, { tensor: m.qSource.name }, { tensor: m.kSource.name }, { tensor: m.vSource.name }]));
        continue;
      }
      kind = 'cross';
      conditioning = [...kv].sort();
    }
    const members = [...m.core, m.qProj, m.kProj, m.vProj, m.outProj, m.output.producer!];
    const type = siteType(g, m.qSource, m.outProj);
    const site = {
      kind,
      scope: commonScope(members),
      tensor: m.output.name,
      type,
      cut: cutType(type, cutRank(m.outProj)),
      conditioning,
      note: m.note,
      match: m,
    };
    found.push(site);
    considered.push({ node: sm.name, op: op(sm), siteId: null, outcome: '', found: site });
  }
  const counters: Record<SiteKind, number> = { cross: 0, self: 0 };
  const sites = found.map((s) => ({ id: `${s.kind}.${counters[s.kind]++}`, ...s }));
  const explained = considered.map(({ found: f, ...c }) => {
    if (!f) return c;
    const site = sites[found.indexOf(f)]!;
    return { ...c, siteId: site.id, outcome: `${site.kind} site ${site.id} (${site.match.variant}), cut at ${site.tensor}` };
  });
  return { sites, rejected, candidates: candidates.length, considered: explained };
}
