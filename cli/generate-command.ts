// tgate generate: a prompt to PNG files with a compiled pipeline folder. Several images become
// out-1.png, out-2.png, ...; --output-type latent writes the final latents as .npy. Files are
// written atomically, and a path that holds something other than what would be written (a PNG,
// or a .npy for latents) is refused rather than overwritten.
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import { encodePng } from '../runtime/pipeline/image.js';
import { GatedPipeline, readImage, type PipelineGenerateOptions, type PipelineResult } from '../runtime/pipeline/gated-pipeline.js';
import { encodeNpy } from '../runtime/npy.js';
import { usageError, type ParsedArgs } from './args.js';
import { checkOutputFile } from './output-check.js';
import { generateJson, generateMode, generateSummary, generateText, generateWarnings } from './generate-format.js';
import { progressReporter } from './progress.js';
import { connectPipeline } from '../runtime/remote/connect-pipeline.js';
import { compiledDeepCacheBranch, numberOption, scheduleArgs, serverArgs, sessionOptions, type Values } from './run-command.js';
import { readManifest } from '../build/manifest.js';
import { replaceFile } from '../base/output/atomic-file.js';

/** The most images one generate call makes (they run as one batch). */
const MAX_IMAGES = 10_000;

/** The files a generation writes: out.png, or out-1.png ... for several. */
export function outputFiles(output: string, count: number): string[] {
  if (count === 1) return [output];
  const ext = path.extname(output);
  const base = output.slice(0, output.length - ext.length);
  return Array.from({ length: count }, (_, i) => `${base}-${i + 1}${ext}`);
}

/** A temporary sibling renamed over the file, removed on failure and on SIGINT/SIGTERM (atomic-file.ts). */
const writeAtomic = replaceFile;

/**
 * The library request from generate's options; `compiledBranch` is the folder's DeepCache branch
 * (the default of --deepcache-branch). --baseline --deepcache N is DeepCache alone: TGATE's gate
 * never comes (as run's --baseline), the UNet's full and shallow steps as DeepCache's helper runs them.
 */
export function generateRequest(v: Values, compiledBranch?: number): PipelineGenerateOptions {
  if (typeof v.prompt !== 'string') throw usageError('Missing --prompt: tgate generate <dir> --prompt "a photo of ..." -o out.png.');
  const { steps, gateStep, tgate } = scheduleArgs(v, compiledBranch);
  const positive = (key: string) => (v[key] === undefined ? undefined : numberOption(v, key, (n) => Number.isInteger(n) && n > 0, 'a positive whole number'));
  const seedText = String(v.seed);
  if (!/^\d+$/.test(seedText) || BigInt(seedText) >= 2n ** 64n)
    throw usageError(`--seed must be a whole number from 0 to 2^64 - 1 (torch's range), not "${seedText}".`);
  const outputType = String(v['output-type']);
  if (outputType !== 'png' && outputType !== 'latent') throw usageError(`--output-type must be png or latent, not "${outputType}".`);
  // One file per image is named and checked before the run: bounded, so a typo cannot make a
  // billion names (the pipeline bounds the latents' size itself).
  const numImages = numberOption(v, 'num-images', (n) => Number.isInteger(n) && n >= 1 && n <= MAX_IMAGES, `a whole number from 1 to ${MAX_IMAGES}`);
  const o: PipelineGenerateOptions = { prompt: v.prompt, steps, seed: BigInt(seedText), outputType, numImages };
  if (typeof v['negative-prompt'] === 'string') o.negativePrompt = v['negative-prompt'];
  if (v.guidance !== undefined) o.guidance = numberOption(v, 'guidance', (n) => n >= 0, 'a number >= 0');
  const h = positive('height');
  const w = positive('width');
  if (h !== undefined) o.height = h;
  if (w !== undefined) o.width = w;
  if (typeof v.scheduler === 'string') o.scheduler = v.scheduler;
  if (v.baseline) {
    if (v['gate-step'] !== undefined || v['tgate-version'] !== undefined)
      throw usageError('--baseline runs without gating; leave out --gate-step and --tgate-version.');
    // DeepCache alone is a gated run whose gate never comes (the pipeline's baseline opens the planning graph only).
    if (tgate.deepcache) {
      o.gateStep = gateStep!;
      o.tgate = tgate;
    } else o.baseline = true;
  } else {
    if (gateStep !== undefined) o.gateStep = gateStep;
    o.tgate = tgate;
  }
  if (typeof v.image === 'string') {
    o.image = readImage(v.image);
    o.strength = v.strength === undefined ? 0.8 : numberOption(v, 'strength', (n) => n > 0 && n <= 1, 'in (0, 1]');
    if (h !== undefined || w !== undefined) throw usageError("--height/--width do not apply with --image: the output has the input image's size.");
  } else if (v.strength !== undefined) {
    throw usageError('--strength needs --image (img2img: the picture to start from).');
  }
  return o;
}

