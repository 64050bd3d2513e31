// The model that draws (fixtures/models/shapes, trained by fixtures/export/shapes_model.py), laid
// out as a diffusers pipeline folder: its layout and word-level tokenizer (the ids training used),
// its oracle, the pipeline path the demo takes, the labelled grid, `tgate demo` end to end and
// `tgate calibrate` with --text-model.
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { compile } from '../build/compile.js';
import { readPipeline } from '../io/pipeline-folder.js';
import { readManifest } from '../build/manifest.js';
import { GatedPipeline } from '../runtime/pipeline/gated-pipeline.js';
import { loadTokenizer } from '../runtime/tokenizer/index.js';
import { allPrompts, labelsOf, readLabels, ShapeClassifier, TextEncoder } from '../runtime/text-model.js';
import { DEMO_PROMPTS } from '../cli/demo-command.js';
import { gridLayout, gridPng, wrapText, type GridImage } from '../cli/image-grid.js';
import { tgate } from './helpers/cli.js';
import { ROOT, scratch } from './helpers/paths.js';

const MODEL = path.join(ROOT, 'fixtures/models/shapes');
const FILES = [
  'classifier/labels.json',
  'classifier/model.onnx',
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/model.onnx',
  'tokenizer/tokenizer.json',
  'tokenizer/tokenizer_config.json',
  'training.json',
  'unet/config.json',
  'unet/model.onnx',
];
const HEADINGS = ['baseline', 'TGATE v1', 'TGATE v2'];

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/**
 * The tokenizer the model was trained with (shapes_model.py's tokenize(), and the demo's before
 * the pipeline folder): lower-cased words split on whitespace, each its index in VOCAB, padded
 * with 0 (<pad>) to 8.
 */
const TRAINING_VOCAB = [
  '<pad>',
  'a',
  'red',
  'green',
  'blue',
  'yellow',
  'purple',
  'circle',
  'square',
  'triangle',
  'on',
  'the',
  'at',
  'in',
  'left',
  'right',
  'top',
  'bottom',
  'center',
];
function trainingIds(prompt: string): number[] {
  const ids = prompt
    .trim()
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => TRAINING_VOCAB.indexOf(w));
  if (ids.includes(-1)) throw new Error(`not a training prompt: ${prompt}`);
  return [...ids, ...Array(8 - ids.length).fill(0)];
}

/** Pixels dark enough to be text (the ink is rgb(32, 32, 32); images here are bright). */
function darkIn(png: PNG, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const o = 4 * (y * png.width + x);
      if (png.data[o]! < 100 && png.data[o + 1]! < 100 && png.data[o + 2]! < 100) n++;
    }
  return n;
}

function pixel(png: PNG, x: number, y: number): number[] {
  return Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 4));
}

/** The labels of a grid: ink above every column and left of every row, none in the gutters around. */
function expectLabels(png: PNG, g: ReturnType<typeof gridLayout>, rows: number, cols: number): void {
  expect(g.headHeight).toBeGreaterThan(0);
  expect(g.titleWidth).toBeGreaterThan(0);
  for (let c = 0; c < cols; c++) {
    const { x } = g.cellAt(0, c);
    expect(darkIn(png, x, 0, x + g.cell, g.headHeight)).toBeGreaterThan(20);
  }
  for (let r = 0; r < rows; r++) {
    const { y } = g.cellAt(r, 0);
    expect(darkIn(png, 0, y, g.titleWidth, y + g.cell)).toBeGreaterThan(40);
  }
  // Nothing is drawn above the title column or in the gap between the titles and the first column.
  expect(darkIn(png, 0, 0, g.titleWidth, g.headHeight)).toBe(0);
  expect(darkIn(png, g.titleWidth, 0, g.titleWidth + g.gap, png.height)).toBe(0);
}

