// What each input of a compiled model is for, found from the manifest: the latent (the rank-4
// input), the timestep, the text inputs the fidelity graph dropped, inputs that switch CFG off
// (a guidance embedding, as LCM's timestep_cond), and every other conditioning input (SD-XL's
// text_embeds and time_ids), which the sampler treats like the text: [uncond, cond] before the gate.
import { TgateError } from '../base/errors.js';
import { GUIDANCE_EMBEDDING } from '../analyses/family.js';
import { latentInput } from '../build/latent-factor.js';
import type { Manifest, ManifestIo, ManifestSite } from '../build/manifest.js';
import { siteDims } from '../analyses/site-dims.js';
import type { SiteKind } from '../build/variants.js';

export interface CacheSite {
  id: string;
  kind: SiteKind;
  /** The tensor's name as a variant output and as a variant input (the cut keeps the name). */
  tensor: string;
  gatedInput: string;
  dtype: string;
  /** The cut's shape as the manifest gives it: a placeholder for it takes its fixed dims. */
  shape: readonly (string | number)[];
}

export interface ModelRoles {
  latent: ManifestIo;
  timestep: ManifestIo;
  text: string[];
  conditioning: string[];
  guidanceEmbedding: string[];
  output: ManifestIo;
  cross: CacheSite[];
  self: CacheSite[];
  /** DeepCache's deep feature, when the folder was compiled with a cut. */
  deep: CacheSite | null;
}

function cacheSite(s: ManifestSite): CacheSite {
  // Attention sites: channels are the last dim at either rank (site-dims.ts), fixed for the CFG
  // mean's arithmetic; the deep feature is only stored and fed, whatever its shape.
  const channels = s.kind === 'deep' ? 0 : siteDims(s.shape).channels;
  if (typeof channels !== 'number')
    throw new TgateError('E_UNSUPPORTED_MODEL', `Site ${s.id} has a symbolic channel count; tgate needs it fixed.`, { subject: { tensor: s.tensor } });
  return { id: s.id, kind: s.kind, tensor: s.tensor, gatedInput: s.gatedInput!, dtype: s.dtype, shape: s.shape };
}

export function modelRoles(m: Manifest): ModelRoles {
  const inputs = m.source.inputs;
  const latent = latentInput(inputs);
  if (!latent) throw new TgateError('E_UNSUPPORTED_MODEL', 'The model has no rank-4 latent input ([batch, channels, height, width]).');
  const timestep =
    inputs.find((i) => /timestep|^t$/.test(i.name) && !GUIDANCE_EMBEDDING.test(i.name)) ?? inputs.find((i) => i !== latent && i.shape.length <= 1);
  if (!timestep) throw new TgateError('E_UNSUPPORTED_MODEL', 'The model has no timestep input (a scalar or [batch] input named timestep).');
  const text = m.variants.find((v) => v.name === 'fidelity')!.removedInputs.slice();
  const guidanceEmbedding = inputs.filter((i) => GUIDANCE_EMBEDDING.test(i.name)).map((i) => i.name);
  const conditioning = inputs.map((i) => i.name).filter((n) => n !== latent.name && n !== timestep.name && !text.includes(n) && !guidanceEmbedding.includes(n));
  const cached = m.sites.filter((s) => s.cached);
  const output = m.source.outputs[0]!;
  return {
    latent,
    timestep,
    text,
    conditioning,
    guidanceEmbedding,
    output,
    cross: cached.filter((s) => s.kind === 'cross').map(cacheSite),
    self: cached.filter((s) => s.kind === 'self').map(cacheSite),
    deep: cached.filter((s) => s.kind === 'deep').map(cacheSite)[0] ?? null,
  };
}
