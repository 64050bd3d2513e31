// Compiling code-built models into scratch folders for runtime tests.
import path from 'node:path';
import { compile } from '../../build/compile.js';
import type { TinyUnetOptions } from '../../fixtures/tiny-unet.js';
import { proveArtifacts } from '../../runtime/prove.js';
import { writeTinyUnet } from './models.js';
import { scratch } from './paths.js';

export async function compiledTinyUnet(opts: TinyUnetOptions = {}): Promise<{ dir: string; source: string }> {
  const work = scratch('tgate-rt-');
  const source = writeTinyUnet(path.join(work, 'src'), opts);
  const dir = path.join(work, 'out');
  await compile(source, { outDir: dir, prover: (r) => proveArtifacts(r) });
  return { dir, source };
}
