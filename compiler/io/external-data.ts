// External data: checking a source's references (without reading their bytes) and laying out
// one aligned weights file for sources whose weights are embedded. Locations that are absolute,
// escape the model's folder or pass through a symlink are refused before anything is opened (the
// one exception, a Hugging Face cache snapshot, is decided by symlinkVerdict in load.ts).
import fs from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { StringStringEntryProtoSchema, TensorProtoSchema, type TensorProto } from 'onnx-buf';
import { TgateError } from '../errors.js';
import { hfCacheRepoOf, isInsideDir, symlinkVerdict } from './load.js';

/** Offsets in the weights file are multiples of this, so onnxruntime can memory-map tensors. */
export const WEIGHTS_ALIGNMENT = 4096;

/**
 * Tensors smaller than this stay inside the graphs (onnx.save_model's default threshold): they
 * are shapes, axes and scalars that onnxruntime's shape inference must read while loading, and
 * it cannot read them from external data.
 */
export const EXTERNAL_MIN_BYTES = 1024;

export interface ExternalRef {
  tensor: string;
  location: string;
  offset: number;
  length: number | null;
}

export interface ExternalFile {
  location: string;
  /** The file's resolved path (a symlink's target, in a Hugging Face cache snapshot): what is linked. */
  path: string;
  size: number;
}

export function externalRefOf(t: TensorProto): ExternalRef | null {
  if (t.dataLocation !== 1) return null;
  const get = (k: string): string | undefined => t.externalData.find((e) => e.key === k)?.value;
  const num = (k: string): number | null => {
    const s = get(k);
    if (s === undefined) return null;
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new TgateError('E_EXTERNAL_DATA_INVALID', `Tensor "${t.name}" has external-data ${k} "${s}", which is not a byte count.`, { subject: { tensor: t.name } });
    }
    return n;
  };
  return { tensor: t.name, location: get('location') ?? '', offset: num('offset') ?? 0, length: num('length') };
}

/**
 * Validates every external reference of the source against its folder using only lstat/stat:
 * the bytes are never read. Returns the distinct data files. A symlink on the way is refused,
 * unless symlinkVerdict follows it (inside a Hugging Face cache snapshot, into the same repository).
 */
export function checkExternalData(initializers: TensorProto[], modelDir: string, modelFile: string): ExternalFile[] {
  const files = new Map<string, ExternalFile>();
  const realDir = fs.realpathSync(modelDir);
  // Where the data may resolve to: the model's folder, or its cache repository (blobs/) in a snapshot.
  const allowedRoot = hfCacheRepoOf(realDir);
  for (const t of initializers) {
    const ref = externalRefOf(t);
    if (!ref) continue;
    const subject = { tensor: t.name, file: modelFile };
    const loc = ref.location;
    if (!loc) throw new TgateError('E_EXTERNAL_DATA_INVALID', `Tensor "${t.name}" is marked external but names no location.`, { subject, hint: 'Re-save the model with onnx.save_model(..., save_as_external_data=True).' });
    const segments = loc.split(/[\\/]+/);
    if (path.isAbsolute(loc) || /^[a-zA-Z]:/.test(loc) || segments.includes('..')) {
      throw new TgateError('E_EXTERNAL_DATA_UNSAFE', `Tensor "${t.name}" points at external data "${loc}", outside the model's folder; tgate refuses to read it.`, {
        subject,
        hint: "Put the data file next to the model and use a relative location inside the model's folder.",
      });
    }
    let file = files.get(loc);
    if (!file) {
      // Every component must be a real entry inside the folder: a symlink could lead anywhere
      // (followed only where symlinkVerdict allows it: into the same Hugging Face cache repository).
      let cur = modelDir;
      for (const seg of segments.filter((s) => s && s !== '.')) {
        cur = path.join(cur, seg);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(cur);
        } catch {
          throw new TgateError('E_EXTERNAL_DATA_MISSING', `External data file "${loc}" of ${modelFile} (needed by tensor "${t.name}") does not exist in ${modelDir}.`, {
            subject,
            hint: 'Copy the data file that was saved with the model next to it, under the same name.',
          });
        }
        if (st.isSymbolicLink()) {
          const verdict = symlinkVerdict(cur);
          if (!verdict.follow) {
            throw new TgateError('E_EXTERNAL_DATA_UNSAFE', `External data "${loc}" of tensor "${t.name}" goes through the symlink ${cur}: ${verdict.reason}; tgate refuses to follow it.`, {
              subject,
              hint: 'Replace the symlink with the real file (or a hard link) inside the model folder.',
            });
          }
        }
      }
      let st: fs.Stats;
      try {
        st = fs.statSync(cur);
      } catch {
        throw new TgateError('E_EXTERNAL_DATA_MISSING', `External data file "${loc}" of ${modelFile} (needed by tensor "${t.name}") does not exist in ${modelDir}.`, { subject });
      }
      if (!st.isFile()) throw new TgateError('E_EXTERNAL_DATA_INVALID', `External data "${loc}" of ${modelFile} is not a regular file.`, { subject });
      const real = fs.realpathSync(cur);
      if (allowedRoot ? !isInsideDir(real, fs.realpathSync(allowedRoot)) : !real.startsWith(realDir + path.sep)) {
        throw new TgateError('E_EXTERNAL_DATA_UNSAFE', `External data "${loc}" resolves outside the model's folder.`, { subject });
      }
      file = { location: loc, path: real, size: st.size };
      files.set(loc, file);
    }
    const end = ref.offset + (ref.length ?? 0);
    if (end > file.size) {
      throw new TgateError('E_EXTERNAL_DATA_INVALID', `Tensor "${t.name}" needs bytes ${ref.offset}..${end} of "${loc}", but the file has ${file.size} bytes: it is truncated or belongs to another model.`, {
        subject,
        hint: 'Use the data file saved together with this .onnx file.',
      });
    }
  }
  return [...files.values()];
}

