// `tgate export triton`: a compiled folder (or compiled pipeline) as a Triton Inference Server
// model repository the onnxruntime backend serves as it is:
//   <repo>/<name>/config.pbtxt, <repo>/<name>/1/model.onnx/{model.onnx, weights}   the stateful UNet
//   <repo>/<name>_<component>/...                                                   text encoder(s), VAE decoder
//   <repo>/tgate-triton.json                                                        what was exported (Triton ignores files at the top)
// The UNet is the stateful gated model (build/stateful-model.ts) over every variant the folder holds;
// the weights and the plain models are hard-linked (copied across devices), never rewritten. The
// repository is staged beside the target and moved into place only after the proof passes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { loadSource } from '../../io/load.js';
import { stageOutput } from '../artifacts.js';
import { latentInput } from '../latent-factor.js';
import { graphIo, MANIFEST_NAME, readManifest, type Manifest, type ManifestIo } from '../manifest.js';
import { statefulModelOf } from './stateful-from-folder.js';
import type { StatefulInterface } from '../stateful-model.js';
import { plainConfig, statefulConfig, type InstanceOptions } from './configs.js';
import { modelConfigText } from './model-config.js';

export const EXPORT_RECORD = 'tgate-triton.json';
export const EXPORT_FORMAT = 'tgate-triton/1';
/** Components served as plain models, by their folder in an optimum export. */
export const PLAIN_COMPONENTS = ['text_encoder', 'text_encoder_2', 'vae_decoder'] as const;

/** What the prover checks: the staged stateful model, run under implicit state, against the compiled folder in process. */
export interface StatefulProofRequest {
  compiled: string;
  /** The staged model.onnx (its weights beside it). */
  model: string;
  states: StatefulInterface['states'];
}

export interface StatefulProofReport {
  /** The plans run, each: its name, steps, and whether every step's latents matched bit for bit. */
  plans: { name: string; plan: string; bitExact: boolean; maxAbsDiff: number }[];
}

export interface TritonExportOptions {
  outDir: string;
  force: boolean;
  /** The UNet's model name (default: the compiled folder's name); components get `<name>_<component>`. */
  name?: string;
  instances: InstanceOptions;
  /** Triton aborts a sequence idle this long (a generation that stopped mid-way). */
  idleSeconds: number;
  prover: ((req: StatefulProofRequest) => Promise<StatefulProofReport>) | null;
}

export interface ExportRecord {
  format: typeof EXPORT_FORMAT;
  /** The compiled folder's tgate.json, by hash: the client checks the server's model against its own copy. */
  manifestSha256: string;
  models: { role: 'unet' | (typeof PLAIN_COMPONENTS)[number]; name: string; stateful: boolean }[];
  /** The stateful UNet's interface beyond the source's (names only; the client derives them from the manifest too). */
  stateful: {
    runFlags: Record<string, string>;
    keepFlags: Partial<Record<string, string>>;
    pairMean: string | null;
    states: { id: string; input: string; output: string }[];
  };
}

