// External data: checking the references of every tensor of a model, wherever it lives
// (tensor-walk.ts), without reading their bytes; Constants with external data made initializers
// for compile; and the one aligned weights file for sources whose weights are embedded.
// Locations that are absolute, escape the model's folder or pass through a symlink are refused
// before anything is opened (the one exception, a Hugging Face cache snapshot, is decided by
// symlinkVerdict in load.ts).
import fs from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProto_DataType as DT,
  TensorProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import { dtypeName, exactTensorBytes } from '../ir/dtype.js';
import { hfCacheRepoOf, isInsideDir, symlinkVerdict } from './links.js';
import { forEachTensor, type TensorWhere } from './tensor-walk.js';

export { forEachTensor, type TensorWhere };

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
  /** The tensor's size in bytes (equal to the external-data length when one is given). */
  length: number;
}

export interface ExternalFile {
  location: string;
  /** The file's resolved path (a symlink's target, in a Hugging Face cache snapshot): what is linked. */
  path: string;
  size: number;
}

/**
 * The external_data keys onnxruntime understands (tensor_external_data_info.cc): it refuses any
 * other key when it loads the model, so tgate refuses it first, naming the tensor.
 */
const EXTERNAL_KEYS = new Set(['location', 'offset', 'length', 'checksum']);
/** A byte count as onnx writes it: decimal digits only (no sign, space, hex, exponent). */
const DECIMAL = /^[0-9]+$/;

/**
 * The model as compile shares its external data (hard-linked into the output): Constants with
 * external data hoisted into initializers, and any other external tensor outside the main graph's
 * initializers (in a subgraph, or another attribute) refused: onnxruntime's checker refuses data
 * in a hard-linked file there.
 */
export function withLinkableExternalData(model: ModelProto, modelFile: string): ModelProto {
  const hoisted = hoistExternalConstants(model);
  const left = externalTensorsOutsideInitializers(hoisted);
  if (!left.length) return hoisted;
  throw new TgateError(
    'E_UNSUPPORTED_MODEL',
    `Tensor "${left[0]!.tensor}" (${left[0]!.where}) of ${modelFile} keeps its data in an external file${left.length > 1 ? ` (and ${left.length - 1} more tensor(s) outside the initializers)` : ''}: onnxruntime refuses such data once the file is hard-linked, and compile links the source's weights into its output.`,
    {
      subject: { file: modelFile, tensor: left[0]!.tensor },
      hint: 'Re-save the model with these tensors embedded (onnx.save_model(..., save_as_external_data=True, convert_attribute=False)); initializers and top-level Constant nodes may live in external data.',
    },
  );
}

/** The tensors outside the main graph's initializers that live in external data, with where each is. */
export function externalTensorsOutsideInitializers(model: ModelProto): { tensor: string; where: string }[] {
  const initializers = new Set(model.graph?.initializer ?? []);
  const found: { tensor: string; where: string }[] = [];
  forEachTensor(model, (t, where) => {
    if (t.dataLocation === TensorProto_DataLocation.EXTERNAL && !initializers.has(t)) found.push({ tensor: t.name, where: where() });
  });
  return found;
}

/**
 * The model with every main-graph Constant node whose `value` lives in external data turned into
 * an initializer of the same name (its output's), by reference into the same file. Why:
 * onnxruntime runs onnx's checker on the nodes of a subgraph, and the checker refuses external
 * data in a file with more than one hard link ("potential hardlink attack"); compile hard-links
 * the source's data into the output and puts each variant inside an If of the gated models, so
 * such a Constant could not load there. Initializers are not checked that way, and a Constant and
 * an initializer compute the same thing. Returns the model itself when there is none.
 */