/** The files -o names for this request, checked before anything runs; `kind` is their extension. */
function checkedOutputs(v: Values, request: PipelineGenerateOptions): { files: string[]; kind: 'png' | 'npy' } {
  const output = typeof v.output === 'string' ? v.output : null;
  if (!output) throw usageError('Missing the output file: tgate generate <dir> --prompt TEXT -o out.png.');
  const kind = request.outputType === 'latent' ? 'npy' : 'png';
  if (path.extname(output).toLowerCase() !== `.${kind}`)
    throw usageError(`-o ${output}: ${kind === 'png' ? 'images are written as .png' : '--output-type latent writes .npy'}; name the file accordingly.`);
  const files = outputFiles(output, request.numImages ?? 1);
  for (const file of files) {
    if (typeof v.image === 'string' && path.resolve(file) === path.resolve(v.image)) {
      throw new TgateError('E_OUTPUT_EXISTS', `-o ${file} is the input image; tgate generate does not overwrite its input.`, {
        subject: { file },
        hint: 'Choose another output path with -o.',
      });
    }
    // Not a folder, not another kind of file, in a folder tgate can write (cli/output-check.ts).
    checkOutputFile(file, '-o', kind);
  }
  return { files, kind };
}

/** Loads the variants the request uses, generates with a progress display, and releases the sessions. */
async function generateWith(dir: string, v: Values, request: PipelineGenerateOptions, stderr: NodeJS.WriteStream): Promise<PipelineResult> {
  const session = sessionOptions(v);
  const server = serverArgs(dir, v);
  const remote = server ? await connectPipeline(dir, server.url, server.model, { timeoutMs: server.timeoutMs }) : undefined;
  // With the models on a server, the folder needs no model files: only what the client reads.
  const pipe = await GatedPipeline.load(dir, remote ? { remote } : { ...session, variants: GatedPipeline.variantsFor(dir, request) });
  try {
    const progress = progressReporter(stderr, generateMode(request));
    request.onStep = progress.step;
    const result = await pipe.generate(request);
    progress.done();
    return result;
  } finally {
    await pipe.release();
  }
}

/** One PNG per image, or one .npy of latents [1, ...] per image. */
function writeOutputs(files: string[], kind: 'png' | 'npy', result: PipelineResult): void {
  if (kind === 'npy') {
    const rest = result.latents.dims.slice(1);
    const size = rest.reduce((a, b) => a * b, 1);
    files.forEach((file, i) =>
      writeAtomic(file, encodeNpy({ dtype: 'float32', shape: [1, ...rest], data: result.latents.data.slice(i * size, (i + 1) * size) })),
    );
  } else {
    files.forEach((file, i) => writeAtomic(file, encodePng(result.images[i]!)));
  }
}

export async function runGenerate(args: ParsedArgs, io: { stderr: NodeJS.WriteStream }): Promise<{ stdout: string }> {
  const { values, positionals } = args;
  const v = values as Values;
  if (positionals.length !== 1)
    throw usageError(
      positionals.length === 0
        ? 'Missing the compiled pipeline folder: tgate generate <dir> --prompt TEXT -o out.png.'
        : `Expected one compiled pipeline folder, got ${positionals.length}: ${positionals.join(' ')}.`,
    );
  const dir = positionals[0]!;
  // The folder's DeepCache branch is read only when DeepCache is asked for without one.
  const branch = v.deepcache !== undefined && v['deepcache-branch'] === undefined ? compiledDeepCacheBranch(readManifest(dir)) : undefined;
  const request = generateRequest(v, branch);
  const { files, kind } = checkedOutputs(v, request);
  const result = await generateWith(dir, v, request, io.stderr);
  for (const w of generateWarnings(result)) io.stderr.write(w);
  writeOutputs(files, kind, result);
  if (v.json) return { stdout: generateJson(generateSummary(dir, request, files, result)) };
  return { stdout: generateText(files, result) };
}
