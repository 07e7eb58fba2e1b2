/**
 * A folder of PNG files as input images: every `*.png` (sorted by name), decoded, converted to
 * RGB and brought to 32×32 CHW uint8. Images larger than 32 px are reduced by area averaging of
 * their centre square; smaller ones are enlarged bilinearly. Alpha is dropped (as PIL's
 * `convert("RGB")` does), 16-bit samples are scaled to 8 bits.
 */
import { type DecodedPng, decodePng } from "../deps.ts";
import { InputError } from "../util/errors.ts";
import { IMAGE_BYTES, IMAGE_SIDE } from "./cifar.ts";

export interface PngFolder {
  /** One CHW uint8 image (3·32·32 bytes) per file. */
  images: Uint8Array[];
  /** The file names, in the same (sorted) order. */
  names: string[];
}

/** Reads every `*.png` in `dir` (not recursive), in name order. */
export async function readPngFolder(dir: string): Promise<PngFolder> {
  const names = await listPngNames(dir);
  const images: Uint8Array[] = [];
  for (const name of names) {
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    images.push(pngToImage(await Deno.readFile(path), path));
  }
  return { images, names };
}

/** Decodes one PNG file's bytes into a 32×32 CHW uint8 image; `source` names it in errors. */
export function pngToImage(bytes: Uint8Array, source: string): Uint8Array {
  const png = decodeChecked(bytes, source);
  const side = Math.min(png.width, png.height);
  const square = centreSquareRgb(png, side);
  return resizeSquare(square, side);
}

async function listPngNames(dir: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new InputError(`image folder "${dir}" does not exist`);
  }
  if (!info.isDirectory) throw new InputError(`image folder "${dir}" is not a directory`);
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.toLowerCase().endsWith(".png")) names.push(entry.name);
  }
  if (names.length === 0) {
    throw new InputError(`image folder "${dir}" holds no *.png files; give a folder of PNG images`);
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function decodeChecked(bytes: Uint8Array, source: string): DecodedPng {
  let png: DecodedPng;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(
      `image file "${source}" (${bytes.length} bytes) is not a readable PNG: ${reason}`,
    );
  }
  if (png.width < 1 || png.height < 1 || expectedDataLength(png) !== png.data.length) {
    throw new InputError(
      `image file "${source}" is not a readable PNG: ${png.width}×${png.height}, ` +
        `${png.channels} channel(s) of ${png.depth} bit, but ${png.data.length} samples decoded`,
    );
  }
  return png;
}

function expectedDataLength(png: DecodedPng): number {
  if (png.depth < 8) return Math.ceil((png.width * png.depth) / 8) * png.height;
  return png.width * png.height * png.channels;
}

/** Reads sample (x, y, channel) on a 0–255 scale, whatever the bit depth. */
type SampleReader = (x: number, y: number, channel: number) => number;

function sampleReader(png: DecodedPng): SampleReader {
  const { data, width, depth, channels } = png;
  if (depth === 16) return (x, y, c) => data[(y * width + x) * channels + c] / 257;
  if (depth === 8) return (x, y, c) => data[(y * width + x) * channels + c];
  // Depths 1, 2 and 4 are single-channel (gray or palette) with each row packed to whole bytes.
  const rowBytes = Math.ceil((width * depth) / 8);
  const max = (1 << depth) - 1;
  const isPalette = png.palette !== undefined;
  return (x, y) => {
    const bit = x * depth;
    const byte = data[y * rowBytes + (bit >> 3)];
    const value = (byte >> (8 - depth - (bit & 7))) & max;
    return isPalette ? value : (value * 255) / max;
  };
}

/** RGB of the centre side×side square as three float planes (0–255), CHW. */
function centreSquareRgb(png: DecodedPng, side: number): Float32Array {
  const read = sampleReader(png);
  const x0 = Math.floor((png.width - side) / 2);
  const y0 = Math.floor((png.height - side) / 2);
  const plane = side * side;
  const out = new Float32Array(3 * plane);
  const rgbAt = rgbConverter(png, read, out, plane);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) rgbAt(x0 + x, y0 + y, y * side + x);
  }
  return out;
}