describe('the demo model: a pipeline folder in the diffusers layout', () => {
  it('ships under 20 MB: the pipeline (model_index.json, unet, text_encoder, tokenizer, scheduler), the oracle and the training record', () => {
    expect(filesUnder(MODEL)).toEqual(FILES);
    const total = FILES.reduce((a, f) => a + fs.statSync(path.join(MODEL, f)).size, 0);
    expect(total).toBeLessThan(20 * 1024 * 1024);
    const training = JSON.parse(fs.readFileSync(path.join(MODEL, 'training.json'), 'utf8'));
    expect(training.classifier.accuracy_on_2000_clean_images.all).toBeGreaterThan(0.98);
    expect(training.training.seconds).toBeLessThan(3600);
    const index = JSON.parse(fs.readFileSync(path.join(MODEL, 'model_index.json'), 'utf8'));
    expect(index._class_name).toBe('StableDiffusionPipeline');
    expect(index.vae).toEqual([null, null]); // pixel space: no VAE
    expect(index.text_encoder).toEqual(['tgate', 'ShapesTextEncoder']);
    expect(JSON.parse(fs.readFileSync(path.join(MODEL, 'scheduler/scheduler_config.json'), 'utf8'))._class_name).toBe('DDIMScheduler');
    // What tgate compile takes from it: the UNet, and the pipeline's components beside it, not the demo's oracle.
    const p = readPipeline(MODEL);
    expect(p.denoiser).toBe('unet');
    expect(p.components.map((c) => c.name)).toEqual(['scheduler', 'text_encoder', 'tokenizer']);
  });

  it('its word-level tokenizer gives the ids training used, for all 75 prompts and the empty one', () => {
    const labels = readLabels(MODEL);
    const prompts = allPrompts(labels);
    expect(prompts).toHaveLength(75);
    expect(new Set(prompts).size).toBe(75);
    const tok = loadTokenizer(path.join(MODEL, 'tokenizer'));
    expect(tok.maxLength).toBe(8);
    expect(tok.padId).toBe(0);
    for (const p of [...prompts, '']) expect({ p, ids: tok.encode(p).ids }).toEqual({ p, ids: trainingIds(p) });
    expect(tok.encode('').ids).toEqual(new Array(8).fill(0));
    expect(tok.encode('  A Red CIRCLE on the left ').ids).toEqual(trainingIds('a red circle on the left'));
  });

  it('refuses words outside the vocabulary, listing it', () => {
    const tok = loadTokenizer(path.join(MODEL, 'tokenizer'));
    expect(() => tok.encode('a red elephant on the left')).toThrow(/outside the tokenizer's vocabulary: elephant\./);
    let hint = '';
    try {
      tok.encode('a pink circle');
    } catch (e) {
      hint = (e as { hint: string }).hint;
    }
    expect(hint).toMatch(
      /The vocabulary \(.*tokenizer\.json, which has no unk token\): <pad>, a, red, green, blue, yellow, purple, circle, square, triangle, on, the, at, in, left, right, top, bottom, center\./,
    );
    const labels = readLabels(MODEL);
    expect(labelsOf(labels, 'a blue square at the top')).toEqual({ color: 'blue', shape: 'square', position: 'top' });
    expect(labelsOf(labels, 'a blue square')).toBeNull();
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
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) {
        const inside = (x - 9) ** 2 + (y - 16) ** 2 <= 36;
        const rgb = inside ? [220, 45, 45] : [235, 235, 235];
        for (let c = 0; c < 3; c++) img[c * 1024 + y * 32 + x] = rgb[c]! / 127.5 - 1;
      }
    expect(await oracle.classify(img, 1)).toEqual([{ color: 'red', shape: 'circle', position: 'left' }]);
    await oracle.release();
  });

  it('compiles as a pipeline and generates in pixel space through GatedPipeline, recording attention convergence on request', async () => {
    const dir = path.join(scratch(), 'c');
    await compile(MODEL, { outDir: dir, prover: null });
    const m = readManifest(dir);
    expect(m.pipeline).toMatchObject({ className: 'StableDiffusionPipeline', denoiser: 'unet' });
    expect(Object.keys(m.pipeline!.components).sort()).toEqual(['scheduler', 'text_encoder', 'tokenizer']);
    expect(fs.existsSync(path.join(dir, 'classifier'))).toBe(false);
    const pipe = await GatedPipeline.load(dir);
    try {
      expect(pipe.folder.vaeScaleFactor).toBe(1);
      expect(pipe.folder.sampleSize).toBe(32);
      const r = await pipe.generate({ prompt: 'a red circle on the left', seed: 3, steps: 6, baseline: true, recordAttention: true });
      expect(r.latents.dims).toEqual([1, 3, 32, 32]);
      expect([r.images[0]!.width, r.images[0]!.height]).toEqual([32, 32]);
      expect(r.scheduler).toBe('ddim');
      expect(r.attentionChange.map((c) => c.k)).toEqual([1, 2, 3, 4, 5]);
      for (const c of r.attentionChange) {
        expect(c.cross).toBeGreaterThan(0);
        expect(c.self).toBeGreaterThan(0);
      }
      // Without the option nothing is recorded; the same seed gives the same image.
      const again = await pipe.generate({ prompt: 'a red circle on the left', seed: 3, steps: 6, baseline: true });
      expect(again.attentionChange).toEqual([]);
      expect(Buffer.from(again.images[0]!.data).equals(Buffer.from(r.images[0]!.data))).toBe(true);
    } finally {
      await pipe.release();
    }
  });
});

