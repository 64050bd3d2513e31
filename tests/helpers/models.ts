// Writing code-built models to disk for compile tests, embedded or with external data.
import fs from 'node:fs';
import path from 'node:path';
import { encodeModelSpec, tensorSpecBytes, type ModelSpec } from '../../fixtures/model-spec.js';
import { tinyUnetSpec, type TinyUnetOptions } from '../../fixtures/tiny-unet.js';

export function writeTinyUnet(dir: string, opts: TinyUnetOptions = {}, file = 'model.onnx'): string {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, file);
  fs.writeFileSync(p, encodeModelSpec(tinyUnetSpec(opts)));
  return p;
}

/**
 * Moves every initializer of at least `minBytes` into one data file at `location` (relative to
 * the model unless the test wants it otherwise) and writes the model; returns the model path.
 */
export function writeWithExternalData(
  dir: string,
  spec: ModelSpec,
  location: string,
  opts: { dataPath?: string; minBytes?: number; perTensor?: boolean } = {},
): string {
  fs.mkdirSync(dir, { recursive: true });
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializers = spec.initializers.map((t) => {
    const bytes = tensorSpecBytes(t);
    if (bytes.length < (opts.minBytes ?? 64)) return t;
    if (opts.perTensor) {
      // One file per tensor, offset 0, as torch writes models over 2 GB.
      const file = `${location}/${t.name}.bin`;
      fs.mkdirSync(path.join(dir, location), { recursive: true });
      fs.writeFileSync(path.join(dir, file), bytes);
      return { name: t.name, dtype: t.dtype, dims: t.dims, external: { location: file, offset: 0, length: bytes.length } };
    }
    const e = { location, offset, length: bytes.length };
    chunks.push(bytes);
    offset += bytes.length;
    return { name: t.name, dtype: t.dtype, dims: t.dims, external: e };
  });
  if (!opts.perTensor) {
    const dataPath = opts.dataPath ?? path.join(dir, location);
    fs.mkdirSync(path.dirname(dataPath), { recursive: true });
    fs.writeFileSync(dataPath, Buffer.concat(chunks));
  }
  const p = path.join(dir, 'model.onnx');
  fs.writeFileSync(p, encodeModelSpec({ ...spec, initializers }));
  return p;
}

/** Writes model bytes as <dir>/<name>/model.onnx and returns the path. */
export function writeModelFile(dir: string, name: string, bytes: Uint8Array): string {
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  const p = path.join(dir, name, 'model.onnx');
  fs.writeFileSync(p, bytes);
  return p;
}
