import fc from 'fast-check';
import { ARBITRARIES, BASELINES } from '/tmp/fz-snap/dist/tests/fuzz/arbitraries.js';
import { commandLine, describeMutation } from '/tmp/fz-snap/dist/tests/fuzz/report.js';
const seed = Number(process.argv[2]); const per = Number(process.argv[3]);
const groups = Object.keys(ARBITRARIES);
const cases = [...(process.argv[4] ? BASELINES : []), ...groups.flatMap((g, k) => fc.sample(ARBITRARIES[g], { seed: seed + k, numRuns: per }))];
cases.forEach((c, i) => console.log(i + 1, c.group, commandLine(c), c.mutations.map(describeMutation).join(' ;; '), c.interrupt ? JSON.stringify(c.interrupt) : ''));
