// Images for people: 8-bit RGB images laid out as a grid (rows x columns), scaled up with nearest
// neighbours so 32-pixel samples are visible, with optional column headings above and a title
// left of each row, encoded as PNG by pngjs. Text is drawn with the compact 5x7 bitmap font below
// (the classic HD44780 LCD glyphs: ASCII letters, digits, space and common punctuation; anything
// else is drawn as "?"), scaled by whole pixels: no font files, no dependency, and the same
// pixels on every machine.
import { PNG } from 'pngjs';

/** 8-bit RGB, row-major, 3 bytes a pixel (the pipeline's output images). */
export interface GridImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface GridOptions {
  /** Nearest-neighbour scale of each image (default 4). */
  scale?: number;
  /** Pixels between cells and around the grid (default 6). */
  gap?: number;
  /** Column headings, drawn centred above the columns. */
  columns?: string[];
  /** Row titles, drawn left of the rows, word-wrapped. */
  rows?: string[];
  /** Font scale: a glyph is 5x7 font pixels of textScale x textScale (default 2). */
  textScale?: number;
  /** Characters a row-title line holds at most before wrapping (default 16). */
  titleChars?: number;
}

/** Where everything is in the PNG. */
export interface GridLayout {
  width: number;
  height: number;
  /** The side of one (scaled) cell. */
  cell: number;
  gap: number;
  /** Height of the heading band at the top (0 without headings). */
  headHeight: number;
  /** Width of the row-title column at the left (0 without titles). */
  titleWidth: number;
  /** The wrapped lines of each row title. */
  titleLines: string[][];
  /** Top-left corner of the cell at row r, column c. */
  cellAt(r: number, c: number): { x: number; y: number };
}

const BACKGROUND = [255, 255, 255] as const;
const INK = [32, 32, 32] as const;
const GLYPH_W = 5;
/** 7 rows above the baseline and one for descenders (g, j, p, q, y, comma). */
const GLYPH_H = 8;
/** Advance per character and per line, in font pixels. */
const ADVANCE = GLYPH_W + 1;
const LINE = GLYPH_H + 2;