/** Little-endian bytes of an embedded tensor, or null when it cannot live in external data. */
export function tensorBytes(t: TensorProto): Uint8Array | null {
  if (t.dataLocation === 1 || t.dataType === 8) return null;
  if (t.rawData.length) return t.rawData;
  const pack = <T>(xs: T[], size: number, put: (dv: DataView, o: number, x: T) => void): Uint8Array => {
    const out = new Uint8Array(xs.length * size);
    const dv = new DataView(out.buffer);
    xs.forEach((x, i) => put(dv, i * size, x));
    return out;
  };
  switch (t.dataType) {
    case 1: return t.floatData.length ? pack(t.floatData, 4, (d, o, x) => d.setFloat32(o, x, true)) : null;
    case 11: return t.doubleData.length ? pack(t.doubleData, 8, (d, o, x) => d.setFloat64(o, x, true)) : null;
    case 7: return t.int64Data.length ? pack(t.int64Data, 8, (d, o, x) => d.setBigInt64(o, x, true)) : null;
    case 13: case 12: return t.uint64Data.length ? pack(t.uint64Data, t.dataType === 13 ? 8 : 4, (d, o, x) => (t.dataType === 13 ? d.setBigUint64(o, x, true) : d.setUint32(o, Number(x), true))) : null;
    case 6: return t.int32Data.length ? pack(t.int32Data, 4, (d, o, x) => d.setInt32(o, x, true)) : null;
    case 2: case 3: case 9: return t.int32Data.length ? pack(t.int32Data, 1, (d, o, x) => d.setUint8(o, x & 0xff)) : null;
    case 4: case 5: case 10: case 16: return t.int32Data.length ? pack(t.int32Data, 2, (d, o, x) => d.setUint16(o, x & 0xffff, true)) : null;
    default: return null;
  }
}

export interface WeightsLayout {
  location: string;
  /** Tensor name -> where its bytes go. */
  entries: Map<string, { offset: number; bytes: Uint8Array }>;
  size: number;
}

/** Assigns aligned offsets, in initializer order, to every embedded tensor of at least EXTERNAL_MIN_BYTES. */
export function layoutWeights(initializers: TensorProto[], location: string): WeightsLayout {
  const entries = new Map<string, { offset: number; bytes: Uint8Array }>();
  let size = 0;
  for (const t of initializers) {
    const bytes = tensorBytes(t);
    if (!bytes || bytes.length < EXTERNAL_MIN_BYTES || entries.has(t.name)) continue;
    const offset = Math.ceil(size / WEIGHTS_ALIGNMENT) * WEIGHTS_ALIGNMENT;
    entries.set(t.name, { offset, bytes });
    size = offset + bytes.length;
  }
  return { location, entries, size };
}

/** Writes the weights file tensor by tensor (never one big buffer), zero padding between. */
export function writeWeights(filePath: string, layout: WeightsLayout): void {
  const fd = fs.openSync(filePath, 'wx');
  try {
    let pos = 0;
    for (const { offset, bytes } of layout.entries.values()) {
      if (offset > pos) fs.writeSync(fd, new Uint8Array(offset - pos));
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      pos = offset + bytes.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The tensor as stored in the weights file: same name, type and dims, data by reference. */
export function externalized(t: TensorProto, layout: WeightsLayout): TensorProto {
  const e = layout.entries.get(t.name);
  if (!e) return t;
  const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
  return {
    ...t,
    $typeName: TensorProtoSchema.typeName,
    rawData: new Uint8Array(0),
    floatData: [], int32Data: [], int64Data: [], doubleData: [], uint64Data: [], stringData: [],
    dataLocation: 1,
    externalData: [entry('location', layout.location), entry('offset', String(e.offset)), entry('length', String(e.bytes.length))],
  } as TensorProto;
}
