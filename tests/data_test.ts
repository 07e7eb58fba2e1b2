import assert from "node:assert/strict";
import { relative } from "node:path";
import { encodePng, type ImageData } from "../src/deps.ts";
import {
  CIFAR10_RECORD_BYTES,
  IMAGE_BYTES,
  IMAGE_SIDE,
  parseCifarBinary,
} from "../src/data/cifar.ts";
import { pngToImage, readPngFolder } from "../src/data/png.ts";
import { proceduralImages } from "../src/data/procedural.ts";
import {
  type Augmentation,
  augmentImage,
  CIFAR_MEAN,
  CIFAR_STD,
  drawBatch,
} from "../src/data/batch.ts";
import { loadImageSet, PROCEDURAL_IMAGE_SET_NAME } from "../src/data/images.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFiles } from "./support/data.ts";

const [SHARED_BIN, SHARED_JSON] = sharedFiles([
  "cifar10_test_first256.bin",
  "cifar10_test_first256.json",
]);
const FIXTURES = new URL("../fixtures/images", import.meta.url).pathname;
const PLANE = IMAGE_SIDE * IMAGE_SIDE;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

function randomImages(rng: Rng, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => randomBytes(rng, IMAGE_BYTES));
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gennas_data_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts `action` fails with an InputError whose message contains every fragment. */
async function assertInputError(
  action: () => unknown,
  fragments: (string | RegExp)[],
): Promise<void> {
  await assert.rejects(async () => await action(), (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const fragment of fragments) {
      if (typeof fragment === "string") assert.ok(error.message.includes(fragment), error.message);
      else assert.match(error.message, fragment);
    }
    return true;
  });
}

/** HWC pixel data → CHW, the layout gennas images use. */
function hwcToChw(data: ArrayLike<number>, channels: number, scale = 1): Uint8Array {
  const out = new Uint8Array(IMAGE_BYTES);
  for (let i = 0; i < PLANE; i++) {
    for (let c = 0; c < 3; c++) out[c * PLANE + i] = Math.round(data[i * channels + c] / scale);
  }
  return out;
}

function pngOf(
  width: number,
  height: number,
  channels: number,
  value: (x: number, y: number, c: number) => number,
  depth: 8 | 16 = 8,
): Uint8Array {
  const data = depth === 16
    ? new Uint16Array(width * height * channels)
    : new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = value(x, y, c);
    }
  }
  const image: ImageData = { width, height, data, channels, depth };
  return encodePng(image);
}

function pixel(image: Uint8Array, c: number, y: number, x: number): number {
  return image[(c * IMAGE_SIDE + y) * IMAGE_SIDE + x];
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < a.length; i++) {
    meanA += a[i];
    meanB += b[i];
  }
  meanA /= a.length;
  meanB /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - meanA) * (b[i] - meanB);
    aa += (a[i] - meanA) ** 2;
    bb += (b[i] - meanB) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10 binary

Deno.test({
  name: `cifar: shared 256-image file parses, labels and sha256 match its JSON${SHARED_BIN.note}`,
  ignore: !SHARED_BIN.present,
  async fn() {
    const bytes = await Deno.readFile(SHARED_BIN.path);
    const meta = JSON.parse(await Deno.readTextFile(SHARED_JSON.path));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(hex, meta.sha256_bin);
    const { images, labels } = parseCifarBinary(bytes, SHARED_BIN.path);
    assert.equal(images.length, 256);
    assert.deepEqual(labels, meta.labels);
    assert.ok(images.every((image) => image.length === IMAGE_BYTES));
    assert.deepEqual(images[7], bytes.subarray(7 * CIFAR10_RECORD_BYTES + 1, 8 * 3073));
  },
});

