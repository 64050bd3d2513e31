// How many image pixels one latent cell spans. --height/--width are image pixels for every
// command; the latents are that divided by this factor, which comes from the model:
// - a pipeline folder with a VAE: the VAE's (runtime/pipeline/latent-factor.ts reads its config);
// - a model alone (or a pipeline without a VAE): 1 when its latent input has 3 channels (an RGB
//   image: a pixel-space model such as the demo model), else 8, the Stable Diffusion VAE's. A bare
//   UNet does not say what decodes its latents, and every latent-diffusion export tgate knows
//   (SD-1.x/2.x, SD-XL, PixArt, LCM) decodes with a factor-8 VAE.
// Also the one rule for which input the latent is (latentInput).

export interface LatentFactor {
  factor: number;
  /** Where the factor comes from, for messages. */
  why: string;
}

export function bareLatentFactor(latentChannels: number | null): LatentFactor {
  if (latentChannels === 3) return { factor: 1, why: 'pixel space: the input has 3 channels and no VAE' };
  return { factor: 8, why: "the Stable Diffusion VAE's: the model alone does not say" };
}

/**
 * THE rule for which input is the latent: the one of rank 4 ([batch, channels, height, width]).
 * Every export tgate accepts has exactly one; everything that needs the latent asks here.
 */
export function latentInput<T extends { shape: readonly unknown[] }>(inputs: readonly T[]): T | undefined {
  return inputs.find((i) => i.shape.length === 4);
}
