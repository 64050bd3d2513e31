// The multiple a compiled pipeline's denoiser needs its latents' height and width to be: a UNet
// halves them once per down block but the last (2^(blocks - 1); SD's 4 blocks: 8 latent cells,
// 64 pixels), a DiT cuts them into patch_size patches. Known from the pipeline's own config;
// for a model alone it is not (null), and onnxruntime's refusal names the size instead.
import path from 'node:path';
import type { Manifest } from '../build/manifest.js';
import { readConfig } from './config-file.js';

export function latentMultiple(dir: string, m: Manifest): { multiple: number; why: string } | null {
  const denoiser = m.pipeline?.denoiser;
  if (!denoiser) return null;
  const file = path.join(denoiser, 'config.json');
  const config = readConfig(path.join(dir, file));
  const blocks = Array.isArray(config.block_out_channels) ? config.block_out_channels.length : null;
  if (blocks !== null && blocks >= 1 && blocks <= 8)
    return { multiple: 2 ** (blocks - 1), why: `${file}: ${blocks} blocks, the latents halved ${blocks - 1} times` };
  const patch = config.patch_size;
  if (typeof patch === 'number' && Number.isInteger(patch) && patch >= 1 && patch <= 64) return { multiple: patch, why: `${file}: patch_size ${patch}` };
  return null;
}
