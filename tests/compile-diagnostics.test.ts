// What compile tells people when something is off, on the committed tiny UNet: --print-ir-after
// prints "(unchanged)" for a pass that changed nothing (once the graph was shown) and suggests the pass meant by a typo; a
// gated model whose branch lacks a site output fails the proof with a coded error naming the
// file, the branch and the site (the proof run for real in onnxruntime, on a request broken in
// that one way).
import fs from 'node:fs';
import path from 'node:path';
import { isTgateError } from '../base/errors.js';
import { compile } from '../build/compile.js';
import { proveArtifacts } from '../runtime/prove.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');

describe('compile --print-ir-after', () => {
  it('prints (unchanged) for a pass that changed nothing once the graph was printed, the graph otherwise', () => {
    const work = scratch();
    const r = tgate(['compile', TINY, '-o', path.join(work, 'a'), '--no-verify', '--print-ir-after', 'all']);
    expect(r.status).toBe(0);
    // fidelity-reuse-self cuts every site: expose-outputs has nothing to expose there, and it is the
    // first pass, so its graph is printed; prune-unused-inputs' later no-change is "(unchanged)".
    expect(r.stderr).toMatch(/--- IR of fidelity-reuse-self after expose-outputs: no change\ngraph "fidelity-reuse-self" \{\n/);
    // A pass that changed the graph prints it.
    expect(r.stderr).toMatch(/--- IR of planning after expose-outputs: outputsAdded 4\ngraph "planning" \{\n/);
    const unchanged = r.stderr.match(/--- IR of [^\n]* after [^\n]*: no change\n\(unchanged\)\n/g) ?? [];
    expect(unchanged.length).toBeGreaterThan(0);
    // Asked for one pass only, a no-change pass still shows its graph: nothing was printed before it.
    const one = tgate(['compile', TINY, '-o', path.join(work, 'b'), '--no-verify', '--print-ir-after', 'expose-outputs']);
    expect(one.status).toBe(0);
    expect(one.stderr).toMatch(/--- IR of fidelity-reuse-self after expose-outputs: no change\ngraph "fidelity-reuse-self" \{\n/);
    expect(one.stderr).not.toContain('(unchanged)');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('suggests the pass a typo meant, and lists the passes', () => {
    const r = tgate(['compile', TINY, '-o', path.join(scratch(), 'b'), '--print-ir-after', 'dead-code-elimnation']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /not "dead-code-elimnation"\.\n.*Did you mean dead-code-elimination\? .*expose-outputs, cut-at-values, dead-code-elimination, prune-unused-inputs, all\./,
    );
    const far = tgate(['compile', TINY, '-o', path.join(scratch(), 'c'), '--print-ir-after', 'xyz']);
    expect(far.status).toBe(2);
    expect(far.stderr).not.toMatch(/Did you mean/);
    expect(far.stderr).toMatch(/expose-outputs, cut-at-values, dead-code-elimination, prune-unused-inputs, all\./);
  });
});

describe('the proof of a gated model', () => {
  it('refuses a branch that does not output a site its variant computes, naming file, branch and site', async () => {
    const work = scratch();
    let lost = '';
    const run = compile(TINY, {
      outDir: path.join(work, 'out'),
      // The request as compile makes it, but gated.onnx's planning branch claims no site outputs.
      prover: (req) => {
        lost = req.cached[0]!.id;
        const gated = req.gated.map((g) =>
          g.file === 'gated.onnx' ? { ...g, variants: g.variants.map((v) => (v.name === 'planning' ? { ...v, siteOutputs: {} } : v)) } : g,
        );
        return proveArtifacts({ ...req, gated });
      },
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isTgateError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'E_VERIFY_FAILED' });
    expect((err as Error).message).toMatch(new RegExp(`^gated\\.onnx: the planning branch does not output site ${lost.replace('.', '\\.')} \\(`));
    expect((err as Error).message).not.toMatch(/missing/);
    // Nothing was left behind: the staged output is discarded.
    expect(fs.existsSync(path.join(work, 'out'))).toBe(false);
    fs.rmSync(work, { recursive: true, force: true });
  });
});
