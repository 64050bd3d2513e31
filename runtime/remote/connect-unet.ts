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
  return (await connectStateful(dir, server, model, opts)).unet;
}

/** The GatedUNet and the server's config of its model (whose parameters name the exported companions). */
export async function connectStateful(
  dir: string,
  server: string,
  model: string,
  opts: KServeOptions = {},
): Promise<{ unet: GatedUNet; parameters: Record<string, string> }> {
  // The local folder first: a bad folder is the user's to fix before any connection is made.
  const manifest = readManifest(dir);
  const remote = await connectModel(server, model, opts);
  let parameters: Record<string, string>;
  try {
    parameters = await checkServedModel(dir, manifest, remote);
  } catch (e) {
    await remote.close();
    throw e;
  }
  return { unet: GatedUNet.remote(dir, remote), parameters };
}

/**
 * The served model is the export of this folder: the same tgate.json by hash, and the stateful
 * interface's names. Returns the config's string parameters ({} without the config extension).
 */
export async function checkServedModel(dir: string, m: Manifest, remote: RemoteModel): Promise<Record<string, string>> {
  const where = `model "${remote.name}" at ${remote.url}`;
  const fix = `Export this folder (tgate export triton ${dir} -o <repository>) and load that repository into the server, or name the model exported from it with --model.`;
  const names = statefulNames(m);
  const want = [...m.source.inputs.map((i) => i.name), ...names.flags.all];
  const have = new Set(remote.inputs.map((i) => i.name));
  const missing = want.filter((n) => !have.has(n));
  if (missing.length || !remote.outputs.some((o) => o.name === names.output))
    throw new TgateError(
      'E_REMOTE_MODEL_MISMATCH',
      `The ${where} is not the stateful model of ${dir}: ${missing.length ? `it has no input ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (and ${missing.length - 3} more)` : ''}` : `it has no output ${names.output}`}.`,
      { hint: fix },
    );
  // A server without Triton's model configuration extension: the interface check above is all
  // there is. Any other failure to read the config stops here (never an unchecked run).
  const config = await remote.config();
  if (config === null) return {};
  const raw = (config.parameters ?? {}) as Record<string, { string_value?: string; stringValue?: string } | undefined>;
  // Triton's config JSON spells the field string_value (protobuf's JSON printer with preserved names); accept stringValue too.
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const text = v?.string_value ?? v?.stringValue;
    if (typeof text === 'string') parameters[k] = text;
  }
  const served = parameters[MANIFEST_HASH_PARAMETER];
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
  return parameters;
}
