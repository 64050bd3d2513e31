// What each input of a compiled model is for, found from the manifest: the latent (the rank-4
// input), the timestep, the text inputs the fidelity graph dropped, inputs that switch CFG off
// (a guidance embedding, as LCM's timestep_cond), and every other conditioning input (SD-XL's
// text_embeds and time_ids), which the sampler treats like the text: [uncond, cond] before the gate.
import { TgateError } from '../compiler/errors.js';
import type { Manifest, ManifestIo } from '../compiler/manifest.js';

export interface ModelRoles {
  latent: ManifestIo;
  timestep: ManifestIo;
  text: string[];
  conditioning: string[];
  guidanceEmbedding: string[];
  output: ManifestIo;
  caches: { id: string; planningOutput: string; fidelityInput: string; gatedInput: string; gatedOutput: string }[];
}

const GUIDANCE_EMBEDDING = /^(timestep_cond|guidance|guidance_scale|w_embedding)$/;

export function modelRoles(m: Manifest): ModelRoles {
  const inputs = m.io.planning.inputs;
  const latent = inputs.find((i) => i.shape.length === 4);
  if (!latent) throw new TgateError('E_UNSUPPORTED_MODEL', 'The model has no rank-4 latent input ([batch, channels, height, width]).');
  const timestep = inputs.find((i) => /timestep|^t$/.test(i.name) && !GUIDANCE_EMBEDDING.test(i.name)) ?? inputs.find((i) => i !== latent && i.shape.length <= 1);
  if (!timestep) throw new TgateError('E_UNSUPPORTED_MODEL', 'The model has no timestep input (a scalar or [batch] input named timestep).');
  const text = m.removedInputs.slice();
  const guidanceEmbedding = inputs.filter((i) => GUIDANCE_EMBEDDING.test(i.name)).map((i) => i.name);
  const conditioning = inputs.map((i) => i.name).filter((n) => n !== latent.name && n !== timestep.name && !text.includes(n) && !guidanceEmbedding.includes(n));
  // Manifests from before per-site choices had no `cached`: there, every site with a fidelity input is cached.
  const caches = m.sites.filter((s) => s.cached !== false && s.fidelityInput !== null).map((s) => ({ id: s.id, planningOutput: s.planningOutput!, fidelityInput: s.fidelityInput!, gatedInput: s.gatedInput!, gatedOutput: s.gatedOutput! }));
  const outputName = m.io.fidelity.outputs[0]!.name;
  const output = m.io.planning.outputs.find((o) => o.name === outputName)!;
  return { latent, timestep, text, conditioning, guidanceEmbedding, output, caches };
}
