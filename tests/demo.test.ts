// The model that draws (fixtures/models/shapes, trained by fixtures/export/shapes_model.py):
// its tokenizer and oracle, `tgate demo` end to end, `tgate calibrate`, and the attention
// convergence record the demo plots.
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { compile } from '../compiler/compile.js';
import { readManifest } from '../compiler/manifest.js';
import { GatedUNet } from '../runtime/gated-unet.js';
import { labelsOf, readVocabulary, ShapeClassifier, TextEncoder, tokenize } from '../runtime/text-model.js';
import { gridPng } from '../cli/image-grid.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const MODEL = path.join(ROOT, 'fixtures/models/shapes');

describe('the demo model', () => {
  it('ships under 20 MB with its vocabulary, scheduler config and training record', () => {
    const files = fs.readdirSync(MODEL).sort();
    expect(files).toEqual(['classifier.onnx', 'scheduler_config.json', 'text_encoder.onnx', 'training.json', 'unet.onnx', 'vocab.json']);
    const total = files.reduce((a, f) => a + fs.statSync(path.join(MODEL, f)).size, 0);
    expect(total).toBeLessThan(20 * 1024 * 1024);
    const training = JSON.parse(fs.readFileSync(path.join(MODEL, 'training.json'), 'utf8'));
    expect(training.classifier.accuracy_on_2000_clean_images.all).toBeGreaterThan(0.98);
    expect(training.training.seconds).toBeLessThan(3600);
  });

  it('tokenizes prompts and refuses words outside the vocabulary, listing it', () => {
    const v = readVocabulary(MODEL);
    expect(tokenize(v, 'a red circle on the left')).toHaveLength(v.max_tokens);
    expect(tokenize(v, '').every((t) => t === v.pad)).toBe(true);
    expect(() => tokenize(v, 'a red elephant on the left')).toThrow(/outside the model's vocabulary: elephant/);
    try {
      tokenize(v, 'a pink circle');
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/The vocabulary: a, red, green, blue, yellow, purple, circle, square, triangle/);
    }
    expect(labelsOf(v, 'a blue square at the top')).toEqual({ color: 'blue', shape: 'square', position: 'top' });
    expect(labelsOf(v, 'a blue square')).toBeNull();
  });

  it('the text encoder and the oracle run; the oracle reads rendered-like images', async () => {
    const text = await TextEncoder.load(MODEL);
    const e = await text.encode('a green triangle in the center', 2);
    expect(e.dims).toEqual([2, 8, 64]);
    const empty = await text.encode('', 1);
    expect(Array.from(e.data.subarray(0, 64))).not.toEqual(Array.from(empty.data.subarray(0, 64)));
    await text.release();
    const oracle = await ShapeClassifier.load(MODEL);
    // A flat red disc on the left of a light background, drawn here.
    const img = new Float32Array(3 * 32 * 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      const inside = (x - 9) ** 2 + (y - 16) ** 2 <= 36;
      const rgb = inside ? [220, 45, 45] : [235, 235, 235];
      for (let c = 0; c < 3; c++) img[c * 1024 + y * 32 + x] = rgb[c]! / 127.5 - 1;
    }
    expect(await oracle.classify(img, 1)).toEqual([{ color: 'red', shape: 'circle', position: 'left' }]);
    await oracle.release();
  });
});

describe('images and convergence', () => {
  it('gridPng lays out rows x columns, scaled, as a real PNG', () => {
    const red = new Float32Array(3 * 4).fill(-1);
    red.fill(1, 0, 4);
    const png = PNG.sync.read(gridPng([[{ data: red, size: 2 }, { data: red, size: 2 }]], 3, 1));
    expect([png.width, png.height]).toEqual([1 + 2 * (6 + 1), 1 + 6 + 1]);
    const at = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 4));
    expect(at(1, 1)).toEqual([255, 0, 0, 255]);
    expect(at(0, 0)).toEqual([255, 255, 255, 255]);
  });

  it('recordAttention gives one change per step after the first, for both kinds', async () => {
    const dir = path.join(scratch(), 'c');
    await compile(path.join(MODEL, 'unet.onnx'), { outDir: dir, prover: null });
    const unet = await GatedUNet.load(dir);
    const z = (dims: number[], s: number) => ({ data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.7 + s)), dims });
    const r = await unet.generate({ latents: z([1, 3, 32, 32], 1), cond: { encoder_hidden_states: z([1, 8, 64], 2) }, uncond: { encoder_hidden_states: z([1, 8, 64], 3) }, steps: 6, gateStep: 99, tgate: { version: 1 }, guidance: 7.5, recordAttention: true });
    expect(r.attentionChange.map((c) => c.k)).toEqual([1, 2, 3, 4, 5]);
    for (const c of r.attentionChange) {
      expect(c.cross).toBeGreaterThan(0);
      expect(c.self).toBeGreaterThan(0);
    }
    await unet.release();
  });
});

