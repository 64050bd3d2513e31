// A graph file of a compiled folder (a variant or a gated model), checked before tgate decodes it
// or hands its path to onnxruntime: the file through containedFile's rules (inside the folder, a
// regular file, at most protobuf's 2 GiB), its bytes an ONNX model, and every external-data
// reference it makes checked by checkExternalData (inside the graph's folder, a regular file,
// offset + length inside it: a truncated weights file is an error here, not a crash in
// onnxruntime), resolving inside the compiled folder and to a weights file tgate.json lists.
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../base/errors.js';
import type { Model } from '../ir/model.js';
import { containedFile, quoted, readContained } from './contained-file.js';
import { modelFromProto, parseModelProto } from './decode.js';
import { checkExternalData } from './external-data.js';
import { isInsideDir } from './links.js';

export interface CompiledGraphOptions {
  /** For messages: "variant planning", "gated model". */
  what: string;
  /** Where the name came from: "variants[0].file". */
  field?: string;
  /** The manifest's path (the subject when a name in it is bad). */
  manifest?: string;
  /** tgate.json's weightsFiles: the only files the graph's external data may resolve to. */
  weightsFiles?: string[];
}

export interface CompiledGraph {
  /** The resolved path: what onnxruntime is given (it resolves external data beside it, as checked). */
  path: string;
  /** The decoded graph (decoded on first call). */
  model: () => Model;
}

export function readCompiledGraph(root: string, name: string, o: CompiledGraphOptions): CompiledGraph {
  const { path: real, bytes } = readContained(root, name, {
    kind: 'graph',
    what: o.what,
    ...(o.field ? { field: o.field } : {}),
    ...(o.manifest ? { manifest: o.manifest } : {}),
  });
  const shown = path.join(root, name);
  const proto = parseModelProto(bytes, shown);
  const files = checkExternalData(proto, path.dirname(real), shown);
  const realRoot = fs.realpathSync(root);
  const listed = o.weightsFiles?.map(
    (w, i) =>
      containedFile(root, w, { kind: 'weights', what: 'weights file', field: `weightsFiles[${i}]`, ...(o.manifest ? { manifest: o.manifest } : {}) }).path,
  );
  for (const f of files) {
    if (!isInsideDir(f.path, realRoot)) {
      throw new TgateError(
        'E_EXTERNAL_DATA_UNSAFE',
        `The ${o.what} ${shown} references external data ${quoted(f.location)} outside the compiled folder ${root}.`,
        { subject: { file: shown }, hint: 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.' },
      );
    }
    if (listed && !listed.includes(f.path)) {
      throw new TgateError(
        'E_BAD_MANIFEST',
        `The ${o.what} ${shown} reads external data from ${quoted(f.location)}, which tgate.json does not list in weightsFiles.`,
        { subject: { file: o.manifest ?? shown }, hint: 'Recompile the model: tgate compile <model.onnx> -o <dir> --force.' },
      );
    }
  }
  let model: Model | null = null;
  return { path: real, model: () => (model ??= modelFromProto(proto)) };
}