Deno.test("cifar: synthetic records split into CHW images and labels", () => {
  const rng = new Rng(11);
  const images = randomImages(rng, 3);
  const labels = [4, 0, 9];
  const bytes = new Uint8Array(3 * CIFAR10_RECORD_BYTES);
  images.forEach((image, r) => {
    bytes[r * CIFAR10_RECORD_BYTES] = labels[r];
    bytes.set(image, r * CIFAR10_RECORD_BYTES + 1);
  });
  const parsed = parseCifarBinary(bytes, "synthetic.bin");
  assert.deepEqual(parsed.labels, labels);
  assert.deepEqual(parsed.images, images);
  bytes.fill(0);
  assert.deepEqual(parsed.images[0], images[0], "images must not alias the file buffer");
});

Deno.test("cifar: truncated, empty, CIFAR-100 and bad-label files are rejected", async () => {
  const rng = new Rng(12);
  const record = () => {
    const r = randomBytes(rng, CIFAR10_RECORD_BYTES);
    r[0] = rng.int(10);
    return r;
  };
  await withTempDir(async (dir) => {
    const truncated = `${dir}/truncated.bin`;
    const bytes = new Uint8Array(2 * CIFAR10_RECORD_BYTES);
    bytes.set(record(), 0);
    bytes.set(record(), CIFAR10_RECORD_BYTES);
    await Deno.writeFile(truncated, bytes.subarray(0, 5000));
    await assertInputError(() => loadImageSet(truncated), [
      truncated,
      "5000 bytes",
      "3073",
      "truncated",
    ]);
    const empty = `${dir}/empty.bin`;
    await Deno.writeFile(empty, new Uint8Array(0));
    await assertInputError(() => loadImageSet(empty), [empty, "empty", "3073"]);
  });
  assert.throws(
    () => parseCifarBinary(new Uint8Array(2 * (IMAGE_BYTES + 2)), "c100.bin"),
    /CIFAR-100/,
  );
  const badLabel = new Uint8Array(2 * CIFAR10_RECORD_BYTES);
  badLabel.set(record(), 0);
  badLabel.set(record(), CIFAR10_RECORD_BYTES);
  badLabel[CIFAR10_RECORD_BYTES] = 10;
  await assertInputError(() => parseCifarBinary(badLabel, "labels.bin"), [
    "labels.bin",
    "record 1",
    "label 10",
    `${badLabel.length} bytes`,
  ]);
});

// ---------------------------------------------------------------------------------------------
// PNG

Deno.test("png: 32×32 RGB, RGBA, gray and 16-bit images round-trip exactly", () => {
  const rng = new Rng(21);
  const rgb = randomBytes(rng, PLANE * 3);
  assert.deepEqual(
    pngToImage(pngOf(32, 32, 3, (x, y, c) => rgb[(y * 32 + x) * 3 + c]), "rgb"),
    hwcToChw(rgb, 3),
  );

  const rgba = randomBytes(rng, PLANE * 4);
  const fromRgba = pngToImage(pngOf(32, 32, 4, (x, y, c) => rgba[(y * 32 + x) * 4 + c]), "rgba");
  assert.deepEqual(fromRgba, hwcToChw(rgba, 4), "alpha is dropped, colour kept");

  const gray = randomBytes(rng, PLANE);
  const fromGray = pngToImage(pngOf(32, 32, 1, (x, y) => gray[y * 32 + x]), "gray");
  for (let c = 0; c < 3; c++) assert.deepEqual(fromGray.subarray(c * PLANE, (c + 1) * PLANE), gray);

  const deep = Uint16Array.from(randomBytes(rng, PLANE * 3), (v) => v * 257);
  const fromDeep = pngToImage(pngOf(32, 32, 3, (x, y, c) => deep[(y * 32 + x) * 3 + c], 16), "16");
  assert.deepEqual(fromDeep, hwcToChw(deep, 3, 257));
});

