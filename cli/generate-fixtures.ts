// npm run fixtures: rewrites fixtures/models/* from their builders.
import { writeCommittedModels } from '../fixtures/generate.js';

for (const p of writeCommittedModels()) process.stdout.write(`wrote ${p}\n`);
