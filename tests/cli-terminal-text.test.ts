// Item 12 of issue 12: a model's names and producer string, and messages quoting them, reach the
// terminal escaped (no clear-screen, window title or line rewrite from data), in every text
// output of every command and in errors; JSON stays valid and keeps the exact names. And tgate's
// own sequences (progress rewrites, the diff's colours) still work, only on a terminal.
import fs from 'node:fs';
import path from 'node:path';
import { encodeModelSpec, type ModelSpec } from '../fixtures/model-spec.js';
import { tinyUnetSpec } from '../fixtures/tiny-unet.js';
import { configureReporting, note, progressBar, warn } from '../cli/reporter.js';
import { escapeControls, paint, renderTerminalText, sequence } from '../cli/terminal-text.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const TINY = path.join(ROOT, 'fixtures/models/tiny-unet.onnx');
// Set the window title, clear the screen, ring the bell, return to the line start; 8-bit CSI,
// DEL, and a right-to-left override.
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\r\u0007\u009b31m\u007f\u202e';
/** Any control character but the newline (C0, DEL, C1) or a bidirectional override. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** The tiny UNet with every node and value name and the producer made hostile. */
function hostileSpec(): ModelSpec {
  const spec = tinyUnetSpec();
  const h = (s: string) => (s ? `${s}${HOSTILE}` : s);
  return {
    ...spec,
    producer: `exporter${HOSTILE}`,
    inputs: spec.inputs.map((v) => ({ ...v, name: h(v.name) })),
    outputs: spec.outputs.map((v) => ({ ...v, name: h(v.name) })),
    initializers: spec.initializers.map((t) => ({ ...t, name: h(t.name) })),
    nodes: spec.nodes.map((n) => ({ ...n, name: h(n.name ?? ''), inputs: n.inputs.map(h), outputs: n.outputs.map(h) })),
  };
}

function expectClean(r: { stdout: string; stderr: string }, what: string): void {
  for (const [stream, text] of [
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ] as const) {
    const m = RAW_CONTROL.exec(text);
    if (m)
      throw new Error(
        `${what}: raw U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} on ${stream} at ${m.index}: ${JSON.stringify(text.slice(Math.max(0, m.index - 40), m.index + 40))}`,
      );
  }
}

describe('control characters from models never reach the terminal raw', () => {
  const work = scratch();
  const model = path.join(work, 'hostile.onnx');
  fs.writeFileSync(model, encodeModelSpec(hostileSpec()));

  it('inspect: text escaped, JSON valid with the exact names', () => {
    const text = tgate(['inspect', model, '--explain']);
    expect(text.status).toBe(0);
    expectClean(text, 'inspect');
    // The data is there, visibly escaped.
    expect(text.stdout).toContain('exporter\\u001b]0;pwned\\u0007\\u001b[2J\\u000d\\u0007\\u009b31m\\u007f\\u202e');
    const json = tgate(['inspect', model, '--json']);
    expectClean(json, 'inspect --json');
    const r = JSON.parse(json.stdout);
    expect(r.producer).toBe(`exporter${HOSTILE}`);
    expect(r.inputs[0].name).toBe(`sample${HOSTILE}`);
  });

  it('diff and compile print names escaped', () => {
    const diff = tgate(['diff', TINY, model]);
    expect(diff.status).toBe(0);
    expectClean(diff, 'diff');
    expect(diff.stdout).toContain('sample\\u001b]0;pwned');
    const compile = tgate(['compile', model, '-o', path.join(work, 'out'), '-v']);
    expectClean(compile, 'compile');
    expect(compile.status).toBe(0);
    expect(compile.stdout).toContain('input encoder_hidden_states\\u001b]0;pwned');
    const folder = tgate(['diff', path.join(work, 'out')]);
    expectClean(folder, 'diff of the compiled folder');
  });

  it('errors quoting names and paths are escaped too (text and JSON)', () => {
    const shape = tgate(['inspect', model, '--shape', 'nosuch=1x2']);
    expect(shape.status).toBe(2);
    expectClean(shape, 'inspect --shape error');
    expect(shape.stderr).toMatch(/--shape names nosuch, which is not an input \(inputs: sample\\u001b/);
    const missing = path.join(work, `missing${HOSTILE}.onnx`);
    const r = tgate(['inspect', missing, '--json']);
    expect(r.status).toBe(3);
    expectClean(r, 'missing file');
    expect(JSON.parse(r.stdout).error.subject.file).toBe(missing);
    const option = tgate(['inspect', model, `--x${HOSTILE}`]);
    expect(option.status).toBe(2);
    expectClean(option, 'unknown option');
  });
});

describe('the terminal sink and the progress policy', () => {
  it('escapes data, and turns only tgate-made markers into sequences, only on a terminal', () => {
    expect(escapeControls('a\u001b[2Jb\nc\td')).toBe('a\\u001b[2Jb\nc\\u0009d');
    const text = `${paint('red', `- ${HOSTILE}`)}\n`;
    expect(renderTerminalText(text, true)).toBe(`\u001b[31m- ${escapeControls(HOSTILE)}\u001b[0m\n`);
    expect(renderTerminalText(text, false)).toBe(`- ${escapeControls(HOSTILE)}\n`);
    // A marker's text without the process's token is data: printed as it is, never a sequence.
    const forged = sequence('clearLine').replace(/^\uf8ff[0-9a-f]+/, '\uf8ff000000000000000000000000');
    expect(renderTerminalText(forged, true)).toBe(forged);
  });

  function fakeStderr(isTTY: boolean) {
    const chunks: string[] = [];
    const stream = { isTTY, columns: 120, write: (s: string) => chunks.push(renderTerminalText(s, isTTY)) > 0 };
    return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
  }

  it('progress rewrites one line on a terminal and erases it; nothing in a pipe unless --verbose; --quiet silences notes', () => {
    const tty = fakeStderr(true);
    configureReporting({ quiet: false, verbose: false }, tty.stream);
    const bar = progressBar('tgate: calibrating', 3, tty.stream);
    bar.tick(1, 'gate step 1');
    warn('printed over the bar');
    bar.tick(2, 'gate step 2');
    bar.end();
    // The bar, erased for the warning and drawn again below it, updated, erased at the end.
    expect(tty.text()).toMatch(
      /^\r\[#{8}\.{16}\] tgate: calibrating 1\/3 gate step 1 \(\d+\.\d s\)\u001b\[K\r\u001b\[Ktgate: warning: printed over the bar\n\r\[#{8}\.{16}\] [^\r]*1\/3[^\r]*\r\[#{16}\.{8}\] [^\r]*2\/3[^\r]*\u001b\[K\r\u001b\[K$/,
    );
    const pipe = fakeStderr(false);
    configureReporting({ quiet: false, verbose: false }, pipe.stream);
    progressBar('tgate: calibrating', 3, pipe.stream).tick(1);
    note('a seeded stand-in');
    expect(pipe.text()).toBe('tgate: note: a seeded stand-in\n');
    const verbose = fakeStderr(false);
    configureReporting({ quiet: false, verbose: true }, verbose.stream);
    progressBar('tgate: calibrating', 3, verbose.stream).tick(1);
    expect(verbose.text()).toMatch(/^tgate: calibrating 1\/3 \(\d+\.\d s\)\n$/);
    const quiet = fakeStderr(true);
    configureReporting({ quiet: true, verbose: true }, quiet.stream);
    progressBar('x', 3, quiet.stream).tick(1);
    note('not shown');
    warn('shown');
    expect(quiet.text()).toBe('tgate: warning: shown\n');
  });
});
