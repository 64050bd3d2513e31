// `tgate generate --server`: a compiled pipeline whose models run on a server that serves its
// export (tgate export triton): the UNet's steps on the stateful model, checked against the local
// tgate.json (connect-unet.ts), and the text encoder(s) and VAE decoder on the plain models the
// UNet's config names (tgate.text_encoder, tgate.text_encoder_2, tgate.vae_decoder). The tokenizer
// and the scheduler run here, from the local folder.
import type { GatedUNet } from '../gated-unet.js';
import type { ModelSession } from '../session.js';
import { connectStateful } from './connect-unet.js';
import { connectModel, type KServeOptions } from './kserve-client.js';
import { remoteSession, type RemoteSessionStats } from './remote-session.js';

export interface RemotePipeline {
  unet: GatedUNet;
  textEncoder?: ModelSession;
  textEncoder2?: ModelSession;
  vaeDecoder?: ModelSession;
  /** The component models' requests and bytes (the UNet's are its GenerateResult.wire). */
  components: RemoteSessionStats;
  /** Which models ran where: the server's model names. */
  models: Record<string, string>;
}

const COMPANIONS = [
  ['textEncoder', 'tgate.text_encoder'],
  ['textEncoder2', 'tgate.text_encoder_2'],
  ['vaeDecoder', 'tgate.vae_decoder'],
] as const;

export async function connectPipeline(dir: string, server: string, model: string, opts: KServeOptions = {}): Promise<RemotePipeline> {
  const { unet, parameters } = await connectStateful(dir, server, model, opts);
  const components: RemoteSessionStats = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  const r: RemotePipeline = { unet, components, models: { unet: model } };
  try {
    for (const [key, parameter] of COMPANIONS) {
      const name = parameters[parameter];
      if (!name) continue;
      r[key] = remoteSession(await connectModel(server, name, opts), components);
      r.models[key] = name;
    }
  } catch (e) {
    await unet.release();
    throw e;
  }
  return r;
}
