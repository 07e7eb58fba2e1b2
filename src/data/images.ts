/**
 * The image set behind `--images`: nothing → procedural built-in images, a directory → its PNG
 * files, a file → CIFAR-10 binary records.
 */
import { resolve } from "node:path";
import { InputError } from "../util/errors.ts";
import { parseCifarBinary } from "./cifar.ts";
import { readPngFolder } from "./png.ts";
import { proceduralImages } from "./procedural.ts";

export type ImageSetKind = "cifar10-binary" | "png-folder" | "procedural";

export interface ImageSet {
  /**
   * What the images are, for outputs and journal settings: the absolute path (so a run resumes
   * whether it was named relative or absolute, like `--truth`), or "procedural (built-in)".
   */
  name: string;
  kind: ImageSetKind;
  /** CHW uint8 images, 3·32·32 bytes each. */
  images: Uint8Array[];
  /** Class label of each image (CIFAR-10 binary files only). */
  labels?: number[];
}

export interface ImageSetOptions {
  /** Seed of the procedural images (default 0); ignored for files. */
  seed?: number;
  /** How many procedural images to make (default 256); ignored for files. */
  count?: number;
}

export const PROCEDURAL_IMAGE_SET_NAME = "procedural (built-in)";
export const DEFAULT_PROCEDURAL_COUNT = 256;

/** Loads the image set named by `path` (see the module comment). */
export async function loadImageSet(
  path?: string,
  options: ImageSetOptions = {},
): Promise<ImageSet> {
  if (path === undefined) {
    const count = options.count ?? DEFAULT_PROCEDURAL_COUNT;
    const images = proceduralImages(count, options.seed ?? 0);
    return { name: PROCEDURAL_IMAGE_SET_NAME, kind: "procedural", images };
  }
  const info = await statOrExplain(path);
  if (info.isDirectory) {
    const { images } = await readPngFolder(path);
    return { name: resolve(path), kind: "png-folder", images };
  }
  if (info.isFile) {
    const { images, labels } = parseCifarBinary(await Deno.readFile(path), path);
    return { name: resolve(path), kind: "cifar10-binary", images, labels };
  }
  throw new InputError(
    `images "${path}" is neither a file nor a directory; give a CIFAR-10 binary file or a ` +
      `folder of PNG images`,
  );
}

async function statOrExplain(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch {
    throw new InputError(
      `images "${path}" does not exist; give a CIFAR-10 binary file, a folder of PNG images, ` +
        `or no --images for the built-in procedural images`,
    );
  }
}
