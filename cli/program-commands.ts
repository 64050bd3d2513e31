// Every tgate command: its arguments, options (each with its help line), a description and
// examples. cli/program.ts turns this into the commander program, so what is parsed and what
// --help shows come from the same table; the README's CLI reference is checked against it
// (tests/cli-help.test.ts).
import type { OptionTable, ParsedArgs } from './args.js';
import type { CommandIo, CommandOutput } from './command-io.js';
import { DEMO_MODEL } from './demo-model.js';
import { DEEPCACHE_OPTIONS, RUN_OPTIONS, SCHEDULE_OPTIONS, SERVER_OPTIONS, SESSION_OPTIONS } from './run-options.js';

export interface CommandSpec {
  name: string;
  /** What follows `tgate <name>` in the usage line. */
  usage: string;
  /** One line in `tgate help`. */
  summary: string;
  /** A few lines under the usage in `tgate <name> --help`. */
  description: string;
  options: OptionTable;
  /** Whole command lines, `tgate ...`. */
  examples: string[];
  run: (args: ParsedArgs, io: CommandIo) => Promise<CommandOutput>;
  hidden?: boolean;
}

// The commands' code (and onnxruntime) loads only when one runs: --help and usage errors stay fast.
const commands = () => import('./commands.js');

const json = (what: string) => ({ json: { type: 'boolean', description: `print ${what} as JSON (errors too, as {"error": ...})` } }) satisfies OptionTable;
const pixels = (what: string, dflt: string | null) =>
  ({
    height: { type: 'string', value: 'PX', ...(dflt ? { defaultText: dflt } : {}), description: `image height in pixels${what}` },
    width: { type: 'string', value: 'PX', ...(dflt ? { defaultText: dflt } : {}), description: 'image width in pixels' },
  }) satisfies OptionTable;