describe('the labelled grid', () => {
  const solid = (rgb: number[], size = 2): GridImage => ({
    width: size,
    height: size,
    data: Uint8Array.from({ length: size * size * 3 }, (_, i) => rgb[i % 3]!),
  });

  it('without labels: rows x columns of scaled images, as a real PNG', () => {
    const png = PNG.sync.read(gridPng([[solid([255, 0, 0]), solid([0, 0, 255])]], { scale: 3, gap: 1 }));
    expect([png.width, png.height]).toEqual([1 + 2 * (6 + 1), 1 + 6 + 1]);
    expect(pixel(png, 1, 1)).toEqual([255, 0, 0, 255]);
    expect(pixel(png, 8, 6)).toEqual([0, 0, 255, 255]);
    expect(pixel(png, 0, 0)).toEqual([255, 255, 255, 255]);
  });

  it('column headings above and a title left of each row; the images in their cells', () => {
    const colours = [
      [230, 40, 40],
      [40, 200, 60],
      [50, 80, 230],
    ];
    const titles = ['a red circle on the left', 'a purple triangle in the center'];
    const rows = titles.map(() => colours.map((c) => solid(c, 32)));
    const o = { columns: HEADINGS, rows: titles };
    const png = PNG.sync.read(gridPng(rows, o));
    const g = gridLayout(2, 3, 32, o);
    expect([png.width, png.height]).toEqual([g.width, g.height]);
    expect(g.cell).toBe(128);
    expect(g.titleLines).toEqual([
      ['a red circle on', 'the left'],
      ['a purple', 'triangle in the', 'center'],
    ]);
    expectLabels(png, g, 2, 3);
    for (let r = 0; r < 2; r++)
      for (let c = 0; c < 3; c++) {
        const { x, y } = g.cellAt(r, c);
        for (const [dx, dy] of [
          [0, 0],
          [127, 127],
          [64, 3],
        ])
          expect(pixel(png, x + dx!, y + dy!)).toEqual([...colours[c]!, 255]);
        expect(pixel(png, x - 1, y + 64)).toEqual([255, 255, 255, 255]);
        expect(pixel(png, x + 128, y + 64)).toEqual([255, 255, 255, 255]);
      }
  });

  it('wraps titles on words and cuts words longer than a line', () => {
    expect(wrapText('a yellow circle at the bottom', 16)).toEqual(['a yellow circle', 'at the bottom']);
    expect(wrapText('  abcdefghij  xy ', 4)).toEqual(['abcd', 'efgh', 'ij', 'xy']);
    expect(wrapText('', 8)).toEqual([]);
  });
});

