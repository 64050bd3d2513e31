// A GatedUNet whose steps run on a server: the stateful model `tgate export triton` wrote, loaded by
// Triton (or any KServe v2 server with implicit state), checked against the local compiled folder
// before anything runs. The export records the hash of the folder's tgate.json in the model's
// config parameters; a server model from another compile (other sites, other variants) is refused
// by name, never run with mismatched flags.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TgateError } from '../../base/errors.js';
import { MANIFEST_NAME, readManifest, type Manifest } from '../../build/manifest.js';
import { GatedUNet } from '../gated-unet.js';
import { statefulNames } from '../stateful-calls.js';
import { connectModel, type KServeOptions, type RemoteModel } from './kserve-client.js';

export const MANIFEST_HASH_PARAMETER = 'tgate.manifest_sha256';

export async function connectGatedUNet(dir: string, server: string, model: string, opts: KServeOptions = {}): Promise<GatedUNet> {
  // The local folder first: a bad folder is the user's to fix before any connection is made.
  const manifest = readManifest(dir);
  const remote = await connectModel(server, model, opts);
  try {
    await checkServedModel(dir, manifest, remote);
  } catch (e) {
    await remote.close();
    throw e;
  }
  return GatedUNet.remote(dir, remote);
}

/** The served model is the export of this folder: the same tgate.json by hash, and the stateful interface's names. */
export async function checkServedModel(dir: string, m: Manifest, remote: RemoteModel): Promise<void> {
  const where = `model "${remote.name}" at ${remote.url}`;
  const fix = `Export this folder (tgate export triton ${dir} -o <repository>) and load that repository into the server, or name the model exported from it with --model.`;
  const names = statefulNames(m);
  const want = [...m.source.inputs.map((i) => i.name), ...names.runFlags, ...names.keepFlags, ...(names.pairMean ? [names.pairMean] : [])];
  const have = new Set(remote.inputs.map((i) => i.name));
  const missing = want.filter((n) => !have.has(n));
  if (missing.length || !remote.outputs.some((o) => o.name === names.output))
    throw new TgateError(
      'E_REMOTE_MODEL_MISMATCH',
      `The ${where} is not the stateful model of ${dir}: ${missing.length ? `it has no input ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''}` : `it has no output ${names.output}`}.`,
      { hint: fix },
    );
  let config: Record<string, unknown>;
  try {
    config = await remote.config();
  } catch {
    // A server without Triton's model configuration extension: the interface check above is all there is.
    return;
  }
  const parameters = (config.parameters ?? {}) as Record<string, { string_value?: string; stringValue?: string } | undefined>;
  const served = parameters[MANIFEST_HASH_PARAMETER]?.string_value ?? parameters[MANIFEST_HASH_PARAMETER]?.stringValue;
  const ours = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(dir, MANIFEST_NAME)))
    .digest('hex');
  if (served !== ours)
    throw new TgateError(
      'E_REMOTE_MODEL_MISMATCH',
      served === undefined
        ? `The ${where} was not exported by tgate export triton (its config has no ${MANIFEST_HASH_PARAMETER} parameter).`
        : `The ${where} was exported from another compile than ${dir} (tgate.json sha256 ${served.slice(0, 12)}… on the server, ${ours.slice(0, 12)}… here).`,
      { hint: fix },
    );
}
