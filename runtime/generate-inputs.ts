// Every generation's request is checked here, before any model runs and before anything is
// allocated from it: GatedUNet.generate calls this first, so the CLI (run, bench, calibrate),
// the pipeline and library users get the same refusals. What it refuses would otherwise crash in
// onnxruntime or the sampler (exit 70, "a bug in tgate"), allocate without bound, or run to a
// NaN picture with exit 0:
//   - steps (whole, 1..MAX_STEPS), guidance (a finite number >= 0), strength ((0, 1]);
//   - the latents: float32, the model's rank and fixed dims, batch >= 1, a bounded size;
//   - img2img's clean latents: the latents' shape and dtype;
//   - conditioning: only inputs the model has, each of its dtype, rank, fixed dims and the
//     latents' batch (uncond as cond, under CFG);
//   - every float value finite.
// Shapes, dtypes and values are E_BAD_TENSOR (exit 3); a missing or unknown input name or an
// out-of-range number E_USAGE (exit 2).
import { TgateError } from '../base/errors.js';
import type { Manifest } from '../build/manifest.js';
import type { ModelRoles } from './model-roles.js';
import { checkSteps } from './schedulers/config-check.js';
import { checkFiniteInput, checkTensor, type TensorLike } from './tensor-checks.js';

export interface GenerateRequest {
  latents: unknown;
  cond: unknown;
  uncond?: unknown;
  steps: unknown;
  guidance: unknown;
  image?: unknown;
  strength?: unknown;
}

export interface CheckedRequest {
  /** Samples per generation, channels of the latents. */
  B: number;
  C: number;
  /** Classifier-free guidance runs (the [uncond, cond] pair before the gate). */
  cfg: boolean;
}

/**
 * `multiple`: what the latents' height and width must be multiples of, when the folder knows it
 * (latent-multiple.ts); a size the denoiser cannot halve fails deep in onnxruntime otherwise.
 */
export function checkGenerateRequest(
  o: GenerateRequest,
  m: Manifest,
  r: ModelRoles,
  multiple: { multiple: number; why: string } | null = null,
): CheckedRequest {
  if (!o || typeof o !== 'object') throw new TgateError('E_USAGE', 'generate needs its options ({ latents, cond, steps, guidance, ... }).');
  checkNumbers(o);
  const latents = checkLatents(o.latents, r, multiple);
  const [B, C] = latents.dims as [number, number];
  if (o.image !== undefined) checkImage(o.image, r, latents, B);
  // A guidance embedding means the model was distilled for guidance (LCM): no CFG pair.
  const cfg = (o.guidance as number) > 1 && r.guidanceEmbedding.length === 0;
  const conditioned = [...r.text, ...r.conditioning];
  const inputs = m.source.inputs;
  checkConditioning(o.cond, 'cond', [...conditioned, ...r.guidanceEmbedding], true, inputs, B);
  checkConditioning(o.uncond, 'uncond', conditioned, cfg, inputs, B);
  if (cfg) checkCfgPair(o.cond as Record<string, TensorLike>, o.uncond as Record<string, TensorLike>, conditioned);
  return { B, C, cfg };
}

/** Steps, guidance and strength: numbers in their ranges. */
function checkNumbers(o: GenerateRequest): void {
  checkSteps(o.steps);
  if (typeof o.guidance !== 'number' || !Number.isFinite(o.guidance) || o.guidance < 0) {
    throw new TgateError('E_USAGE', `guidance must be a number >= 0, not ${JSON.stringify(o.guidance) ?? String(o.guidance)}.`, {
      hint: 'Classifier-free guidance scales are 1-15 (SD 7.5); <= 1 runs without CFG.',
    });
  }
  if (o.strength !== undefined && !(typeof o.strength === 'number' && o.strength > 0 && o.strength <= 1)) {
    throw new TgateError('E_USAGE', `strength must be a number in (0, 1], not ${String(o.strength)}.`, {
      hint: "img2img runs strength x steps of the schedule (0.8: diffusers' default).",
    });
  }
}

