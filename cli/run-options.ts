// The options of a generation on a compiled folder, shared by run, bench (and its memory probe)
// and, for the session part, generate.
import { DEEPCACHE_QUADRATIC_DEFAULTS } from '../build/deepcache-steps.js';
import type { OptionTable } from './args.js';

export const SESSION_OPTIONS = {
  threads: { type: 'string', default: '0', value: 'N', description: 'onnxruntime threads per session (0: one per core)' },
  optimization: { type: 'string', default: 'extended', value: 'LEVEL', description: "onnxruntime's graph optimization: disabled, basic, extended or all" },
  prepacking: {
    type: 'string',
    default: 'auto',
    value: 'auto|on|off',
    description: "onnxruntime's pre-packed weights; auto: on for one graph, off when several variants are open (each If branch would pack its own copy)",
  },
  arena: { type: 'string', default: 'on', value: 'on|off', description: "onnxruntime's CPU memory arena" },
  'mem-pattern': { type: 'string', default: 'on', value: 'on|off', description: "onnxruntime's memory pattern planning" },
  sessions: { type: 'string', default: 'gated', value: 'gated|separate', description: 'one session over the gated model, or one per variant' },
} satisfies OptionTable;

/** TGATE's schedule: the gate step and v2's self-attention intervals. */
export const SCHEDULE_OPTIONS = {
  'gate-step': {
    type: 'string',
    value: 'G',
    defaultText: "the folder's; the family's: SD 10, PixArt 15, LCM 1",
    description: 'the step from which cross-attention comes from the cache (no CFG after it)',
  },
  'tgate-version': {
    type: 'string',
    value: '1|2',
    defaultText: '2; 1 for a --sites cross compile',
    description: '1 caches cross-attention; 2 also reuses self-attention',
  },
  'sp-interval': {
    type: 'string',
    value: 'N',
    defaultText: "the family's, SD 5",
    description: 'v2: self-attention computed every N-th step before the gate, reused between',
  },
  'fi-interval': { type: 'string', value: 'N', defaultText: "the family's, SD 1", description: 'v2: the same after the gate' },
  'warm-up': { type: 'string', value: 'N', defaultText: "the family's, SD 2", description: 'v2: steps of full self-attention before any reuse' },
} satisfies OptionTable;

/**
 * DeepCache's plan (SPEC.md §5): full steps store the deep feature, shallow steps run only the
 * shallow network on it. With TGATE it is the official TGATE + DeepCache combination, which forces
 * no self-attention reuse; with --baseline (no TGATE) it is DeepCache alone.
 */
export const DEEPCACHE_OPTIONS = {
  deepcache: {
    type: 'string',
    value: 'N',
    defaultText: '1, off',
    description:
      'DeepCache: the whole UNet every N-th step, the shallow network on its cached deep feature between (N 1: off). With TGATE this is the official TGATE + DeepCache combination, which forces no self-attention reuse (sp_interval 1, warm_up 0, fi_interval 1: --sp-interval, --warm-up, --fi-interval are refused); with --baseline, DeepCache alone',
  },
  'deepcache-branch': {
    type: 'string',
    value: 'B',
    defaultText: "the folder's compiled branch",
    description: 'the DeepCache branch id the folder was compiled for (tgate compile --deepcache-branch)',
  },
  'deepcache-schedule': {
    type: 'string',
    value: 'uniform|quadratic',
    default: 'uniform',
    choices: ['uniform', 'quadratic'],
    description:
      "uniform (the official helper's), or the DeepCache paper's quadratic schedule: ceil(steps / N) full steps clustered around --deepcache-center (not with TGATE)",
  },
  'deepcache-center': {
    type: 'string',
    value: 'C',
    defaultText: `${DEEPCACHE_QUADRATIC_DEFAULTS.center}`,
    description: 'quadratic only: the step the full steps cluster around',
  },
  'deepcache-pow': {
    type: 'string',
    value: 'P',
    defaultText: `${DEEPCACHE_QUADRATIC_DEFAULTS.pow}`,
    description: 'quadratic only: the exponent, > 1 (lowered by 0.02 until the steps are distinct, as the official code does)',
  },
} satisfies OptionTable;

/** Steps on a server: the stateful model `tgate export triton` wrote, loaded by Triton (KServe v2 over HTTP). */
export const SERVER_OPTIONS = {
  server: {
    type: 'string',
    value: 'URL',
    description:
      "run the models on a KServe v2 server (Triton: http://host:8000) that serves this folder's export (tgate export triton): the UNet's steps, whose caches stay there, and a pipeline's text encoder(s) and VAE; session options do not apply",
  },
  model: { type: 'string', value: 'NAME', defaultText: "the folder's name", description: "with --server: the stateful UNet's model name on the server" },
  'server-timeout': { type: 'string', value: 'S', defaultText: '300', description: 'with --server: seconds one request may take' },
} satisfies OptionTable;

export const RUN_OPTIONS = {
  steps: { type: 'string', default: '25', value: 'N', description: 'denoising steps' },
  ...SCHEDULE_OPTIONS,
  ...DEEPCACHE_OPTIONS,
  guidance: { type: 'string', value: 'S', defaultText: "the family's: SD 7.5, SD-XL 5", description: 'classifier-free guidance scale (<= 1: no CFG)' },
  scheduler: {
    type: 'string',
    value: 'NAME',
    defaultText: "ddim, or a compiled pipeline's own",
    description: 'ddim, euler, euler-ancestral, dpmpp-2m, pndm or lcm',
  },
  'scheduler-config': {
    type: 'string',
    value: 'FILE',
    description: 'a diffusers scheduler_config.json (its _class_name picks the scheduler unless --scheduler)',
  },
  latents: {
    type: 'string',
    value: 'FILE.npy',
    defaultText: 'seeded noise',
    description: 'the initial latents [B, C, h, w] (instead of --height/--width/--batch)',
  },
  height: {
    type: 'string',
    value: 'PX',
    defaultText: "512, or the model's fixed size",
    description: "image height in pixels (the latents' is that / the latent factor)",
  },
  width: { type: 'string', value: 'PX', defaultText: "512, or the model's fixed size", description: 'image width in pixels' },
  batch: { type: 'string', default: '1', value: 'N', description: 'samples per generation' },
  seed: { type: 'string', default: '0', value: 'N', description: 'seed of the noise and of the stand-ins for missing inputs' },
  cond: {
    type: 'string',
    multiple: true,
    default: [],
    value: 'NAME=FILE.npy',
    defaultText: 'seeded random',
    description: 'a conditioning input (encoder_hidden_states, text_embeds, ...); repeatable',
  },
  uncond: {
    type: 'string',
    multiple: true,
    default: [],
    value: 'NAME=FILE.npy',
    defaultText: 'seeded random',
    description: "an input's unconditional value for CFG; repeatable",
  },
  image: { type: 'string', value: 'FILE.npy', description: 'img2img: the clean latents to start from' },
  strength: { type: 'string', value: 'S', defaultText: '0.8 with --image', description: 'img2img: how much of the schedule runs, in (0, 1]' },
  ...SESSION_OPTIONS,
} satisfies OptionTable;