export function hoistExternalConstants(model: ModelProto): ModelProto {
  const graph = model.graph;
  if (!graph) return model;
  const isExternalConstant = (n: NodeProto) =>
    n.opType === 'Constant' &&
    (n.domain === '' || n.domain === 'ai.onnx') &&
    n.output.length === 1 &&
    !!n.output[0] &&
    n.attribute.length === 1 &&
    n.attribute[0]!.name === 'value' &&
    n.attribute[0]!.t?.dataLocation === TensorProto_DataLocation.EXTERNAL;
  const hoisted = graph.node.filter(isExternalConstant);
  if (!hoisted.length) return model;
  const initializers = hoisted.map((n) => ({ ...n.attribute[0]!.t!, name: n.output[0]! }) as TensorProto);
  const newGraph = { ...graph, node: graph.node.filter((n) => !isExternalConstant(n)), initializer: [...graph.initializer, ...initializers] } as GraphProto;
  return { ...model, graph: newGraph } as ModelProto;
}

/**
 * The reference of a tensor stored in external data (null for an embedded one), checked against
 * what onnx writes and onnxruntime reads: each key once and known, a location, offset and length
 * in decimal digits, and a length equal to the tensor's size (dims x element size).
 */
export function externalRefOf(t: TensorProto, where: TensorWhere = () => 'initializer'): ExternalRef | null {
  if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) return null;
  const invalid = (what: string) =>
    new TgateError('E_EXTERNAL_DATA_INVALID', `Tensor "${t.name}" (${where()}) is marked external, but ${what}.`, {
      subject: { tensor: t.name },
      hint: 'Re-save the model with onnx.save_model(..., save_as_external_data=True), which writes location, offset and length in decimal.',
    });
  const entries = new Map<string, string>();
  for (const e of t.externalData) {
    if (!EXTERNAL_KEYS.has(e.key) && !e.key.startsWith('prepacked'))
      throw invalid(`its external_data has the key "${e.key}", which onnxruntime does not know (keys: location, offset, length, checksum)`);
    if (entries.has(e.key)) throw invalid(`its external_data gives "${e.key}" twice ("${entries.get(e.key)}" and "${e.value}")`);
    entries.set(e.key, e.value);
  }
  const num = (k: string): number | null => {
    const s = entries.get(k);
    if (s === undefined) return null;
    const n = Number(s);
    if (!DECIMAL.test(s) || !Number.isSafeInteger(n)) throw invalid(`its external-data ${k} "${s}" is not a byte count (decimal digits only)`);
    return n;
  };
  const location = entries.get('location') ?? '';
  const offset = num('offset') ?? 0;
  const length = num('length');
  let count = 1n;
  for (const d of t.dims) {
    if (d < 0n) throw invalid(`its dims [${t.dims.join(', ')}] hold a negative size`);
    count *= d;
  }
  const bytes = count > BigInt(Number.MAX_SAFE_INTEGER) ? null : exactTensorBytes(t.dataType, Number(count));
  if (bytes === null)
    throw invalid(
      `its size cannot be checked: ${t.dataType === DT.STRING ? 'string tensors cannot be stored externally' : count > BigInt(Number.MAX_SAFE_INTEGER) ? `its dims [${t.dims.join(', ')}] are too large` : `its element type ${dtypeName(t.dataType)} is unknown`}`,
    );
  if (length !== null && length !== bytes)
    throw invalid(`its external-data length ${length} is not its size: [${t.dims.join(', ')}] ${dtypeName(t.dataType)} is ${bytes} bytes`);
  return { tensor: t.name, location, offset, length: bytes };
}

export interface ExternalDataCheck {
  /**
   * false: a data file that does not exist is no error (inspect and diff read graphs, never
   * weights, and graphs are shipped without them); everything else is checked all the same.
   */
  requireFiles?: boolean;
}

/**
 * Validates every external reference of a model (every tensor forEachTensor visits) against the
 * model's folder using only lstat/stat: the bytes are never read. Returns the distinct data files.
 * A location that is absolute, escapes the folder or passes through a symlink is refused, unless
 * symlinkVerdict follows it (inside a Hugging Face cache snapshot, into the same repository);
 * so is a byte range beyond the file's end. Every loader calls this (loadSource for sources; the
 * compiled-folder checks for variant graphs).
 */
