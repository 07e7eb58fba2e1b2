/**
 * CIFAR-10 binary reader (the `data_batch_N.bin` / `test_batch.bin` layout): each record is one
 * label byte followed by 3072 pixel bytes: the R plane, then G, then B, each 32×32 row-major.
 * That is already CHW order, the layout every image in gennas uses.
 */
import { InputError } from "../util/errors.ts";

/** Side of every input image in pixels. */
export const IMAGE_SIDE = 32;
/** Bytes of one CHW uint8 image: 3 × 32 × 32. */
export const IMAGE_BYTES = 3 * IMAGE_SIDE * IMAGE_SIDE;
/** Bytes of one CIFAR-10 binary record: the label byte and the pixels. */
export const CIFAR10_RECORD_BYTES = 1 + IMAGE_BYTES;

const CIFAR10_CLASSES = 10;
const CIFAR100_RECORD_BYTES = 2 + IMAGE_BYTES;
const LAYOUT = `CIFAR-10 binary records of ${CIFAR10_RECORD_BYTES} bytes ` +
  `(1 label byte 0–9, then 3072 pixel bytes: R, G, B planes of 32×32)`;

export interface CifarRecords {
  /** One CHW uint8 image (3·32·32 bytes) per record. */
  images: Uint8Array[];
  /** The class label (0–9) of each image. */
  labels: number[];
}

/** Splits a CIFAR-10 binary file into images and labels; `source` names the file in errors. */
export function parseCifarBinary(bytes: Uint8Array, source: string): CifarRecords {
  checkLength(bytes.length, source);
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  for (let record = 0; record < count; record++) {
    const start = record * CIFAR10_RECORD_BYTES;
    const label = bytes[start];
    if (label >= CIFAR10_CLASSES) {
      throw new InputError(
        `CIFAR file "${source}" (${bytes.length} bytes): record ${record} (byte offset ${start}) ` +
          `has label ${label}; expected ${LAYOUT}`,
      );
    }
    labels.push(label);
    images.push(bytes.slice(start + 1, start + CIFAR10_RECORD_BYTES));
  }
  return { images, labels };
}

function checkLength(size: number, source: string): void {
  if (size === 0) {
    throw new InputError(`CIFAR file "${source}" is empty (0 bytes); expected ${LAYOUT}`);
  }
  if (size % CIFAR10_RECORD_BYTES === 0) return;
  const hint = size % CIFAR100_RECORD_BYTES === 0
    ? " It looks like CIFAR-100 binary (2 label bytes per record), which is not supported."
    : ` The file holds ${Math.floor(size / CIFAR10_RECORD_BYTES)} whole records and ` +
      `${size % CIFAR10_RECORD_BYTES} extra bytes: it may be truncated.`;
  throw new InputError(
    `CIFAR file "${source}" has ${size} bytes, not a multiple of ${CIFAR10_RECORD_BYTES}; ` +
      `expected ${LAYOUT}.${hint}`,
  );
}