Deno.test("png: palette and 1-bit gray images decode to RGB", () => {
  const palette = [[250, 10, 20], [5, 240, 30], [15, 25, 235]];
  const indices = new Uint8Array(PLANE).map((_, i) => (i * 7 + (i >> 5)) % 3);
  const paletted = encodePng({
    width: 32,
    height: 32,
    data: indices,
    channels: 1,
    depth: 8,
    palette,
  });
  const image = pngToImage(paletted, "palette");
  for (let i = 0; i < PLANE; i++) {
    for (let c = 0; c < 3; c++) assert.equal(image[c * PLANE + i], palette[indices[i]][c]);
  }
  // 1-bit rows are packed into 4 bytes each; bit (x) set when x + y is odd.
  const packed = new Uint8Array(4 * 32);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) if ((x + y) % 2) packed[y * 4 + (x >> 3)] |= 0x80 >> (x & 7);
  }
  const bits = pngToImage(
    encodePng({ width: 32, height: 32, data: packed, channels: 1, depth: 1 }),
    "1bit",
  );
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) assert.equal(pixel(bits, 1, y, x), (x + y) % 2 ? 255 : 0);
  }
});

Deno.test("png: downscale averages areas of the centre square", () => {
  const rng = new Rng(22);
  // 96×64: the centre 64×64 square (columns 16…79) holds constant 2×2 blocks; the sides differ.
  const blocks = randomBytes(rng, PLANE * 3);
  const wide = pngOf(96, 64, 3, (x, y, c) => {
    if (x < 16 || x >= 80) return 255;
    return blocks[((y >> 1) * 32 + ((x - 16) >> 1)) * 3 + c];
  });
  assert.deepEqual(pngToImage(wide, "wide"), hwcToChw(blocks, 3));

  // A non-integer ratio (45 → 32) keeps the mean and stays within the source range.
  const source = randomBytes(rng, 45 * 45);
  const odd = pngToImage(pngOf(45, 45, 1, (x, y) => source[y * 45 + x]), "odd");
  const mean = (values: ArrayLike<number>) =>
    Array.from(values).reduce((s, v) => s + v, 0) / values.length;
  assert.ok(Math.abs(mean(odd.subarray(0, PLANE)) - mean(source)) < 0.3);
  assert.deepEqual(
    pngToImage(pngOf(45, 45, 3, () => 77), "flat"),
    new Uint8Array(IMAGE_BYTES).fill(77),
  );
});

Deno.test("png: upscale interpolates smaller images to 32×32", () => {
  const ramp = pngToImage(pngOf(16, 16, 3, (x, y, c) => [x * 16, y * 16, 99][c]), "ramp");
  assert.equal(ramp.length, IMAGE_BYTES);
  for (let y = 0; y < 32; y++) {
    for (let x = 1; x < 32; x++) {
      assert.ok(pixel(ramp, 0, y, x) >= pixel(ramp, 0, y, x - 1), "red rises along x");
      assert.equal(pixel(ramp, 0, y, x), pixel(ramp, 0, 0, x), "red is constant along y");
      assert.equal(pixel(ramp, 2, y, x), 99);
    }
  }
  assert.equal(pixel(ramp, 0, 0, 0), 0);
  assert.equal(pixel(ramp, 0, 0, 31), 240);
  assert.ok(pixel(ramp, 0, 0, 16) > 100 && pixel(ramp, 0, 0, 16) < 140);
  const dot = pngToImage(pngOf(1, 1, 3, (_x, _y, c) => [9, 200, 31][c]), "dot");
  for (let c = 0; c < 3; c++) {
    assert.ok(dot.subarray(c * PLANE, (c + 1) * PLANE).every((v) => v === [9, 200, 31][c]));
  }
});