export function checkExternalData(model: ModelProto, modelDir: string, modelFile: string, o: ExternalDataCheck = {}): ExternalFile[] {
  const files = new Map<string, ExternalFile | null>();
  let realDir: string | null = null;
  let allowedRoot: string | null = null;
  forEachTensor(model, (t, where) => {
    const ref = externalRefOf(t, where);
    if (!ref) return;
    if (realDir === null) {
      realDir = fs.realpathSync(modelDir);
      // Where the data may resolve to: the model's folder, or its cache repository (blobs/) in a snapshot.
      allowedRoot = hfCacheRepoOf(realDir);
    }
    const file = checkDataFile(ref, where, files, modelDir, realDir, allowedRoot, modelFile, o.requireFiles ?? true);
    if (!file) return;
    const end = ref.offset + ref.length;
    if (end > file.size) {
      throw new TgateError(
        'E_EXTERNAL_DATA_INVALID',
        `Tensor "${t.name}" (${where()}) needs bytes ${ref.offset}..${end} of "${ref.location}", but the file has ${file.size} bytes: it is truncated or belongs to another model.`,
        {
          subject: { tensor: t.name, file: modelFile },
          hint: 'Use the data file saved together with this .onnx file.',
        },
      );
    }
  });
  return [...files.values()].filter((f): f is ExternalFile => f !== null);
}

/** The data file a reference names, checked once per location (lstat/stat only). */
function checkDataFile(
  ref: ExternalRef,
  where: TensorWhere,
  files: Map<string, ExternalFile | null>,
  modelDir: string,
  realDir: string,
  allowedRoot: string | null,
  modelFile: string,
  requireFiles: boolean,
): ExternalFile | null {
  const name = ref.tensor;
  const subject = { tensor: name, file: modelFile };
  const loc = ref.location;
  if (!loc)
    throw new TgateError('E_EXTERNAL_DATA_INVALID', `Tensor "${name}" (${where()}) is marked external but names no location.`, {
      subject,
      hint: 'Re-save the model with onnx.save_model(..., save_as_external_data=True).',
    });
  const known = files.get(loc);
  if (known !== undefined) return known;
  const segments = locationSegments(ref, where, subject);
  const missing = () =>
    new TgateError(
      'E_EXTERNAL_DATA_MISSING',
      `External data file "${loc}" of ${modelFile} (needed by tensor "${name}", ${where()}) does not exist in ${modelDir}.`,
      {
        subject,
        hint: 'Copy the data file that was saved with the model next to it, under the same name.',
      },
    );
  const cur = walkLocation(ref, segments, modelDir, subject);
  if (cur === null) {
    if (requireFiles) throw missing();
    files.set(loc, null);
    return null;
  }
  const st = statDataFile(cur, missing, ref, modelFile, subject);
  const real = fs.realpathSync(cur);
  if (allowedRoot ? !isInsideDir(real, fs.realpathSync(allowedRoot)) : !real.startsWith(realDir + path.sep)) {
    throw new TgateError('E_EXTERNAL_DATA_UNSAFE', `External data "${loc}" resolves outside the model's folder.`, { subject });
  }
  const file = { location: loc, path: real, size: st.size };
  files.set(loc, file);
  return file;
}

type RefSubject = { tensor: string; file: string };

/** The path components of a location, refused unless it is a plain relative path inside the folder. */
function locationSegments(ref: ExternalRef, where: TensorWhere, subject: RefSubject): string[] {
  const name = ref.tensor;
  const loc = ref.location;
  // Control characters (NUL above all: fs would throw) never name a data file onnx wrote.
  if (/[\u0000-\u001f\u007f]/.test(loc)) {
    throw new TgateError(
      'E_EXTERNAL_DATA_INVALID',
      `Tensor "${name}" (${where()}) names the external data ${JSON.stringify(loc)}, which holds control characters.`,
      { subject },
    );
  }
  const segments = loc.split(/[\\/]+/);
  if (path.isAbsolute(loc) || /^[a-zA-Z]:/.test(loc) || segments.includes('..')) {
    throw new TgateError(
      'E_EXTERNAL_DATA_UNSAFE',
      `Tensor "${name}" (${where()}) points at external data "${loc}", outside the model's folder; tgate refuses to read it.`,
      {
        subject,
        hint: "Put the data file next to the model and use a relative location inside the model's folder.",
      },
    );
  }
  return segments;
}