export const COMMANDS: CommandSpec[] = [
  {
    name: 'compile',
    usage: '<model.onnx | pipeline folder> -o <dir> [options]',
    summary: 'write the TGATE variants, gated models and tgate.json',
    description:
      "Writes into <dir> the graph variants (planning, reuse-self, fidelity, fidelity-reuse-self, and DeepCache's shallow and shallow-fidelity where the UNet has a cut), the gated models that hold them as If branches, the shared weights and tgate.json, and proves with onnxruntime that they compute what the source does. A diffusers/optimum ONNX pipeline folder (a Hugging Face cache snapshot too) keeps its layout, every file hard-linked, the denoiser's artifacts in <dir>/unet/ (or transformer/).",
    options: {
      output: { type: 'string', short: 'o', value: 'DIR', description: 'the folder to write (new or empty; see --force)' },
      force: { type: 'boolean', description: 'replace <dir> when it holds an earlier tgate compile (tgate.json)' },
      'no-verify': { type: 'boolean', description: 'skip the onnxruntime proof (recorded in tgate.json)' },
      sites: { type: 'string', default: 'all', value: 'all|cross', description: 'cache cross- and self-attention (TGATE v1 and v2), or cross only (v1)' },
      include: {
        type: 'string',
        multiple: true,
        default: [],
        value: 'GLOB',
        description: 'cache only the sites whose scope or id matches (* any characters, ? one); repeatable',
      },
      exclude: { type: 'string', multiple: true, default: [], value: 'GLOB', description: 'leave out the sites whose scope or id matches; repeatable' },
      'deepcache-branch': {
        type: 'string',
        default: '0',
        value: 'B',
        description:
          "DeepCache's cache_branch_id: the up-path block boundary to cut (block B // 3, layer B % 3, mirrored as the official helper does; 0 = shallowest)",
      },
      'no-deepcache': { type: 'boolean', description: 'write no DeepCache variants (shallow, shallow-fidelity) and do not look for the cut' },
      report: { type: 'boolean', description: 'also write report.md and report.json (costs, the diff of every variant)' },
      'print-ir-after': {
        type: 'string',
        value: 'PASS',
        description:
          "print each variant's graph as text to stderr after that pass (expose-outputs, cut-at-values, dead-code-elimination, prune-unused-inputs) or all",
      },
      ...json('the manifest, timings and pass records'),
    },
    examples: [
      'tgate compile fixtures/models/tiny-unet.onnx -o out/tiny-unet',
      'tgate compile sd-onnx -o sd-tgate',
      "tgate compile model.onnx -o out/model --sites cross --exclude '/up_blocks.1/*' --report",
      'tgate compile fixtures/models/sd15-struct-tiny/model.onnx -o out/sd15-struct --deepcache-branch 0',
    ],
    run: async (args, io) => (await commands()).runCompile(args, io),
  },
  {
    name: 'inspect',
    usage: '<model.onnx | dir> [options]',
    summary: 'a model or folder: io, ops, family, attention sites, MACs, caches',
    description:
      'Shows inputs, outputs, op counts, the family, MACs (conv+linear, and with attention products) and parameters per call, site and block, the attention sites and their cache bytes per sample, and the MACs of baseline, v1 and v2 runs with the speed-up each bounds. Takes a model, a compiled folder or a source pipeline folder (its denoiser).',
    options: {
      explain: { type: 'boolean', description: 'list every softmax or attention op considered and what came of it' },
      ...pixels(" (the latent's is that / the latent factor)", "the family's native size, SD 512"),
      shape: {
        type: 'string',
        multiple: true,
        default: [],
        value: 'NAME=AxBxC',
        description: "an input's exact shape, e.g. sample=1x4x64x64 (over --height/--width); repeatable",
      },
      steps: { type: 'string', value: 'N', defaultText: '25', description: 'steps of the schedule cost' },
      'gate-step': { type: 'string', value: 'G', defaultText: "the family's", description: 'gate step of the schedule cost' },
      ...json('the report'),
    },
    examples: [
      'tgate inspect fixtures/models/tiny-unet.onnx',
      'tgate inspect fixtures/models/tiny-unet.onnx --height 64 --width 64 --json',
      'tgate inspect out/tiny-unet --steps 25 --gate-step 10',
      'tgate inspect model.onnx --shape sample=1x4x64x64 --shape encoder_hidden_states=1x77x768',
    ],
    run: async (args) => (await commands()).runInspect(args),
  },
  {
    name: 'diff',
    usage: '<a.onnx> <b.onnx> | <dir> [options]',
    summary: 'what changed between two graphs, or the source and each variant',
    description:
      'Inputs and outputs added or removed, nodes by module, op counts, parameters, MACs per block, and the weights no longer referenced. A compiled folder: the source (its planning graph) against every variant.',
    options: {
      ...json('the diff'),
      markdown: { type: 'boolean', description: 'print Markdown tables (a pull-request comment, a CI job summary)' },
      html: { type: 'boolean', description: 'print one self-contained HTML page with a chart of MACs per block' },
      output: { type: 'string', short: 'o', value: 'FILE', description: 'write to FILE instead of stdout' },
      shape: { type: 'string', multiple: true, default: [], value: 'NAME=AxBxC', description: "an input's exact shape for the MACs; repeatable" },
    },
    examples: ['tgate diff out/tiny-unet', 'tgate diff out/tiny-unet --markdown -o out/tiny-unet-diff.md', 'tgate diff a.onnx b.onnx --json'],
    run: async (args, io) => (await commands()).runDiff(args, io),
  },
  {
    name: 'export',
    usage: 'triton <compiled folder> -o <repository> [options]',
    summary: 'a Triton Inference Server model repository: the stateful gated UNet, text encoder, VAE',
    description:
      "Writes a Triton model repository the onnxruntime backend serves as it is: the UNet as one stateful gated model whose caches stay on the server as Triton's implicit state (one generation = one sequence; a step sends the latents, the timestep, the conditioning it reads and its flags), and for a compiled pipeline the text encoder(s) and VAE decoder as plain models. Weights are hard-linked. Proved before it is written: generations run under implicit-state semantics equal the in-process ones bit for bit.",
    options: {
      output: { type: 'string', short: 'o', value: 'DIR', description: 'the repository folder to write (new or empty; see --force)' },
      force: { type: 'boolean', description: 'replace <dir> when it holds an earlier tgate export (tgate-triton.json)' },
      name: {
        type: 'string',
        value: 'NAME',
        description: "the UNet's model name (default: the compiled folder's name); components are NAME_text_encoder, NAME_vae_decoder",
      },
      instances: {
        type: 'string',
        default: '1',
        value: 'N',
        description: "instances of each model (instance_group count): each runs one generation's step at a time",
      },
      'instance-kind': { type: 'string', default: 'auto', value: 'auto|gpu|cpu', description: 'where Triton places the instances' },
      'sequence-idle-seconds': {
        type: 'string',
        default: '60',
        value: 'S',
        description: 'Triton drops a generation (its state) idle this long: a client that stopped mid-way',
      },
      'no-verify': { type: 'boolean', description: 'skip the implicit-state proof' },
      ...json('the export record and the file list'),
    },
    examples: [
      'tgate export triton out/sd15-tiny -o out/triton-repo',
      'tgate export triton sd-tgate -o triton-repo --name sd15 --instances 2 --instance-kind gpu',
    ],
    run: async (args, io) => (await commands()).runExport(args, io),
  },
  {
    name: 'run',
    usage: '<dir> [options]',
    summary: 'one generation on the T-GATE schedule, .npy in and out',
    description:
      'Generates with a compiled folder on the official T-GATE schedule: CFG at batch 2B until the gate step (v2: self-attention reused between every sp_interval-th step after warm_up), then batch B with cached cross-attention. --deepcache N adds DeepCache as the official TGATE + DeepCache loader runs it (the helper reset before steps G-1 and G, no self-attention reuse); --baseline --deepcache N is DeepCache alone. Inputs not given are seeded random, and a note says so.',
    options: {
      ...RUN_OPTIONS,
      baseline: { type: 'boolean', description: 'no TGATE: the untouched planning graph at every step (with --deepcache N: DeepCache alone)' },
      'save-trajectory': { type: 'string', value: 'DIR', description: "write every step's latents into DIR" },
      ...SERVER_OPTIONS,
      output: { type: 'string', short: 'o', value: 'FILE.npy', description: 'write the final latents' },
      ...json('a summary with every step'),
    },
    examples: [
      'tgate run out/tiny-unet --steps 10 --gate-step 4 --height 64 --width 64 -o out/tiny-final.npy',
      'tgate run out/tiny-unet --tgate-version 1 --height 64 --width 64 --json',
      'tgate run out/sd15-struct --deepcache 3 --gate-step 10 --height 64 --width 64',
      'tgate run out/sd15-struct --deepcache 3 --baseline --height 64 --width 64',
      'tgate run out/sd15 --cond encoder_hidden_states=c.npy --uncond encoder_hidden_states=u.npy --scheduler dpmpp-2m',
    ],
    run: async (args, io) => (await commands()).runRun(args, io),
  },
  {
    name: 'generate',
    usage: '<compiled pipeline> --prompt TEXT -o out.png [options]',
    summary: 'text to image with a compiled diffusers/optimum pipeline',
    description:
      "Tokenizer and text encoder(s), the gated UNet with the folder's scheduler, the VAE decoder, as diffusers' pipelines run them. A seed gives the noise diffusers draws on CPU. Several images: out-1.png, out-2.png, ...",
    options: {
      prompt: { type: 'string', value: 'TEXT', description: 'what to draw' },
      'negative-prompt': { type: 'string', value: 'TEXT', description: 'what to steer away from (CFG)' },
      seed: { type: 'string', default: '0', value: 'N', description: 'the generator of every random draw (0 to 2^64 - 1)' },
      steps: { type: 'string', default: '25', value: 'N', description: 'denoising steps' },
      guidance: { type: 'string', value: 'S', defaultText: "the family's: SD 7.5, SD-XL 5", description: 'classifier-free guidance scale' },
      ...pixels(" (a multiple of the VAE's factor x the UNet's)", "the UNet's native size"),
      'num-images': { type: 'string', default: '1', value: 'N', description: 'images from one noise tensor: out-1.png, out-2.png, ...' },
      scheduler: { type: 'string', value: 'NAME', defaultText: "the folder's", description: 'pndm, ddim, euler, euler-ancestral, dpmpp-2m or lcm' },
      baseline: { type: 'boolean', description: 'no gating: the pipeline as diffusers runs it (with --deepcache N: DeepCache alone)' },
      ...SCHEDULE_OPTIONS,
      ...DEEPCACHE_OPTIONS,
      image: { type: 'string', value: 'in.png', description: 'img2img: the picture to start from (the output takes its size)' },
      strength: { type: 'string', value: 'S', defaultText: '0.8 with --image', description: 'img2img: how much of the schedule runs, in (0, 1]' },
      'output-type': { type: 'string', default: 'png', value: 'png|latent', description: 'latent writes the final latents as .npy' },
      output: { type: 'string', short: 'o', value: 'FILE', description: 'the image to write (.png; .npy for latents)' },
      ...json('the seed, schedule, files, warnings, timings and every evaluation'),
      ...SESSION_OPTIONS,
      ...SERVER_OPTIONS,
    },
    examples: [
      'tgate generate out/sdxl-pipeline --prompt "a photo of an astronaut riding a horse on mars" --seed 42 -o out/astronaut.png',
      'tgate generate out/sdxl-pipeline --prompt "a red cube" --num-images 2 --steps 10 --gate-step 4 -o out/cube.png',
      'tgate generate out/sdxl-pipeline --prompt "a red cube at dusk" --image out/cube-1.png --strength 0.6 -o out/cube-dusk.png',
    ],
    run: async (args, io) => (await import('./generate-command.js')).runGenerate(args, io),
  },
  {
    name: 'bench',
    usage: '<model.onnx | dir> [options]',
    summary: 'baseline, TGATE v1 and v2 (and DeepCache) timed: speed-ups, bounds, peak RSS',
    description:
      'Compiles a model into a temporary folder (or takes a compiled one) and alternates baseline, v1 and v2 runs (with --deepcache N also DeepCache alone and TGATE + DeepCache): median wall times, speed-ups and the bounds the measured step costs and the MACs allow, ms per step, runtime overhead, and the peak RSS of a fresh process per mode. Takes the options of tgate run but --baseline, --save-trajectory and -o.',
    options: {
      ...RUN_OPTIONS,
      height: { ...RUN_OPTIONS.height, default: '256' },
      width: { ...RUN_OPTIONS.width, default: '256' },
      runs: { type: 'string', default: '3', value: 'N', description: 'timed runs of each mode (the median is reported)' },
      'no-memory': { type: 'boolean', description: 'skip the peak-RSS probes (a fresh process per mode)' },
      'no-verify': { type: 'boolean', description: 'skip the proof when compiling a model' },
      ...json('the figures'),
    },
    examples: [
      'tgate bench fixtures/models/tiny-unet.onnx --steps 25 --gate-step 10 --runs 2',
      'tgate bench out/sd15 --height 512 --width 512 --threads 4 --json',
      'tgate bench out/sd15-struct --deepcache 3 --height 64 --width 64 --runs 1',
    ],
    run: async (args, io) => (await commands()).runBench(args, io),
  },
  {
    name: 'demo',
    usage: '[options]',
    summary: 'the whole product on the shipped model: images, plot, report',
    description:
      "Compiles the shipped text-to-image model (fixtures/models/shapes) and draws prompts with the baseline and TGATE v1/v2: a PNG grid, the attention convergence plot, and a report with speed-ups, prompt adherence (read back by the model's classifier) and pixel differences.",
    options: {
      output: {
        type: 'string',
        short: 'o',
        default: 'out/demo',
        value: 'DIR',
        description: 'where the grid, plot, reports and compiled model go (new, empty, or an earlier demo output, which is replaced)',
      },
      prompt: { type: 'string', value: 'TEXT', defaultText: 'five prompts', description: "draw this prompt only (words of the model's vocabulary)" },
      samples: { type: 'string', default: '8', value: 'N', description: 'seeded samples per prompt' },
      steps: { type: 'string', default: '25', value: 'N', description: 'denoising steps' },
      'gate-step': { type: 'string', value: 'G', defaultText: "the model's", description: 'TGATE gate step' },
      seed: { type: 'string', default: '0', value: 'N', description: 'prompt k is drawn with seed 1000 x N + k' },
      model: { type: 'string', value: 'DIR', default: DEMO_MODEL, defaultText: 'fixtures/models/shapes', description: "the demo model's pipeline folder" },
      ...json('the report'),
    },
    examples: ['tgate demo', 'tgate demo --prompt "a blue square at the top" --samples 4 -o out/demo-one'],
    run: async (args, io) => (await commands()).runDemo(args, io),
  },
  {
    name: 'calibrate',
    usage: '<dir | model.onnx> [options]',
    summary: 'measure the gate step and record the best as the default',
    description:
      "Runs the baseline and TGATE at every candidate gate step (crossed with DeepCache intervals when the folder has a cut) on seeded inputs and reports each plan's deviation from the baseline and predicted speed-up; records the earliest TGATE gate step within --tolerance as the folder's default gate step, and prints the fastest plan within it.",
    options: {
      steps: { type: 'string', default: '25', value: 'N', description: 'denoising steps' },
      samples: { type: 'string', default: '4', value: 'N', description: 'seeded samples' },
      seed: { type: 'string', default: '0', value: 'N', description: 'seed of the samples' },
      tolerance: { type: 'string', default: '0.05', value: 'X', description: 'largest deviation (relative L2 of the final latents) a gate step may cause' },
      'tgate-version': { type: 'string', value: '1|2', defaultText: '2 if self-attention is cached', description: 'the TGATE version to calibrate' },
      'deepcache-intervals': {
        type: 'string',
        value: 'N,N',
        defaultText: '1,3,5 if the folder has a DeepCache cut, else 1',
        description:
          "DeepCache's uniform intervals to sweep with every gate step and with no gate (1 = off, always swept); the fastest plan within --tolerance is printed with its run command",
      },
      'text-model': { type: 'string', value: 'DIR', description: "real prompts and the prompt-adherence oracle of the demo model's folder" },
      ...pixels('', "the model's fixed size, else a 32x32 latent (256 px for SD)"),
      'dry-run': { type: 'boolean', description: 'report only; tgate.json is not changed' },
      ...json('the calibration'),
    },
    examples: [
      'tgate calibrate out/shapes --text-model fixtures/models/shapes --samples 4',
      'tgate calibrate out/tiny-unet --steps 10 --height 64 --width 64 --dry-run',
    ],
    run: async (args, io) => (await commands()).runCalibrate(args, io),
  },
  {
    name: '__memory-probe',
    usage: '<dir> --mode baseline|v1|v2|deepcache|tgate+deepcache [run options]',
    summary: "bench's peak-RSS probe (internal)",
    description: 'Opens the sessions of one mode and runs one generation in a fresh process; prints its peak RSS.',
    options: { ...RUN_OPTIONS, mode: { type: 'string', value: 'MODE', description: 'baseline, v1, v2, deepcache or tgate+deepcache' } },
    examples: [],
    run: async (args) => (await commands()).runMemoryProbe(args),
    hidden: true,
  },
];
