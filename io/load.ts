// Reading a source model from disk: existence and kind checks with clear errors, the bytes'
// sha256, and its external data checked (never read): every tensor's, wherever it lives
// (external-data.ts), before any command looks at the model. The parsed protobuf stays inside
// io/: callers get a LoadedModel that decodes to the IR, lays out its embedded weights, and makes
// its external data linkable, so no layer above ever touches a ModelProto.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ModelProto } from 'onnx-buf';
import { TgateError } from '../base/errors.js';
import type { Model } from '../ir/model.js';
import { modelFromProto, parseModelProto } from './decode.js';
import { checkExternalData, withLinkableExternalData, type ExternalDataCheck, type ExternalFile, type WeightsLayout } from './external-data.js';
import { layoutInlineWeights } from './inline-weights.js';

/** A model read from disk, its protobuf kept private to io/. */
export class LoadedModel {
  readonly #proto: ModelProto;

  constructor(
    readonly path: string,
    readonly sha256: string,
    proto: ModelProto,
    /** The distinct external data files its tensors reference, checked (checkExternalData). */
    readonly externalFiles: ExternalFile[],
  ) {
    this.#proto = proto;
  }

  /** A fresh IR model on every call: passes mutate the one they get, the next caller gets its own. */
  decode(): Model {
    return modelFromProto(this.#proto);
  }

  /** The weights the model holds inside itself (no external data), laid out for one external file at `location`. */
  inlineWeights(location: string): WeightsLayout {
    return layoutInlineWeights(this.#proto, location);
  }

  /**
   * The model as compile shares its external data (hard-linked into the output): Constants with
   * external data made initializers; refused when other tensors outside the initializers keep
   * external data (io/external-data.ts says why). Same file, hash and external files.
   */
  withLinkableExternalData(): LoadedModel {
    return new LoadedModel(this.path, this.sha256, withLinkableExternalData(this.#proto, this.path), this.externalFiles);
  }
}

/** protobuf's limit on one message: an .onnx file is never larger. */
const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

/**
 * `externalData.requireFiles: false` for commands that never read weights (inspect, diff): data
 * files may be absent, every reference is checked all the same.
 */
export function loadSource(file: string, opts: { externalData?: ExternalDataCheck } = {}): LoadedModel {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new TgateError('E_FILE_MISSING', `Model file ${file} does not exist.`, {
      subject: { file },
      hint: 'Check the path; tgate takes the .onnx file of an exported model.',
    });
  }
  if (st.isDirectory()) {
    throw new TgateError('E_FILE_MISSING', `${file} is a folder, not a model file.`, {
      subject: { file },
      hint: 'Pass the .onnx file inside it (e.g. model.onnx).',
    });
  }
  // A device or FIFO would be read forever (or block); protobuf caps a message at 2 GiB, so a
  // larger .onnx file cannot be a model (big models keep their weights in external data).
  if (!st.isFile()) {
    throw new TgateError('E_NOT_ONNX', `${file} is not a regular file (a device, FIFO or socket), so it is not a model.`, {
      subject: { file },
      hint: 'Pass the .onnx file of an exported model.',
    });
  }
  if (st.size > MAX_MODEL_FILE_BYTES) {
    throw new TgateError('E_NOT_ONNX', `${file} has ${st.size} bytes, more than the 2 GiB a protobuf message (an .onnx file) can hold.`, {
      subject: { file },
      hint: 'Save a large model with its weights in external data (onnx.save_model(..., save_as_external_data=True)).',
    });
  }
  const bytes = fs.readFileSync(file);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const proto = parseModelProto(bytes, file);
  const externalFiles = checkExternalData(proto, path.dirname(path.resolve(file)), file, opts.externalData);
  return new LoadedModel(file, sha256, proto, externalFiles);
}