Deno.test("png: folder is read sorted, corrupt/empty/missing folders are rejected", async () => {
  const rng = new Rng(23);
  await withTempDir(async (dir) => {
    const second = randomBytes(rng, PLANE * 3);
    const first = randomBytes(rng, PLANE * 3);
    await Deno.writeFile(
      `${dir}/b.png`,
      pngOf(32, 32, 3, (x, y, c) => second[(y * 32 + x) * 3 + c]),
    );
    await Deno.writeFile(
      `${dir}/a.PNG`,
      pngOf(32, 32, 3, (x, y, c) => first[(y * 32 + x) * 3 + c]),
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not an image");
    const folder = await readPngFolder(dir);
    assert.deepEqual(folder.names, ["a.PNG", "b.png"]);
    assert.deepEqual(folder.images, [hwcToChw(first, 3), hwcToChw(second, 3)]);

    const good = await Deno.readFile(`${dir}/b.png`);
    await Deno.writeFile(`${dir}/c.png`, good.subarray(0, Math.floor(good.length / 2)));
    await assertInputError(() => readPngFolder(dir), [`${dir}/c.png`, "not a readable PNG"]);
    const flipped = good.slice();
    flipped[good.length >> 1] ^= 0x5a;
    await Deno.writeFile(`${dir}/c.png`, flipped);
    await assertInputError(() => readPngFolder(dir), [`${dir}/c.png`, "not a readable PNG"]);
    await Deno.writeTextFile(`${dir}/c.png`, "plain text");
    await assertInputError(() => readPngFolder(dir), [`${dir}/c.png`]);

    await Deno.mkdir(`${dir}/empty`);
    await assertInputError(() => readPngFolder(`${dir}/empty`), [`${dir}/empty`, "no *.png"]);
    await assertInputError(() => readPngFolder(`${dir}/missing`), [
      `${dir}/missing`,
      "does not exist",
    ]);
  });
});

Deno.test("png: fixtures/images (RGB, RGBA, 16-bit gray, palette) load as a PNG folder", async () => {
  const set = await loadImageSet(FIXTURES);
  assert.equal(set.kind, "png-folder");
  assert.equal(set.images.length, 4);
  const [rgb, rgba, gray16, palette] = set.images;
  // a_rgb_40x30: centre 30×30 square (columns 5…34) of (6x, 8y, 128), enlarged.
  assert.equal(pixel(rgb, 0, 0, 0), 30);
  assert.ok(pixel(rgb, 1, 31, 0) > pixel(rgb, 1, 0, 0));
  assert.ok(rgb.subarray(2 * PLANE).every((v) => v === 128));
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      assert.deepEqual([0, 1, 2].map((c) => pixel(rgba, c, y, x)), [8 * x, 8 * y, 4 * (x + y)]);
    }
  }
  assert.deepEqual(gray16.subarray(0, PLANE), gray16.subarray(PLANE, 2 * PLANE));
  assert.equal(pixel(gray16, 0, 31, 31), 255);
  assert.deepEqual([0, 1, 2].map((c) => pixel(palette, c, 0, 0)), [200, 30, 30]);
});

Deno.test("images: a relative and an absolute path name the same set (journals resume across both)", async () => {
  const relativePath = relative(Deno.cwd(), FIXTURES);
  assert.notEqual(relativePath, FIXTURES);
  const named = await loadImageSet(relativePath);
  assert.equal(named.name, FIXTURES);
  assert.equal((await loadImageSet(FIXTURES)).name, FIXTURES);
});

// ---------------------------------------------------------------------------------------------
// Procedural images

Deno.test("procedural: deterministic per seed, prefix-stable, different across seeds", () => {
  const a = proceduralImages(6, 5);
  assert.deepEqual(proceduralImages(6, 5), a);
  assert.deepEqual(proceduralImages(3, 5), a.slice(0, 3));
  const b = proceduralImages(6, 6);
  a.forEach((image, i) => assert.notDeepEqual(image, b[i]));
  assert.notDeepEqual(a[0], a[1]);
  assert.ok(a.every((image) => image.length === IMAGE_BYTES));
  assert.throws(() => proceduralImages(0, 1), InputError);
});

