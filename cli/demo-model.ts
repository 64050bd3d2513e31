// Where the demo model ships: fixtures/models/shapes beside dist/ (a path of its own so that
// `tgate --help` can show it without loading the demo's code).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/models/shapes');
