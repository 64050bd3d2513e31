// npm run fixtures: rewrites fixtures/models/* from their builders.
import fs from 'node:fs';
import path from 'node:path';
import { modelsDir, writeCommittedModels } from '../fixtures/generate.js';
import { BUILT_WITH, PIXART_ORT_FILE, pixartOrtBytes } from '../fixtures/pixart-ort.js';
import ort from '../runtime/ort.js';

for (const p of writeCommittedModels()) process.stdout.write(`wrote ${p}\n`);
// Written by onnxruntime itself, from the committed PyTorch export (fixtures/pixart-ort.ts).
const ortModel = path.join(modelsDir(), PIXART_ORT_FILE);
fs.writeFileSync(ortModel, await pixartOrtBytes(modelsDir()));
process.stdout.write(`wrote ${ortModel} (onnxruntime ${ort.env.versions.node}${ort.env.versions.node === BUILT_WITH ? '' : `; update BUILT_WITH in fixtures/pixart-ort.ts from ${BUILT_WITH}`})\n`);
