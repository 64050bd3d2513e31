// Which family a model belongs to, decided from structure, and the official T-GATE defaults for
// it (SPEC.md §3): SD-1.5/2.1/SD-XL gate at 10 of 25 steps and reuse self-attention every 5th;
// PixArt gates at 15 and reuses every 3rd; LCM (a guidance embedding, no CFG) gates at step 1 and
// never reuses self-attention. The runtime takes these unless the user says otherwise.
import type { Graph } from '../ir/graph.js';
import type { Dim } from '../ir/value.js';

export type Family = 'sd' | 'sdxl' | 'pixart' | 'lcm';

export interface ScheduleDefaults {
  gateStep: number;
  spInterval: number;
  fiInterval: number;
  warmUp: number;
  guidance: number;
}

export const FAMILY_DEFAULTS: Record<Family, ScheduleDefaults> = {
  sd: { gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2, guidance: 7.5 },
  sdxl: { gateStep: 10, spInterval: 5, fiInterval: 1, warmUp: 2, guidance: 5.0 },
  pixart: { gateStep: 15, spInterval: 3, fiInterval: 1, warmUp: 2, guidance: 4.5 },
  lcm: { gateStep: 1, spInterval: 1, fiInterval: 1, warmUp: 0, guidance: 1.0 },
};

/** Inputs that switch classifier-free guidance off: the model was distilled for guidance. */
export const GUIDANCE_EMBEDDING = /^(timestep_cond|guidance|guidance_scale|w_embedding)$/;

export interface FamilyEvidence {
  inputs: { name: string; shape: readonly (Dim | string | number)[] }[];
  /** The token dims of the attention sites (symbolic, e.g. "height/2*width/2"). */
  siteTokens: (Dim | string | number)[];
  /** Whether the graph upsamples (Resize, ConvTranspose, Upsample): a UNet's decoder does. */
  upsamples: boolean;
}

export function detectFamily(e: FamilyEvidence): { family: Family; why: string } {
  const guidance = e.inputs.find((i) => GUIDANCE_EMBEDDING.test(i.name));
  if (guidance) return { family: 'lcm', why: `input ${guidance.name} is a guidance embedding: the model runs without CFG` };
  const tokens = new Set(e.siteTokens.filter((t) => t !== null).map(String));
  // A UNet upsamples in its decoder; a DiT keeps one token grid through every block.
  if (!e.upsamples && e.siteTokens.length > 0 && tokens.size === 1) {
    return { family: 'pixart', why: `no upsampling, and every attention site works on the same ${[...tokens][0]} tokens: a transformer backbone (DiT)` };
  }
  const extra = e.inputs.find((i) => /text_embeds|time_ids/.test(i.name));
  if (extra) return { family: 'sdxl', why: `input ${extra.name} is SD-XL's added conditioning` };
  return { family: 'sd', why: 'a UNet attending at several resolutions' };
}

/** The family of a graph whose attention sites have been found (their token dims). */
export function familyOfGraph(g: Graph, siteTokens: (Dim | string | number)[]): { family: Family; why: string } {
  const inputs = g.inputs.filter((v) => !v.constant).map((v) => ({ name: v.name, shape: v.type?.shape ?? [] }));
  return detectFamily({ inputs, siteTokens, upsamples: g.nodes.some((n) => /^(Resize|ConvTranspose|Upsample)$/.test(n.opType)) });
}
