// The shared SD-1.x pipeline fixture (../shared/fixtures/sd15-pipeline-tiny) as tests use it.
// Its UNet's external data file (unet/model.onnx_data, 5.7 MB) may be missing from the shared
// copy: its README and ref/index.json record its size and sha256, and every tensor in it is
// bit-identical to an initializer of ../sd15-tiny/model_opset14.onnx (same names). When absent,
// it is rebuilt once from that model into a writable cache, byte for byte (checked by sha256), and
// the pipeline is laid out there with every other file hard-linked (copied where a link fails).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseModelProto } from '../../io/decode.js';
import { externalRefOf, tensorBytes } from '../../io/external-data.js';
import { FIXTURES } from './paths.js';

export const PIPELINE_SOURCE = path.join(FIXTURES, 'sd15-pipeline-tiny');
export const PIPELINE_REF = path.join(PIPELINE_SOURCE, 'ref');

export function pipelineAvailable(what: string): boolean {
  const ok = fs.existsSync(path.join(PIPELINE_SOURCE, 'model_index.json')) && fs.existsSync(path.join(FIXTURES, 'sd15-tiny/model_opset14.onnx'));
  if (!ok) console.log(`SKIPPED ${what}: ${PIPELINE_SOURCE} is absent (it ships beside the repo in CI, not in a fresh clone).`);
  return ok;
}

interface DataRecord {
  bytes: number;
  sha256: string;
}

function recordedData(): DataRecord {
  const index = JSON.parse(fs.readFileSync(path.join(PIPELINE_REF, 'index.json'), 'utf8')) as { components: { model_files: Record<string, DataRecord> } };
  return index.components.model_files['unet/model.onnx_data']!;
}

function digest(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Rebuilds unet/model.onnx_data from the sd15-tiny opset-14 export's initializers. */
function rebuildUnetData(target: string, record: DataRecord): void {
  const unet = parseModelProto(fs.readFileSync(path.join(PIPELINE_SOURCE, 'unet/model.onnx')), 'unet/model.onnx');
  const donor = parseModelProto(fs.readFileSync(path.join(FIXTURES, 'sd15-tiny/model_opset14.onnx')), 'sd15-tiny/model_opset14.onnx');
  // Named parameters keep their names; anonymous ones (onnx::MatMul_3672) are numbered per
  // export, so they are matched by the node input that reads them.
  const byName = new Map(donor.graph!.initializer.map((t) => [t.name, t]));
  const readers = (g: typeof unet.graph) => {
    const m = new Map<string, string>();
    for (const n of g!.node)
      n.input.forEach((x, i) => {
        if (!m.has(x)) m.set(x, `${n.name}#${i}`);
      });
    return m;
  };
  const unetReaders = readers(unet.graph);
  const donorByReader = new Map([...readers(donor.graph)].map(([x, r]) => [r, x]));
  const donorTensor = (name: string) => byName.get(donorByReader.get(unetReaders.get(name) ?? '') ?? '') ?? byName.get(name);
  const out = new Uint8Array(record.bytes);
  for (const t of unet.graph!.initializer) {
    const ref = externalRefOf(t);
    if (!ref) continue;
    const d = donorTensor(t.name);
    const bytes = d ? tensorBytes(d) : null;
    if (!bytes || (ref.length !== null && bytes.length !== ref.length)) throw new Error(`cannot rebuild ${t.name} of unet/model.onnx_data from sd15-tiny`);
    out.set(bytes, ref.offset);
  }
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, out);
  if (digest(tmp) !== record.sha256) {
    fs.rmSync(tmp, { force: true });
    throw new Error('the rebuilt unet/model.onnx_data does not match the sha256 recorded in ref/index.json');
  }
  fs.renameSync(tmp, target);
}

function linkTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.name === 'ref') continue;
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) linkTree(a, b);
    else if (!fs.existsSync(b)) {
      try {
        fs.linkSync(a, b);
      } catch {
        fs.copyFileSync(a, b);
      }
    }
  }
}

let cached: string | null = null;

/**
 * A complete copy of the pipeline folder (without ref/), with the UNet's data file: the shared
 * folder itself when it is complete, else a cache under the system temp folder. Read-only use.
 */
export function pipelineFolder(): string {
  if (cached) return cached;
  if (fs.existsSync(path.join(PIPELINE_SOURCE, 'unet/model.onnx_data'))) return (cached = PIPELINE_SOURCE);
  const record = recordedData();
  const dir = path.join(os.tmpdir(), `tgate-fixture-sd15-pipeline-tiny-${record.sha256.slice(0, 12)}`);
  const data = path.join(dir, 'unet/model.onnx_data');
  if (!fs.existsSync(data) || fs.statSync(data).size !== record.bytes) {
    linkTree(PIPELINE_SOURCE, dir);
    rebuildUnetData(data, record);
  }
  return (cached = dir);
}

/** A writable copy of the pipeline (files hard-linked), for tests that rearrange it. */
export function pipelineCopy(into: string): string {
  linkTree(pipelineFolder(), into);
  return into;
}
