// Images at the pipeline's edges, with diffusers' arithmetic: decoded [-1, 1] tensors become 8-bit
// RGB as VaeImageProcessor.postprocess + numpy_to_pil do (x / 2 + 0.5, clamp to [0, 1], x 255,
// round half to even, all in float32), and an input picture becomes a [-1, 1] tensor as its
// preprocess does (x / 255 * 2 - 1). PNG is read and written by pngjs.
import { PNG } from 'pngjs';
import { TgateError } from '../../base/errors.js';

/** 8-bit RGB, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const f = Math.fround;

/** numpy.round: halves to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** [B, 3, H, W] in [-1, 1] -> [B, H, W, 3] in [0, 1] (diffusers' output_type="np"). */
export function toUnitRange(x: Float32Array, dims: number[]): Float32Array {
  const [B, C, H, W] = dims as [number, number, number, number];
  if (C !== 3) throw new TgateError('E_UNSUPPORTED_MODEL', `The decoded image has ${C} channels; tgate writes RGB images (3 channels).`);
  const out = new Float32Array(B * H * W * 3);
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < 3; c++) {
      const src = (b * 3 + c) * plane;
      for (let i = 0; i < plane; i++) {
        const v = f(f(x[src + i]! / 2) + 0.5);
        out[(b * plane + i) * 3 + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return out;
}

/** [B, H, W, 3] in [0, 1] -> 8-bit images, as numpy_to_pil: (x * 255).round(). */
export function toRgbImages(unit: Float32Array, batch: number, height: number, width: number): RgbImage[] {
  const n = height * width * 3;
  return Array.from({ length: batch }, (_, b) => ({
    width,
    height,
    data: Uint8Array.from(unit.subarray(b * n, (b + 1) * n), (v) => rint(f(v * 255))),
  }));
}

export function encodePng(img: RgbImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** A PNG as RGB; an alpha channel is dropped, as PIL's convert("RGB") does. */
export function decodePng(bytes: Uint8Array, file: string): RgbImage {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new TgateError('E_BAD_TENSOR', `${file} is not a readable PNG image (${(e as Error).message}).`, {
      subject: { file },
      hint: 'Give a PNG file (img2img takes --image in.png).',
    });
  }
  const data = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    data[3 * i] = png.data[4 * i]!;
    data[3 * i + 1] = png.data[4 * i + 1]!;
    data[3 * i + 2] = png.data[4 * i + 2]!;
  }
  return { width: png.width, height: png.height, data };
}

/** An image as the VAE encoder's input: [1, 3, H, W] in [-1, 1]. */
export function toModelInput(img: RgbImage): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = f(f(2 * f(img.data[3 * i + c]! / 255)) - 1);
  }
  return out;
}