/** Returns a function writing the RGB of source pixel (x, y) to position `at` of each plane. */
function rgbConverter(
  png: DecodedPng,
  read: SampleReader,
  out: Float32Array,
  plane: number,
): (x: number, y: number, at: number) => void {
  const palette = png.palette;
  if (palette !== undefined) {
    return (x, y, at) => {
      const colour = palette[read(x, y, 0)] ?? [0, 0, 0];
      for (let c = 0; c < 3; c++) out[c * plane + at] = colour[c];
    };
  }
  // Gray (1), gray+alpha (2), RGB (3), RGBA (4): alpha is ignored.
  const colourChannels = png.channels >= 3 ? [0, 1, 2] : [0, 0, 0];
  return (x, y, at) => {
    for (let c = 0; c < 3; c++) out[c * plane + at] = read(x, y, colourChannels[c]);
  };
}

/** Resizes three side×side float planes to 32×32 and rounds to uint8 CHW. */
function resizeSquare(planes: Float32Array, side: number): Uint8Array {
  const taps = side >= IMAGE_SIDE ? areaTaps(side) : bilinearTaps(side);
  const out = new Uint8Array(IMAGE_BYTES);
  const rows = new Float32Array(IMAGE_SIDE * side);
  for (let c = 0; c < 3; c++) {
    const source = planes.subarray(c * side * side, (c + 1) * side * side);
    // Vertical pass: rows[oy][x] = Σ_k w_k · source[y_k][x].
    rows.fill(0);
    for (let oy = 0; oy < IMAGE_SIDE; oy++) {
      for (const { index, weight } of taps[oy]) {
        for (let x = 0; x < side; x++) rows[oy * side + x] += weight * source[index * side + x];
      }
    }
    // Horizontal pass.
    for (let oy = 0; oy < IMAGE_SIDE; oy++) {
      for (let ox = 0; ox < IMAGE_SIDE; ox++) {
        let sum = 0;
        for (const { index, weight } of taps[ox]) sum += weight * rows[oy * side + index];
        out[(c * IMAGE_SIDE + oy) * IMAGE_SIDE + ox] = Math.min(255, Math.max(0, Math.round(sum)));
      }
    }
  }
  return out;
}

interface Tap {
  index: number;
  weight: number;
}

/** Box filter: output pixel o averages source span [o·s/32, (o+1)·s/32), partial pixels weighted. */
function areaTaps(side: number): Tap[][] {
  const scale = side / IMAGE_SIDE;
  const taps: Tap[][] = [];
  for (let o = 0; o < IMAGE_SIDE; o++) {
    const start = o * scale;
    const end = (o + 1) * scale;
    const list: Tap[] = [];
    for (let index = Math.floor(start); index < Math.min(side, Math.ceil(end)); index++) {
      const overlap = Math.min(index + 1, end) - Math.max(index, start);
      if (overlap > 1e-9) list.push({ index, weight: overlap / scale });
    }
    taps.push(list);
  }
  return taps;
}

/** Bilinear with pixel centres aligned (align_corners = false), edges clamped. */
function bilinearTaps(side: number): Tap[][] {
  const scale = side / IMAGE_SIDE;
  const taps: Tap[][] = [];
  for (let o = 0; o < IMAGE_SIDE; o++) {
    const position = Math.min(side - 1, Math.max(0, (o + 0.5) * scale - 0.5));
    const low = Math.floor(position);
    const high = Math.min(side - 1, low + 1);
    const frac = position - low;
    taps.push(
      high === low ? [{ index: low, weight: 1 }] : [
        { index: low, weight: 1 - frac },
        { index: high, weight: frac },
      ],
    );
  }
  return taps;
}