/** The latents: the model's latent input (any batch), a size the denoiser can halve, finite values. */
function checkLatents(given: unknown, r: ModelRoles, multiple: { multiple: number; why: string } | null): TensorLike {
  checkTensor(given, 'The latents', r.latent, 'any');
  const latents = given as TensorLike;
  if (multiple && latents.dims.slice(2).some((d) => d % multiple.multiple !== 0)) {
    throw new TgateError(
      'E_BAD_TENSOR',
      `The latents have shape [${latents.dims.join(', ')}]; the denoiser takes latents whose height and width are multiples of ${multiple.multiple} (${multiple.why}).`,
      {
        hint: `Use latents of a height and width divisible by ${multiple.multiple} (image pixels: that times the latent factor).`,
      },
    );
  }
  checkFiniteInput(latents, 'The latents');
  return latents;
}

/** img2img's clean latents: exactly the noise latents' shape, finite. */
function checkImage(given: unknown, r: ModelRoles, latents: TensorLike, B: number): void {
  checkTensor(given, 'The img2img image latents', r.latent, B);
  const image = given as TensorLike;
  if (image.dims.some((d, i) => d !== latents.dims[i])) {
    throw new TgateError(
      'E_BAD_TENSOR',
      `The img2img image latents have shape [${image.dims.join(', ')}], the noise latents [${latents.dims.join(', ')}]; they must match.`,
      {
        hint: 'Give clean latents of the same shape as the latents (the VAE encoding of the image, scaled).',
      },
    );
  }
  checkFiniteInput(image, 'The img2img image latents');
}

/**
 * cond or uncond: an object naming only the inputs `names`; when `needed`, each of them present,
 * of its input's dtype and dims at batch B, finite. An unneeded set is still checked for names.
 */
function checkConditioning(set: unknown, which: 'cond' | 'uncond', names: string[], needed: boolean, inputs: Manifest['source']['inputs'], B: number): void {
  if (set === undefined && !needed) return;
  if (set !== undefined && (!set || typeof set !== 'object' || Array.isArray(set)))
    throw new TgateError('E_USAGE', `${which} must be an object of tensors by input name, not ${String(set)}.`);
  const given = (set ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!names.includes(name)) {
      throw new TgateError(
        'E_USAGE',
        `${which} names the input "${name}", which the model does not ${inputs.some((i) => i.name === name) ? `take as ${which === 'uncond' ? 'an unconditional value' : 'conditioning'}` : 'have'}.`,
        {
          hint: `The model's ${which} inputs: ${names.join(', ') || '(none)'}.`,
        },
      );
    }
  }
  if (!needed) return;
  for (const name of names) {
    const t = given[name];
    if (t === undefined) throw new TgateError('E_USAGE', `Missing ${which} input "${name}".`, { hint: `Give ${which}.${name} (shape [${B}, ...]).` });
    checkTensor(
      t,
      `${which} ${name}`,
      inputs.find((i) => i.name === name)!,
      B,
    );
    checkFiniteInput(t, `${which} ${name}`);
  }
}

/**
 * The CFG pair is one batch [uncond; cond]: their other dims must agree (a 77-token uncond with a
 * 5-token cond is two different inputs, not a pair).
 */
function checkCfgPair(cond: Record<string, TensorLike>, uncond: Record<string, TensorLike>, conditioned: string[]): void {
  for (const name of conditioned) {
    const c = cond[name]!.dims;
    const u = uncond[name]!.dims;
    if (u.some((d, i) => d !== c[i])) {
      throw new TgateError(
        'E_BAD_TENSOR',
        `uncond ${name} has shape [${u.join(', ')}] but cond ${name} [${c.join(', ')}]; classifier-free guidance runs them as one batch, so they must match.`,
        {
          hint: "Encode the negative prompt to the same length as the prompt (both padded to the text encoder's max length, as diffusers does).",
        },
      );
    }
  }
}