export interface TritonExportResult {
  repo: string;
  record: ExportRecord;
  /** Every file of the repository, relative, with its size and whether it was written or linked. */
  files: { rel: string; bytes: number; how: 'written' | 'linked' | 'copied' }[];
  proof: StatefulProofReport | null;
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** A default model name from the folder's name: Triton names a model by its directory (the client defaults --model the same way). */
export function defaultModelName(dir: string): string {
  const base = path
    .basename(path.resolve(dir))
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .replace(/^[.-]+/, '');
  return base || 'tgate';
}

function checkName(name: string): void {
  if (!MODEL_NAME.test(name))
    throw new TgateError('E_USAGE', `"${name}" cannot name a Triton model: it names a directory of the repository.`, {
      hint: 'Use letters, digits, _ . and - (not first), at most 128 characters: --name sd15.',
    });
}

interface Planned {
  write: { rel: string; data: Uint8Array | string }[];
  link: { rel: string; from: string }[];
}

/** The stateful UNet's folder: its config, the model, the weights it references at their relative names. */
function planUnet(source: string, m: Manifest, name: string, o: TritonExportOptions, companions: Record<string, string>, sha: string, p: Planned) {
  const { bytes, io } = statefulModelOf(source, m);
  const variantDir = path.posix.dirname(m.variants[0]!.file);
  const modelDir = `${name}/1/model.onnx`;
  p.write.push({ rel: `${modelDir}/model.onnx`, data: bytes });
  for (const w of m.weightsFiles) {
    const rel = path.posix.relative(variantDir, w);
    if (rel.startsWith('..'))
      throw new TgateError('E_BAD_MANIFEST', `The weights file ${w} is not beside the variant graphs in ${variantDir}.`, {
        subject: { file: path.join(source, MANIFEST_NAME) },
        hint: 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.',
      });
    p.link.push({ rel: `${modelDir}/${rel}`, from: path.join(source, w) });
  }
  const config = statefulConfig(name, m.source.inputs, io, {
    ...o.instances,
    idleSeconds: o.idleSeconds,
    parameters: {
      'tgate.format': EXPORT_FORMAT,
      'tgate.manifest_sha256': sha,
      ...Object.fromEntries(Object.entries(companions).map(([k, v]) => [`tgate.${k}`, v])),
    },
  });
  p.write.push({
    rel: `${name}/config.pbtxt`,
    data: modelConfigText(config, `Generated by tgate export triton from ${path.basename(path.resolve(source))}: the stateful gated UNet.`),
  });
  return io;
}

/** A pipeline component as a plain model: its model.onnx and external data linked as they are. */
function planComponent(source: string, comp: string, name: string, o: TritonExportOptions, p: Planned): void {
  const file = path.join(source, comp, 'model.onnx');
  const loaded = loadSource(file);
  const g = loaded.decode().graph;
  const inputs: ManifestIo[] = graphIo(g, 'inputs');
  const outputs: ManifestIo[] = graphIo(g, 'outputs');
  const modelDir = `${name}/1/model.onnx`;
  p.link.push({ rel: `${modelDir}/model.onnx`, from: file });
  for (const f of loaded.externalFiles) {
    const rel = path.posix.normalize(f.location.split(path.sep).join('/'));
    if (rel.startsWith('..') || path.posix.isAbsolute(rel))
      throw new TgateError('E_EXTERNAL_DATA_UNSAFE', `${file} reads external data from ${f.location}, outside its folder.`, { subject: { file } });
    p.link.push({ rel: `${modelDir}/${rel}`, from: f.path });
  }
  p.write.push({
    rel: `${name}/config.pbtxt`,
    data: modelConfigText(plainConfig(name, inputs, outputs, o.instances), `Generated by tgate export triton: the pipeline's ${comp}.`),
  });
}

export async function exportTriton(source: string, o: TritonExportOptions): Promise<TritonExportResult> {
  const m = readManifest(source);
  // A batch fixed in the graph would need every request's rows repeated to it (the in-process
  // runner does that); Triton passes requests as they come, so such an export is refused here.
  const batch = latentInput(m.source.inputs)?.shape[0];
  if (typeof batch === 'number')
    throw new TgateError('E_UNSUPPORTED_MODEL', `The model was exported with a fixed batch of ${batch}; the Triton export needs a dynamic batch axis.`, {
      subject: { file: path.join(source, MANIFEST_NAME) },
      hint: 'Re-export the UNet with a dynamic batch axis (torch.onnx.export dynamic_axes, as optimum-cli export onnx writes it), then compile and export again.',
    });
  const name = o.name ?? defaultModelName(source);
  checkName(name);
  const sha = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(source, MANIFEST_NAME)))
    .digest('hex');
  const components = PLAIN_COMPONENTS.filter((c) => m.pipeline?.components[c]?.files.includes(`${c}/model.onnx`));
  const companions = Object.fromEntries(components.map((c) => [c, `${name}_${c}`]));
  for (const n of Object.values(companions)) checkName(n);
  const p: Planned = { write: [], link: [] };
  const io = planUnet(source, m, name, o, companions, sha, p);
  for (const c of components) planComponent(source, c, companions[c]!, o, p);
  const record: ExportRecord = {
    format: EXPORT_FORMAT,
    manifestSha256: sha,
    models: [{ role: 'unet', name, stateful: true }, ...components.map((c) => ({ role: c, name: companions[c]!, stateful: false }))],
    stateful: {
      runFlags: io.flags.runFlags,
      keepFlags: io.flags.keepFlags,
      pairMean: io.flags.pairMean,
      states: io.states.map((s) => ({ id: s.id, input: s.input, output: s.output })),
    },
  };
  p.write.push({ rel: EXPORT_RECORD, data: `${JSON.stringify(record, null, 2)}\n` });
  const staging = stageOutput(o.outDir, {
    force: o.force,
    outputs: p.write.map((w) => w.rel),
    replaceable: (dir) => (fs.existsSync(path.join(dir, EXPORT_RECORD)) ? null : `it has no ${EXPORT_RECORD}`),
    protectedDirs: [source],
    kind: 'tgate Triton export',
  });
  try {
    const files: TritonExportResult['files'] = [];
    for (const w of p.write) {
      staging.write(w.rel, w.data);
      files.push({ rel: w.rel, bytes: typeof w.data === 'string' ? Buffer.byteLength(w.data) : w.data.length, how: 'written' });
    }
    for (const l of p.link) files.push({ rel: l.rel, bytes: fs.statSync(l.from).size, how: staging.link(l.rel, l.from) });
    const proof = o.prover
      ? await o.prover({ compiled: source, model: path.join(staging.dir, name, '1', 'model.onnx', 'model.onnx'), states: io.states })
      : null;
    if (proof && proof.plans.some((x) => !x.bitExact)) {
      const bad = proof.plans.filter((x) => !x.bitExact);
      throw new TgateError(
        'E_VERIFY_FAILED',
        `The stateful model does not reproduce the in-process run: ${bad.map((b) => `${b.name} (max |diff| ${b.maxAbsDiff})`).join(', ')}.`,
        { hint: 'This is a bug in tgate; please report it with the model. Nothing was written.' },
      );
    }
    staging.commit();
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return { repo: o.outDir, record, files, proof };
  } finally {
    staging.discard();
  }
}