/** 5x7 glyphs, one 5-bit row each (0x10 is the leftmost pixel), top to bottom; descenders have an 8th row. */
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  A: [0x0e, 0x11, 0x11, 0x11, 0x1f, 0x11, 0x11],
  B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
  D: [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
  F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
  H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
  L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
  N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
  R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
  T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
  X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04],
  Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  a: [0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f],
  b: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e],
  c: [0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e],
  d: [0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f],
  e: [0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e],
  f: [0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08],
  g: [0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e],
  h: [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
  i: [0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e],
  j: [0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0c],
  k: [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
  l: [0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  m: [0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11],
  n: [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11],
  o: [0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e],
  p: [0x00, 0x00, 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10],
  q: [0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x01],
  r: [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10],
  s: [0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e],
  t: [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
  u: [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d],
  v: [0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04],
  w: [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a],
  x: [0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11],
  y: [0x00, 0x00, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e],
  z: [0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f],
  0: [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
  1: [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  2: [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
  3: [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  4: [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
  5: [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  6: [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
  7: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  8: [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
  9: [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c],
  ',': [0, 0, 0, 0, 0, 0x0c, 0x04, 0x08],
  ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0],
  ';': [0, 0x0c, 0x0c, 0, 0, 0x0c, 0x04, 0x08],
  '-': [0, 0, 0, 0x1f, 0, 0, 0],
  '+': [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0],
  '=': [0, 0, 0x1f, 0, 0x1f, 0, 0],
  _: [0, 0, 0, 0, 0, 0, 0x1f],
  '(': [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
  ')': [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
  '[': [0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e],
  ']': [0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e],
  '/': [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
  '<': [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
  '>': [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
  "'": [0x0c, 0x04, 0x08, 0, 0, 0, 0],
  '"': [0x0a, 0x0a, 0x0a, 0, 0, 0, 0],
  '!': [0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04],
  '?': [0x0e, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
  '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  '#': [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
  '*': [0, 0x04, 0x15, 0x0e, 0x15, 0x04, 0],
  '&': [0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d],
};

/** The glyph drawn for a character: its own, or "?" for one the font lacks. */
export function glyphOf(ch: string): readonly number[] {
  return FONT[ch] ?? FONT['?']!;
}

/** Width in pixels of a line of text at a font scale (no trailing spacing). */
export function textWidth(text: string, textScale: number): number {
  return text.length ? (text.length * ADVANCE - 1) * textScale : 0;
}

/** Words into lines of at most `chars` characters; a longer word is cut. */
export function wrapText(text: string, chars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.trim().split(/\s+/).filter(Boolean)) {
    while (word.length > chars) {
      if (line) lines.push(line);
      lines.push(word.slice(0, chars));
      line = '';
      word = word.slice(chars);
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= chars) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** The geometry of a grid of rows x cols images of `size` pixels. */
export function gridLayout(rows: number, cols: number, size: number, o: GridOptions = {}): GridLayout {
  const scale = o.scale ?? 4;
  const gap = o.gap ?? 6;
  const ts = o.textScale ?? 2;
  const cell = size * scale;
  const headHeight = o.columns?.length ? gap + GLYPH_H * ts : 0;
  // As many lines as fit in a cell's height; a title with more is cut after the last that fits.
  const fit = Math.max(1, Math.floor((cell + (LINE - GLYPH_H) * ts) / (LINE * ts)));
  const titleLines = (o.rows ?? []).map((t) => wrapText(t, o.titleChars ?? 16).slice(0, fit));
  const widest = Math.max(0, ...titleLines.flat().map((l) => textWidth(l, ts)));
  const titleWidth = widest ? gap + widest : 0;
  return {
    width: titleWidth + gap + cols * (cell + gap),
    height: headHeight + gap + rows * (cell + gap),
    cell,
    gap,
    headHeight,
    titleWidth,
    titleLines,
    cellAt: (r, c) => ({ x: titleWidth + gap + c * (cell + gap), y: headHeight + gap + r * (cell + gap) }),
  };
}

function drawText(png: PNG, x0: number, y0: number, text: string, ts: number): void {
  for (const [i, ch] of [...text].entries()) {
    const glyph = glyphOf(ch);
    for (let gy = 0; gy < glyph.length; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (!(glyph[gy]! & (0x10 >> gx))) continue;
        for (let dy = 0; dy < ts; dy++) {
          for (let dx = 0; dx < ts; dx++) {
            const x = x0 + (i * ADVANCE + gx) * ts + dx;
            const y = y0 + gy * ts + dy;
            if (x < 0 || y < 0 || x >= png.width || y >= png.height) continue;
            const o = 4 * (y * png.width + x);
            png.data[o] = INK[0];
            png.data[o + 1] = INK[1];
            png.data[o + 2] = INK[2];
          }
        }
      }
    }
  }
}

/** Encodes rows x columns of images (all of one size) as a PNG, with the headings and titles given. */
export function gridPng(rows: GridImage[][], o: GridOptions = {}): Buffer {
  const size = rows[0]?.[0]?.width ?? 1;
  const scale = o.scale ?? 4;
  const ts = o.textScale ?? 2;
  const cols = Math.max(0, ...rows.map((r) => r.length), o.columns?.length ?? 0);
  const g = gridLayout(rows.length, cols, size, o);
  const png = new PNG({ width: g.width, height: g.height });
  for (let i = 0; i < g.width * g.height; i++) {
    png.data[4 * i] = BACKGROUND[0];
    png.data[4 * i + 1] = BACKGROUND[1];
    png.data[4 * i + 2] = BACKGROUND[2];
    png.data[4 * i + 3] = 255;
  }
  rows.forEach((row, r) =>
    row.forEach((img, c) => {
      const { x: x0, y: y0 } = g.cellAt(r, c);
      for (let y = 0; y < img.height * scale; y++) {
        for (let x = 0; x < img.width * scale; x++) {
          const src = 3 * (Math.floor(y / scale) * img.width + Math.floor(x / scale));
          const dst = 4 * ((y0 + y) * g.width + x0 + x);
          png.data[dst] = img.data[src]!;
          png.data[dst + 1] = img.data[src + 1]!;
          png.data[dst + 2] = img.data[src + 2]!;
        }
      }
    }),
  );
  (o.columns ?? []).forEach((heading, c) => {
    const { x } = g.cellAt(0, c);
    drawText(png, x + Math.floor((g.cell - textWidth(heading, ts)) / 2), Math.floor(g.gap / 2), heading, ts);
  });
  g.titleLines.forEach((lines, r) => {
    const { y } = g.cellAt(r, 0);
    const block = lines.length * LINE * ts - (LINE - GLYPH_H) * ts;
    lines.forEach((line, i) => drawText(png, g.gap, y + Math.floor((g.cell - block) / 2) + i * LINE * ts, line, ts));
  });
  return PNG.sync.write(png);
}

/** Mean |a - b| in 0-255 pixel units, of two images in [-1, 1] (clamped). */
export function meanPixelDifference(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(Math.max(-1, Math.min(1, a[i]!)) - Math.max(-1, Math.min(1, b[i]!)));
  return (s / a.length) * 127.5;
}