Deno.test("procedural: pixel statistics look like natural images", () => {
  const images = proceduralImages(64, 9);
  let low = 255;
  let high = 0;
  let stdSum = 0;
  let neighbourSum = 0;
  let channelSum = 0;
  for (const image of images) {
    const values = Array.from(image);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    assert.ok(std > 8, `image too flat (std ${std.toFixed(1)})`);
    stdSum += std;
    low = Math.min(low, ...values);
    high = Math.max(high, ...values);
    const left: number[] = [];
    const right: number[] = [];
    for (let row = 0; row < 3 * IMAGE_SIDE; row++) {
      for (let x = 0; x + 1 < IMAGE_SIDE; x++) {
        left.push(image[row * IMAGE_SIDE + x]);
        right.push(image[row * IMAGE_SIDE + x + 1]);
      }
    }
    neighbourSum += correlation(left, right);
    channelSum += correlation(image.subarray(0, PLANE), image.subarray(PLANE, 2 * PLANE));
  }
  const n = images.length;
  assert.ok(low <= 10 && high >= 245, `range ${low}…${high}`);
  assert.ok(stdSum / n > 30 && stdSum / n < 80, `mean std ${stdSum / n}`);
  assert.ok(neighbourSum / n > 0.85, `neighbour correlation ${neighbourSum / n}`);
  assert.ok(channelSum / n > 0.6, `R/G correlation ${channelSum / n}`);
});

// ---------------------------------------------------------------------------------------------
// Input batch

const PADDED = [0, 1, 2].map((c) => (0 - CIFAR_MEAN[c]) / CIFAR_STD[c]);
const normalised = (value: number, c: number) => (value / 255 - CIFAR_MEAN[c]) / CIFAR_STD[c];

Deno.test("batch: shape, distinct indices, determinism", () => {
  const images = randomImages(new Rng(31), 40);
  const first = drawBatch(images, 16, new Rng(77));
  assert.equal(first.data.length, 16 * IMAGE_BYTES);
  assert.equal(first.indices.length, 16);
  assert.equal(new Set(first.indices).size, 16);
  assert.ok(first.indices.every((i) => Number.isInteger(i) && i >= 0 && i < 40));
  assert.ok(first.data.every(Number.isFinite));
  assert.deepEqual(drawBatch(images, 16, new Rng(77)), first);
  assert.notDeepEqual(drawBatch(images, 16, new Rng(78)).data, first.data);
  const all = drawBatch(images, 40, new Rng(79));
  assert.deepEqual([...all.indices].sort((a, b) => a - b), images.map((_, i) => i));
});

Deno.test("batch: normalisation of known pixels without crop or flip", () => {
  const images = randomImages(new Rng(32), 5);
  const { data, indices } = drawBatch(images, 5, new Rng(1), { pad: 0, flip: false });
  indices.forEach((source, b) => {
    for (let i = 0; i < IMAGE_BYTES; i++) {
      const c = Math.floor(i / PLANE);
      assert.ok(Math.abs(data[b * IMAGE_BYTES + i] - normalised(images[source][i], c)) < 1e-5);
    }
  });
  const custom = drawBatch([images[0]], 1, new Rng(2), {
    pad: 0,
    flip: false,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.5, 1],
  });
  assert.ok(Math.abs(custom.data[PLANE] - (images[0][PLANE] / 255 - 0.5) / 0.5) < 1e-6);
});

Deno.test("batch: forced crop offsets pad with (0 − mean)/std, flip mirrors", () => {
  assert.ok(PADDED.every((v) => v > -2.0 && v < -1.7), `padded values ${PADDED}`);
  const image = randomImages(new Rng(33), 1)[0];
  const at = (t: Float32Array, c: number, y: number, x: number) =>
    t[(c * IMAGE_SIDE + y) * IMAGE_SIDE + x];
  const topLeft = augmentImage(image, { top: 0, left: 0, pad: 4, flip: false });
  const bottomRight = augmentImage(image, { top: 8, left: 8, pad: 4, flip: false });
  const mirrored = augmentImage(image, { top: 4, left: 4, pad: 4, flip: true });
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const close = (value: number, expected: number) =>
          assert.ok(Math.abs(value - expected) < 1e-5);
        const inTopLeft = y >= 4 && x >= 4;
        close(
          at(topLeft, c, y, x),
          inTopLeft ? normalised(pixel(image, c, y - 4, x - 4), c) : PADDED[c],
        );
        const inBottomRight = y < 28 && x < 28;
        close(
          at(bottomRight, c, y, x),
          inBottomRight ? normalised(pixel(image, c, y + 4, x + 4), c) : PADDED[c],
        );
        close(at(mirrored, c, y, x), normalised(pixel(image, c, y, 31 - x), c));
      }
    }
  }
});

