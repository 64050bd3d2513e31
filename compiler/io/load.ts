// Reading a source model from disk: existence and kind checks with clear errors, the bytes'
// sha256, and the parsed proto. External data is checked, never read (external-data.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ModelProto } from 'onnx-buf';
import { TgateError } from '../errors.js';
import { parseModelProto } from './decode.js';

export interface LoadedSource {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  proto: ModelProto;
}

export function loadSource(file: string): LoadedSource {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new TgateError('E_FILE_MISSING', `Model file ${file} does not exist.`, { subject: { file }, hint: 'Check the path; tgate takes the .onnx file of an exported model.' });
  }
  if (st.isDirectory()) {
    throw new TgateError('E_FILE_MISSING', `${file} is a folder, not a model file.`, { subject: { file }, hint: 'Pass the .onnx file inside it (e.g. model.onnx).' });
  }
  const bytes = fs.readFileSync(file);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  return { path: file, bytes, sha256, proto: parseModelProto(bytes, file) };
}
