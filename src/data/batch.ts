/**
 * The GenNAS input batch (spec §2.1): `batch` distinct images drawn uniformly, each augmented once
 * as torchvision would: RandomCrop(32, padding = 4, zero fill) → RandomHorizontalFlip(0.5) →
 * ToTensor (÷255) → Normalize(mean, std). Padded pixels are 0 before normalisation.
 */
import type { Rng } from "../util/rng.ts";
import { InputError } from "../util/errors.ts";
import { IMAGE_BYTES, IMAGE_SIDE } from "./cifar.ts";

/** CIFAR channel means on the 0–1 scale (CVTask.meanstd). */
export const CIFAR_MEAN: readonly number[] = [125.3, 123.0, 113.9].map((v) => v / 255);
/** CIFAR channel standard deviations on the 0–1 scale (CVTask.meanstd). */
export const CIFAR_STD: readonly number[] = [63.0, 62.1, 66.7].map((v) => v / 255);

/** Crop padding in pixels that the reference actually applies (spec Appendix A). */
export const DEFAULT_CROP_PADDING = 4;

export interface BatchOptions {
  /** Zero padding on each side before the random 32×32 crop; 0 turns cropping off. Default 4. */
  pad?: number;
  /** Random horizontal flip with probability 0.5. Default true. */
  flip?: boolean;
  /** Per-channel mean (0–1 scale). Default CIFAR_MEAN. */
  mean?: readonly number[];
  /** Per-channel std (0–1 scale). Default CIFAR_STD. */
  std?: readonly number[];
}

export interface Batch {
  /** [batch][3][32][32], normalised. */
  data: Float32Array;
  /** Which image each batch element came from, in batch order. */
  indices: number[];
}

/** Where one image is cropped from (in the padded frame) and whether it is mirrored. */
export interface Augmentation {
  /** Row of the padded image at which the crop starts, 0 … 2·pad. */
  top: number;
  /** Column of the padded image at which the crop starts, 0 … 2·pad. */
  left: number;
  /** Padding of the frame, in pixels. */
  pad: number;
  flip: boolean;
}

/** Draws and augments one input batch; deterministic for the state of `rng`. */
export function drawBatch(
  images: readonly Uint8Array[],
  batch: number,
  rng: Rng,
  options: BatchOptions = {},
): Batch {
  const pad = options.pad ?? DEFAULT_CROP_PADDING;
  const flip = options.flip ?? true;
  const mean = options.mean ?? CIFAR_MEAN;
  const std = options.std ?? CIFAR_STD;
  checkBatchRequest(images, batch, pad, mean, std);
  const indices = rng.sample(images.map((_, i) => i), batch);
  const data = new Float32Array(batch * IMAGE_BYTES);
  indices.forEach((imageIndex, b) => {
    const augmentation: Augmentation = {
      top: rng.int(2 * pad + 1),
      left: rng.int(2 * pad + 1),
      pad,
      flip: flip && rng.bernoulli(0.5),
    };
    const tensor = augmentImage(images[imageIndex], augmentation, mean, std);
    data.set(tensor, b * IMAGE_BYTES);
  });
  return { data, indices };
}

/** Crop, flip and normalise one CHW uint8 image to a [3][32][32] float tensor. */
export function augmentImage(
  image: Uint8Array,
  { top, left, pad, flip }: Augmentation,
  mean: readonly number[] = CIFAR_MEAN,
  std: readonly number[] = CIFAR_STD,
): Float32Array {
  const out = new Float32Array(IMAGE_BYTES);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < IMAGE_SIDE; y++) {
      const sourceY = top + y - pad;
      for (let x = 0; x < IMAGE_SIDE; x++) {
        const cropX = flip ? IMAGE_SIDE - 1 - x : x;
        const sourceX = left + cropX - pad;
        const inside = sourceY >= 0 && sourceY < IMAGE_SIDE && sourceX >= 0 &&
          sourceX < IMAGE_SIDE;
        const pixel = inside ? image[(c * IMAGE_SIDE + sourceY) * IMAGE_SIDE + sourceX] : 0;
        out[(c * IMAGE_SIDE + y) * IMAGE_SIDE + x] = (pixel / 255 - mean[c]) / std[c];
      }
    }
  }
  return out;
}

function checkBatchRequest(
  images: readonly Uint8Array[],
  batch: number,
  pad: number,
  mean: readonly number[],
  std: readonly number[],
): void {
  if (!Number.isInteger(batch) || batch < 1) {
    throw new InputError(`batch size must be a positive integer, got ${batch}`);
  }
  if (batch > images.length) {
    throw new InputError(
      `batch size ${batch} needs at least ${batch} distinct images, but the image set has ` +
        `${images.length}; give more images or a batch size of at most ${images.length}`,
    );
  }
  if (!Number.isInteger(pad) || pad < 0 || pad >= IMAGE_SIDE) {
    throw new InputError(`crop padding must be an integer 0–${IMAGE_SIDE - 1}, got ${pad}`);
  }
  if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0))) {
    throw new InputError(`normalisation needs 3 means and 3 positive stds, got ${mean} / ${std}`);
  }
  const wrong = images.findIndex((image) => image.length !== IMAGE_BYTES);
  if (wrong >= 0) {
    throw new InputError(
      `image ${wrong} has ${images[wrong].length} bytes; every image must be 3×32×32 CHW ` +
        `(${IMAGE_BYTES} bytes)`,
    );
  }
}