/**
 * The location's path under modelDir, or null when a component does not exist. Every component
 * must be a real entry inside the folder: a symlink could lead anywhere (followed only where
 * symlinkVerdict allows it: into the same Hugging Face cache repository).
 */
function walkLocation(ref: ExternalRef, segments: string[], modelDir: string, subject: RefSubject): string | null {
  let cur = modelDir;
  for (const seg of segments.filter((x) => x && x !== '.')) {
    cur = path.join(cur, seg);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      const verdict = symlinkVerdict(cur);
      if (!verdict.follow) {
        throw new TgateError(
          'E_EXTERNAL_DATA_UNSAFE',
          `External data "${ref.location}" of tensor "${ref.tensor}" goes through the symlink ${cur}: ${verdict.reason}; tgate refuses to follow it.`,
          {
            subject,
            hint: 'Replace the symlink with the real file (or a hard link) inside the model folder.',
          },
        );
      }
    }
  }
  return cur;
}

/** The data file's stat, through any followed link; it must exist and be a regular file. */
function statDataFile(cur: string, missing: () => TgateError, ref: ExternalRef, modelFile: string, subject: RefSubject): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(cur);
  } catch {
    throw missing();
  }
  if (!st.isFile()) throw new TgateError('E_EXTERNAL_DATA_INVALID', `External data "${ref.location}" of ${modelFile} is not a regular file.`, { subject });
  return st;
}

/** Little-endian bytes of an embedded tensor, or null when it cannot live in external data. */
export function tensorBytes(t: TensorProto): Uint8Array | null {
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL || t.dataType === DT.STRING) return null;
  if (t.rawData.length) return t.rawData;
  const pack = <T>(xs: T[], size: number, put: (dv: DataView, o: number, x: T) => void): Uint8Array => {
    const out = new Uint8Array(xs.length * size);
    const dv = new DataView(out.buffer);
    xs.forEach((x, i) => put(dv, i * size, x));
    return out;
  };
  switch (t.dataType) {
    case DT.FLOAT:
      return t.floatData.length ? pack(t.floatData, 4, (d, o, x) => d.setFloat32(o, x, true)) : null;
    case DT.DOUBLE:
      return t.doubleData.length ? pack(t.doubleData, 8, (d, o, x) => d.setFloat64(o, x, true)) : null;
    case DT.INT64:
      return t.int64Data.length ? pack(t.int64Data, 8, (d, o, x) => d.setBigInt64(o, x, true)) : null;
    case DT.UINT64:
    case DT.UINT32:
      return t.uint64Data.length
        ? pack(t.uint64Data, t.dataType === DT.UINT64 ? 8 : 4, (d, o, x) =>
            t.dataType === DT.UINT64 ? d.setBigUint64(o, x, true) : d.setUint32(o, Number(x), true),
          )
        : null;
    case DT.INT32:
      return t.int32Data.length ? pack(t.int32Data, 4, (d, o, x) => d.setInt32(o, x, true)) : null;
    case DT.UINT8:
    case DT.INT8:
    case DT.BOOL:
      return t.int32Data.length ? pack(t.int32Data, 1, (d, o, x) => d.setUint8(o, x & 0xff)) : null;
    case DT.UINT16:
    case DT.INT16:
    case DT.FLOAT16:
    case DT.BFLOAT16:
      return t.int32Data.length ? pack(t.int32Data, 2, (d, o, x) => d.setUint16(o, x & 0xffff, true)) : null;
    default:
      return null;
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

/** The tensor as stored in the weights file: same name, type and dims, data by reference. */
export function externalized(t: TensorProto, layout: WeightsLayout): TensorProto {
  const e = layout.entries.get(t.name);
  if (!e) return t;
  const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
  return {
    ...t,
    $typeName: TensorProtoSchema.typeName,
    rawData: new Uint8Array(0),
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringData: [],
    dataLocation: TensorProto_DataLocation.EXTERNAL,
    externalData: [entry('location', layout.location), entry('offset', String(e.offset)), entry('length', String(e.bytes.length))],
  } as TensorProto;
}