/** Every crop offset and flip that turns `image` into `sample` (exactly one for random images). */
function recoverAugmentation(sample: Float32Array, image: Uint8Array): Augmentation[] {
  const found: Augmentation[] = [];
  for (let top = 0; top <= 8; top++) {
    for (let left = 0; left <= 8; left++) {
      for (const flip of [false, true]) {
        const candidate = { top, left, pad: 4, flip };
        if (matches(sample, image, candidate)) found.push(candidate);
      }
    }
  }
  return found;
}

function matches(sample: Float32Array, image: Uint8Array, a: Augmentation): boolean {
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const sy = a.top + y - a.pad;
        const sx = a.left + (a.flip ? 31 - x : x) - a.pad;
        const inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
        const expected = inside ? normalised(pixel(image, c, sy, sx), c) : PADDED[c];
        if (Math.abs(sample[(c * 32 + y) * 32 + x] - expected) > 1e-5) return false;
      }
    }
  }
  return true;
}

Deno.test("batch: crop offsets uniform over 0…8, flip frequency ≈ 0.5", () => {
  const images = randomImages(new Rng(34), 64);
  const rng = new Rng(35);
  const tops = new Array(9).fill(0);
  let flips = 0;
  let samples = 0;
  for (let draw = 0; draw < 20; draw++) {
    const { data, indices } = drawBatch(images, 64, rng);
    indices.forEach((source, b) => {
      const sample = data.subarray(b * IMAGE_BYTES, (b + 1) * IMAGE_BYTES);
      const found = recoverAugmentation(sample, images[source]);
      assert.equal(found.length, 1, "each sample is one crop/flip of its source image");
      tops[found[0].top]++;
      if (found[0].flip) flips++;
      samples++;
    });
  }
  const flipRate = flips / samples;
  assert.ok(Math.abs(flipRate - 0.5) < 0.06, `flip rate ${flipRate}`);
  for (const count of tops) assert.ok(count > (samples / 9) * 0.6, `crop rows ${tops}`);
  const noFlip = drawBatch(images, 64, rng, { flip: false });
  noFlip.indices.forEach((source, b) => {
    const found = recoverAugmentation(
      noFlip.data.subarray(b * IMAGE_BYTES, (b + 1) * IMAGE_BYTES),
      images[source],
    );
    assert.equal(found[0].flip, false);
  });
});

Deno.test("batch: too few images, bad sizes and bad batch sizes are rejected", async () => {
  const images = randomImages(new Rng(36), 4);
  await assertInputError(() => drawBatch(images, 5, new Rng(1)), ["batch size 5", "has 4"]);
  await assertInputError(() => drawBatch(images, 0, new Rng(1)), ["positive integer"]);
  await assertInputError(() => drawBatch([new Uint8Array(10).fill(3)], 1, new Rng(1)), ["3072"]);
});

// ---------------------------------------------------------------------------------------------
// Image sets

Deno.test("images: no path gives the procedural set; missing paths are rejected", async () => {
  const fallback = await loadImageSet();
  assert.equal(fallback.kind, "procedural");
  assert.equal(fallback.name, PROCEDURAL_IMAGE_SET_NAME);
  assert.equal(fallback.images.length, 256);
  const small = await loadImageSet(undefined, { seed: 3, count: 8 });
  assert.deepEqual(small.images, proceduralImages(8, 3));
  await assertInputError(() => loadImageSet("/no/such/images.bin"), [
    "/no/such/images.bin",
    "does not exist",
  ]);
});

Deno.test({
  name: `images: the shared CIFAR file loads as cifar10-binary${SHARED_BIN.note}`,
  ignore: !SHARED_BIN.present,
  async fn() {
    const set = await loadImageSet(SHARED_BIN.path);
    assert.equal(set.kind, "cifar10-binary");
    assert.equal(set.name, SHARED_BIN.path);
    assert.equal(set.images.length, 256);
  },
});