describe('tgate demo and tgate calibrate', () => {
  it('demo: compiles the shipped model, draws baseline / v1 / v2, writes the grid, the plot and the reports', () => {
    const out = path.join(scratch(), 'demo');
    const r = tgate(['demo', '-o', out, '--samples', '2', '--steps', '12', '--gate-step', '5', '--json']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.prompts).toHaveLength(5);
    for (const m of ['baseline', 'v1', 'v2']) {
      expect(rep.modes[m].seconds).toBeGreaterThan(0);
      expect(rep.modes[m].adherence.samples).toBe(10);
    }
    expect(rep.modes.baseline.pixelDifference).toBe(0);
    expect(rep.modes.v1.pixelDifference).toBeGreaterThan(0);
    expect(rep.convergence).toHaveLength(11);
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'grid.png')));
    expect([png.width, png.height]).toEqual([6 + 3 * (128 + 6), 6 + 5 * (128 + 6)]);
    expect(fs.readFileSync(path.join(out, 'convergence.svg'), 'utf8')).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/\| v2 \| [\d.]+ \| [\d.]+x \| [\d.]+ % \|/);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/<img alt="grid" src="data:image\/png;base64,/);
  });

  it('calibrate on a model file works in a temporary folder and records nothing', () => {
    const work = scratch();
    const r = tgate(['calibrate', path.join(MODEL, 'unet.onnx'), '--steps', '6', '--samples', '1'], work);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/not recorded: compile the model and calibrate the folder to keep it|No gate step keeps/);
    expect(fs.readdirSync(MODEL).sort()).toEqual(['classifier.onnx', 'scheduler_config.json', 'text_encoder.onnx', 'training.json', 'unet.onnx', 'vocab.json']);
  });

  it('demo --prompt draws one prompt; an unknown word is refused with the vocabulary', () => {
    const out = path.join(scratch(), 'one');
    const r = tgate(['demo', '-o', out, '--prompt', 'a blue square at the top', '--samples', '1', '--steps', '8', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).prompts).toEqual(['a blue square at the top']);
    const bad = tgate(['demo', '-o', out, '--prompt', 'a blue dog']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/outside the model's vocabulary: dog[\s\S]*The vocabulary: a, red, green/);
  });

  it('calibrate: a curve per gate step, the earliest within tolerance recommended and written', async () => {
    const dir = path.join(scratch(), 'cal');
    await compile(path.join(MODEL, 'unet.onnx'), { outDir: dir, prover: null });
    const dry = JSON.parse(tgate(['calibrate', dir, '--steps', '10', '--samples', '2', '--text-model', MODEL, '--dry-run', '--json']).stdout);
    expect(readManifest(dir).calibration).toBeUndefined();
    const r = tgate(['calibrate', dir, '--steps', '10', '--samples', '2', '--tolerance', '0.05', '--text-model', MODEL, '--json']);
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.points.map((p: { gateStep: number }) => p.gateStep)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const first = c.points.find((p: { deviation: number }) => p.deviation <= 0.05);
    expect(c.recommended).toBe(first.gateStep);
    for (const p of c.points) expect(p.adherence).not.toBeNull();
    // Later gate steps gate less: the predicted speed-up falls as the gate moves later.
    expect(c.points[0].predictedSpeedup).toBeGreaterThan(c.points[8].predictedSpeedup);
    expect(c.recommended).toBe(dry.recommended);
    const m = readManifest(dir);
    expect(m.schedule.gateStep).toBe(c.recommended);
    expect(m.calibration).toMatchObject({ tolerance: 0.05, recommended: c.recommended });
    // The runtime takes the calibrated gate step as its default.
    const run = JSON.parse(tgate(['run', dir, '--steps', '10', '--height', '256', '--width', '256', '--json']).stdout);
    expect(run.gateStep).toBe(c.recommended);
  });
});
