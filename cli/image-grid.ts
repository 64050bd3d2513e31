// Images for people: [-1, 1] CHW tensors as RGB, laid out as a grid (rows x columns), scaled up
// with nearest neighbours so 32-pixel samples are visible, encoded as PNG by pngjs.
import { PNG } from 'pngjs';

export interface GridImage {
  /** [3, size, size] in [-1, 1]. */
  data: Float32Array;
  size: number;
}

const BACKGROUND = [255, 255, 255];

/** Encodes rows x columns of images, each scaled by `scale`, with `gap` pixels between them. */
export function gridPng(rows: GridImage[][], scale = 4, gap = 6): Buffer {
  const size = rows[0]?.[0]?.size ?? 1;
  const cell = size * scale;
  const cols = Math.max(...rows.map((r) => r.length));
  const width = gap + cols * (cell + gap);
  const height = gap + rows.length * (cell + gap);
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[4 * i] = BACKGROUND[0]!;
    png.data[4 * i + 1] = BACKGROUND[1]!;
    png.data[4 * i + 2] = BACKGROUND[2]!;
    png.data[4 * i + 3] = 255;
  }
  rows.forEach((row, r) => row.forEach((img, c) => {
    const x0 = gap + c * (cell + gap);
    const y0 = gap + r * (cell + gap);
    const plane = img.size * img.size;
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const src = Math.floor(y / scale) * img.size + Math.floor(x / scale);
        const o = 4 * ((y0 + y) * width + x0 + x);
        for (let ch = 0; ch < 3; ch++) png.data[o + ch] = Math.max(0, Math.min(255, Math.round((img.data[ch * plane + src]! + 1) * 127.5)));
      }
    }
  }));
  return PNG.sync.write(png);
}

/** Mean |a - b| in 0-255 pixel units. */
export function meanPixelDifference(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(Math.max(-1, Math.min(1, a[i]!)) - Math.max(-1, Math.min(1, b[i]!)));
  return (s / a.length) * 127.5;
}