describe('tgate demo and tgate calibrate', () => {
  it('demo: compiles the shipped pipeline, generates baseline / v1 / v2, writes the labelled grid, the plot and the reports', () => {
    const out = path.join(scratch(), 'demo');
    const r = tgate(['demo', '-o', out, '--samples', '2', '--steps', '12', '--gate-step', '5', '--json']);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.prompts).toEqual(DEMO_PROMPTS);
    expect(rep.seeds).toEqual([0, 1, 2, 3, 4]);
    expect(rep.scheduler).toBe('ddim');
    for (const m of ['baseline', 'v1', 'v2']) {
      expect(rep.modes[m].seconds).toBeGreaterThan(0);
      expect(rep.modes[m].denoiseSeconds).toBeGreaterThan(0);
      expect(rep.modes[m].denoiseSeconds).toBeLessThanOrEqual(rep.modes[m].seconds);
      expect(rep.modes[m].adherence.samples).toBe(10);
    }
    expect(rep.modes.baseline.adherence.all).toBeGreaterThanOrEqual(0.7);
    expect(rep.modes.baseline.pixelDifference).toBe(0);
    expect(rep.modes.v1.pixelDifference).toBeGreaterThan(0);
    expect(rep.convergence).toHaveLength(11);
    // The compiled pipeline folder it ran.
    expect(readManifest(path.join(out, 'compiled')).pipeline?.denoiser).toBe('unet');
    expect(fs.existsSync(path.join(out, 'compiled/unet/gated-v2.onnx'))).toBe(true);
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'grid.png')));
    const g = gridLayout(5, 3, 32, { columns: HEADINGS, rows: DEMO_PROMPTS });
    expect([png.width, png.height]).toEqual([g.width, g.height]);
    expectLabels(png, g, 5, 3);
    // Every cell holds a drawn image: the light background and a saturated shape.
    for (let row = 0; row < 5; row++)
      for (let c = 0; c < 3; c++) {
        const { x, y } = g.cellAt(row, c);
        let saturated = 0;
        let light = 0;
        for (let dy = 0; dy < g.cell; dy += 4)
          for (let dx = 0; dx < g.cell; dx += 4) {
            const [R, G, B] = pixel(png, x + dx, y + dy);
            if (Math.max(R!, G!, B!) - Math.min(R!, G!, B!) > 80) saturated++;
            if (Math.min(R!, G!, B!) > 180) light++;
          }
        expect(saturated).toBeGreaterThan(20);
        expect(light).toBeGreaterThan(400);
      }
    expect(fs.readFileSync(path.join(out, 'convergence.svg'), 'utf8')).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toMatch(/\| v2 \| [\d.]+ \| [\d.]+x \| [\d.]+ % \|/);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/<img alt="grid" src="data:image\/png;base64,/);
  });

  it('calibrate on the pipeline folder works on its UNet in a temporary folder and records nothing', () => {
    const work = scratch();
    const r = tgate(['calibrate', MODEL, '--steps', '6', '--samples', '1'], work);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/not recorded: compile the model and calibrate the folder to keep it|No gate step keeps/);
    expect(filesUnder(MODEL)).toEqual(FILES);
  });

  it('demo --prompt draws one prompt; an unknown word is refused with the vocabulary, before anything is written', () => {
    const out = path.join(scratch(), 'one');
    const r = tgate(['demo', '-o', out, '--prompt', 'a blue square at the top', '--samples', '1', '--steps', '8', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).prompts).toEqual(['a blue square at the top']);
    const untouched = path.join(scratch(), 'bad');
    const bad = tgate(['demo', '-o', untouched, '--prompt', 'a blue dog']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /outside the tokenizer's vocabulary: dog[\s\S]*The vocabulary \(.*\): <pad>, a, red, green[\s\S]*Prompts read like "a red circle on the left"/,
    );
    expect(fs.existsSync(untouched)).toBe(false);
  });

  it('calibrate a UNet compiled alone with --text-model: a curve per gate step, the earliest within tolerance recommended and written', async () => {
    const dir = path.join(scratch(), 'cal');
    await compile(path.join(MODEL, 'unet/model.onnx'), { outDir: dir, prover: null });
    const dry = JSON.parse(tgate(['calibrate', dir, '--steps', '10', '--samples', '2', '--text-model', MODEL, '--dry-run', '--json']).stdout);
    expect(readManifest(dir).calibration).toBeUndefined();
    expect(dry.textEncoder).toBe(path.join(MODEL, 'text_encoder/model.onnx'));
    const r = tgate(['calibrate', dir, '--steps', '10', '--samples', '2', '--tolerance', '0.05', '--text-model', MODEL, '--json']);
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout);
    // The UNet has a DeepCache cut: N 3 and 5 are swept too (tests/calibrate-deepcache.test.ts); the default gate step is TGATE alone's (N 1).
    expect(c.deepcacheIntervals).toEqual([1, 3, 5]);
    const alone = c.points.filter((p: { deepcache: number }) => p.deepcache === 1);
    expect(alone.map((p: { gateStep: number }) => p.gateStep)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const first = alone.find((p: { deviation: number }) => p.deviation <= 0.05);
    expect(c.recommended).toBe(first.gateStep);
    for (const p of c.points) expect(p.adherence).not.toBeNull();
    // Later gate steps gate less: the predicted speed-up falls as the gate moves later.
    expect(alone[0].predictedSpeedup).toBeGreaterThan(alone[8].predictedSpeedup);
    expect(c.recommended).toBe(dry.recommended);
    const m = readManifest(dir);
    expect(m.schedule.gateStep).toBe(c.recommended);
    expect(m.calibration).toMatchObject({ tolerance: 0.05, recommended: c.recommended });
    // The runtime takes the calibrated gate step as its default.
    // Image pixels: the demo model is pixel-space (latent factor 1), 32x32.
    const run = JSON.parse(tgate(['run', dir, '--steps', '10', '--height', '32', '--width', '32', '--json']).stdout);
    expect(run.gateStep).toBe(c.recommended);
  });

  it('calibrate a compiled pipeline: its own tokenizer and text encoder, the oracle from --text-model; same prompts, same embeddings', async () => {
    const dir = path.join(scratch(), 'pipe');
    await compile(MODEL, { outDir: dir, prover: null });
    const r = tgate(['calibrate', dir, '--steps', '10', '--samples', '2', '--text-model', MODEL, '--dry-run', '--json']);
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.textEncoder).toBe(path.join(dir, 'text_encoder/model.onnx'));
    // Sampled as generate samples: with the pipeline's own scheduler (cosine DDIM).
    expect(c.schedulerConfig).toBe(path.join(dir, 'scheduler/scheduler_config.json'));
    for (const p of c.points) expect(p.adherence).not.toBeNull();
    expect(c.baselineAdherence).not.toBeNull();
    // The same text encoder as the UNet-only folder's through --text-model: the same curve.
    const alone = path.join(scratch(), 'alone');
    await compile(path.join(MODEL, 'unet/model.onnx'), { outDir: alone, prover: null });
    const a = JSON.parse(tgate(['calibrate', alone, '--steps', '10', '--samples', '2', '--text-model', MODEL, '--dry-run', '--json']).stdout);
    expect(c.points.map((p: { deviation: number }) => p.deviation)).toEqual(a.points.map((p: { deviation: number }) => p.deviation));
    expect(c.points.map((p: { adherence: number }) => p.adherence)).toEqual(a.points.map((p: { adherence: number }) => p.adherence));
    expect(c.recommended).toBe(a.recommended);
    expect(readManifest(dir).calibration).toBeUndefined();
  });
});
