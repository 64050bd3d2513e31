// The latent factor of a pipeline folder (source or compiled): its VAE's, 2^(blocks - 1) from
// vae_decoder/config.json (or vae_encoder/'s) block_out_channels, as diffusers computes
// vae_scale_factor; without a VAE, the rule for a model alone (build/latent-factor.ts).
import fs from 'node:fs';
import path from 'node:path';
import { bareLatentFactor, latentInput, type LatentFactor } from '../../build/latent-factor.js';
import type { Manifest } from '../../build/manifest.js';
import { readConfig } from '../config-file.js';

/** The VAE's factor, or null when the folder has no VAE. */
export function vaeLatentFactor(dir: string): LatentFactor | null {
  for (const vae of ['vae_decoder', 'vae_encoder']) {
    if (!fs.existsSync(path.join(dir, vae, 'model.onnx'))) continue;
    const config = readConfig(path.join(dir, vae, 'config.json'));
    const blocks = Array.isArray(config.block_out_channels) ? config.block_out_channels.length : 4;
    if (blocks >= 1 && blocks <= 6) return { factor: 2 ** (blocks - 1), why: `the VAE's (${vae}/config.json: ${blocks} blocks)` };
  }
  return null;
}

export function pipelineLatentFactor(dir: string, latentChannels: number | null): LatentFactor {
  return vaeLatentFactor(dir) ?? bareLatentFactor(latentChannels);
}

/** A compiled folder's: its pipeline's VAE, else the rule for a model alone on its latent input. */
export function compiledLatentFactor(dir: string, manifest: Manifest): LatentFactor {
  const latent = latentInput(manifest.source.inputs);
  const channels = typeof latent?.shape[1] === 'number' ? latent.shape[1] : null;
  return manifest.pipeline ? pipelineLatentFactor(dir, channels) : bareLatentFactor(channels);
}
