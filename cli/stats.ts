// Medians for the measuring commands (bench, calibrate): robust to the odd slow run (runtime/median.ts).

export { median } from '../runtime/median.js';
