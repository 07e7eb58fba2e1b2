/**
 * Synthetic signal bases of GENNAS_SPEC §2.4–§2.9: sin1d, sin2d, dot, dot_gaussian and resize.
 * Every generator is a pure function of its arguments and an Rng, and returns a Float64Array laid
 * out as [B][C][H][W]. Grid coordinates are 1-based in the formulas ((i+1), (j+1)), as in the
 * reference, and frequencies are in cycles per output pixel.
 */
import type { Rng } from "../util/rng.ts";

/** Output map size. For NLP (§2.11) the sin pools live on a square of side `poolSide`. */
export interface MapGrid {
  height: number;
  width: number;
  /**
   * Side S of the square on which sin pools are generated before cropping to height × width
   * (NLP: S = max(l, d)). It only matters for sin2d's row flip (S − 1 − i); default `height`.
   */
  poolSide?: number;
}

export const CNN_GRID: Readonly<MapGrid> = { height: 8, width: 8 };

/** Phases drawn per frequency (sin1d) or frequency pair (sin2d). */
export const PHASES_PER_FREQUENCY = 32;
/** Pool maps per frequency or pair: 32 phases × 2 orientations (rows/columns, or plain/flipped). */
export const MAPS_PER_GROUP = 2 * PHASES_PER_FREQUENCY;
/** resize picks channels as randperm(RESIZE_PERMUTATION)[:C] mod 3. */
export const RESIZE_PERMUTATION = 1000;
export const GAUSSIAN_SIGMA = 1;
export const GAUSSIAN_TRUNCATE = 4;

export interface SinParams {
  range: readonly number[];
  local: boolean;
}

export interface DotParams {
  partial: number;
  local: boolean;
}

const TWO_PI = 2 * Math.PI;

function mapSize(grid: MapGrid): number {
  return grid.height * grid.width;
}

/** s_k of the spec: sin for even k, cos for odd k. */
function wave(k: number, angle: number): number {
  return k % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
}

// ---------------------------------------------------------------------------------------------
// sin1d / sin2d

/** One sin1d map: rows Y_k(i,j) = s_k(2πβ(i+1) + φ), or columns X_k(i,j) = s_k(2πβ(j+1) + φ). */
export function sin1dMap(
  beta: number,
  phase: number,
  k: number,
  orientation: "row" | "column",
  grid: MapGrid,
): Float64Array {
  const out = new Float64Array(mapSize(grid));
  writeSin1dMap(out, 0, beta, phase, k, orientation, grid);
  return out;
}

function writeSin1dMap(
  out: Float64Array,
  offset: number,
  beta: number,
  phase: number,
  k: number,
  orientation: "row" | "column",
  grid: MapGrid,
): void {
  for (let i = 0; i < grid.height; i++) {
    for (let j = 0; j < grid.width; j++) {
      const position = orientation === "row" ? i + 1 : j + 1;
      out[offset + i * grid.width + j] = wave(k, TWO_PI * beta * position + phase);
    }
  }
}

/**
 * One sin2d map D_k(i,j) = s_k(2πβ1(i+1) + 2πβ2(j+1) + 2φ), or its row-flipped copy
 * F_k(i,j) = D_k(S−1−i, j) with S the pool side.
 */
export function sin2dMap(
  beta1: number,
  beta2: number,
  phase: number,
  k: number,
  flipped: boolean,
  grid: MapGrid,
): Float64Array {
  const out = new Float64Array(mapSize(grid));
  writeSin2dMap(out, 0, beta1, beta2, phase, k, flipped, grid);
  return out;
}

function writeSin2dMap(
  out: Float64Array,
  offset: number,
  beta1: number,
  beta2: number,
  phase: number,
  k: number,
  flipped: boolean,
  grid: MapGrid,
): void {
  const side = grid.poolSide ?? grid.height;
  for (let i = 0; i < grid.height; i++) {
    const row = flipped ? side - 1 - i : i;
    for (let j = 0; j < grid.width; j++) {
      const angle = TWO_PI * beta1 * (row + 1) + TWO_PI * beta2 * (j + 1) + 2 * phase;
      out[offset + i * grid.width + j] = wave(k, angle);
    }
  }
}

/** Number of maps in the sin1d pool (64·|R|) or sin2d pool (64·|R|²). */
export function sinPoolSize(kind: "sin1d" | "sin2d", range: readonly number[]): number {
  const groups = kind === "sin1d" ? range.length : range.length * range.length;
  return MAPS_PER_GROUP * groups;
}

/** 32 phases U[0, 2π) per group (frequency or ordered pair), group after group. */
function drawPhases(groups: number, rng: Rng): Float64Array {
  const phases = new Float64Array(groups * PHASES_PER_FREQUENCY);
  for (let i = 0; i < phases.length; i++) phases[i] = TWO_PI * rng.uniform();
  return phases;
}

/** Writes pool map `index` (pool order of spec §2.4 / §2.5) given the drawn phases. */
function writePoolMap(
  kind: "sin1d" | "sin2d",
  range: readonly number[],
  phases: Float64Array,
  index: number,
  grid: MapGrid,
  out: Float64Array,
  offset: number,
): void {
  const group = Math.floor(index / MAPS_PER_GROUP);
  const within = index % MAPS_PER_GROUP;
  const k = within % PHASES_PER_FREQUENCY;
  const secondHalf = within >= PHASES_PER_FREQUENCY;
  const phase = phases[group * PHASES_PER_FREQUENCY + k];
  if (kind === "sin1d") {
    writeSin1dMap(out, offset, range[group], phase, k, secondHalf ? "column" : "row", grid);
  } else {
    const beta1 = range[Math.floor(group / range.length)];
    const beta2 = range[group % range.length];
    writeSin2dMap(out, offset, beta1, beta2, phase, k, secondHalf, grid);
  }
}

/** The whole pool, [64·groups][H][W], in pool order (phases drawn from `rng`). */
export function sinPool(
  kind: "sin1d" | "sin2d",
  range: readonly number[],
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  const size = sinPoolSize(kind, range);
  const phases = drawPhases(size / MAPS_PER_GROUP, rng);
  const out = new Float64Array(size * mapSize(grid));
  for (let p = 0; p < size; p++) writePoolMap(kind, range, phases, p, grid, out, p * mapSize(grid));
  return out;
}

/** Draws a pool's phases, then keeps the first C entries of a random permutation of the pool. */
function writeSinSelection(
  kind: "sin1d" | "sin2d",
  range: readonly number[],
  channels: number,
  grid: MapGrid,
  rng: Rng,
  out: Float64Array,
  offset: number,
): void {
  const size = sinPoolSize(kind, range);
  const phases = drawPhases(size / MAPS_PER_GROUP, rng);
  const chosen = samplePositions(size, channels, rng);
  for (let c = 0; c < channels; c++) {
    writePoolMap(kind, range, phases, chosen[c], grid, out, offset + c * mapSize(grid));
  }
}

function sinSignal(
  kind: "sin1d" | "sin2d",
  params: SinParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  if (params.range.length === 0) throw new RangeError(`${kind} needs a non-empty range`);
  const size = sinPoolSize(kind, params.range);
  if (channels > size) {
    throw new RangeError(`${kind}: ${channels} channels requested from a pool of ${size} maps`);
  }
  return perElementOrTiled(
    params.local,
    batch,
    channels * mapSize(grid),
    (out, offset) => writeSinSelection(kind, params.range, channels, grid, rng, out, offset),
  );
}

/** sin1d signal (§2.4), [B][C][H][W]. */
export function sin1dSignal(
  params: SinParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  return sinSignal("sin1d", params, batch, channels, grid, rng);
}

/** sin2d signal (§2.5), [B][C][H][W]. */
export function sin2dSignal(
  params: SinParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  return sinSignal("sin2d", params, batch, channels, grid, rng);
}

// ---------------------------------------------------------------------------------------------
// dot / dot_gaussian

/** n = floor(partial × H × W) dots per map. */
export function dotCount(partial: number, grid: MapGrid): number {
  return Math.floor(partial * mapSize(grid));
}

/** `count` distinct values of 0..n-1, uniformly, in random order (partial Fisher–Yates). */
function samplePositions(n: number, count: number, rng: Rng): Int32Array {
  const pool = new Int32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return pool.subarray(0, count);
}

/** A zero map with n distinct cells set to ±1 (each sign with probability ½). */
export function dotMap(n: number, grid: MapGrid, rng: Rng): Float64Array {
  const out = new Float64Array(mapSize(grid));
  writeDotMap(out, 0, n, grid, rng);
  return out;
}

function writeDotMap(out: Float64Array, offset: number, n: number, grid: MapGrid, rng: Rng): void {
  for (const position of samplePositions(mapSize(grid), n, rng)) {
    out[offset + position] = rng.bernoulli(0.5) ? 1 : -1;
  }
}

/** scipy.ndimage's 1-D Gaussian kernel: radius floor(truncate·σ + ½), exp(−x²/2σ²), sum 1. */
export function gaussianKernel1d(
  sigma = GAUSSIAN_SIGMA,
  truncate = GAUSSIAN_TRUNCATE,
): Float64Array {
  const radius = Math.floor(truncate * sigma + 0.5);
  const weights = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) {
    weights[x + radius] = Math.exp((-0.5 / (sigma * sigma)) * x * x);
    sum += weights[x + radius];
  }
  for (let i = 0; i < weights.length; i++) weights[i] /= sum;
  return weights;
}

/** scipy "reflect" (half-sample symmetric): d c b a | a b c d | d c b a. */
export function reflectIndex(index: number, n: number): number {
  const period = 2 * n;
  const m = ((index % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/**
 * Symmetric 1-D correlation along one axis of a height × width map, with reflect boundaries.
 * Summed as scipy does for symmetric kernels: centre, then w[r+j]·(x[i+j] + x[i−j]).
 */
function filterAxis(
  input: Float64Array,
  height: number,
  width: number,
  weights: Float64Array,
  axis: 0 | 1,
): Float64Array {
  const out = new Float64Array(input.length);
  const radius = (weights.length - 1) / 2;
  const length = axis === 0 ? height : width;
  const at = (i: number, j: number, shift: number) =>
    axis === 0
      ? input[reflectIndex(i + shift, length) * width + j]
      : input[i * width + reflectIndex(j + shift, length)];
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      let acc = input[i * width + j] * weights[radius];
      for (let s = 1; s <= radius; s++) acc += (at(i, j, s) + at(i, j, -s)) * weights[radius + s];
      out[i * width + j] = acc;
    }
  }
  return out;
}

/** scipy.ndimage.gaussian_filter(map, σ=1) in float64: axis 0 (down columns), then axis 1. */
export function gaussianFilter2d(
  map: Float64Array,
  height: number,
  width: number,
  weights: Float64Array = gaussianKernel1d(),
): Float64Array {
  return filterAxis(filterAxis(map, height, width, weights, 0), height, width, weights, 1);
}

/** Divides a map by max(|min|, |max|) in place; an all-zero map becomes NaN, as in the reference. */
export function normaliseByMaxAbs(map: Float64Array): Float64Array {
  let low = Infinity;
  let high = -Infinity;
  for (const v of map) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  const scale = Math.max(Math.abs(low), Math.abs(high));
  for (let i = 0; i < map.length; i++) map[i] /= scale;
  return map;
}

function writeGaussianDotMap(
  out: Float64Array,
  offset: number,
  n: number,
  grid: MapGrid,
  weights: Float64Array,
  rng: Rng,
): void {
  const filtered = gaussianFilter2d(dotMap(n, grid, rng), grid.height, grid.width, weights);
  out.set(normaliseByMaxAbs(filtered), offset);
}

function dotLikeSignal(
  params: DotParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  writeMap: (out: Float64Array, offset: number, n: number) => void,
): Float64Array {
  const n = dotCount(params.partial, grid);
  const size = mapSize(grid);
  return perElementOrTiled(params.local, batch, channels * size, (out, offset) => {
    for (let c = 0; c < channels; c++) writeMap(out, offset + c * size, n);
  });
}

/** dot signal (§2.6), [B][C][H][W]. */
export function dotSignal(
  params: DotParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  return dotLikeSignal(
    params,
    batch,
    channels,
    grid,
    (out, offset, n) => writeDotMap(out, offset, n, grid, rng),
  );
}

/** dot_gaussian signal (§2.7), [B][C][H][W]; NaN maps when floor(partial·H·W) = 0. */
export function dotGaussianSignal(
  params: DotParams,
  batch: number,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  const weights = gaussianKernel1d();
  return dotLikeSignal(
    params,
    batch,
    channels,
    grid,
    (out, offset, n) => writeGaussianDotMap(out, offset, n, grid, weights, rng),
  );
}

// ---------------------------------------------------------------------------------------------
// resize

/** Clean normalised input images, [batch][channels][height][width]. */
export interface ImageBatch {
  data: Float32Array;
  batch: number;
  channels: number;
  height: number;
  width: number;
}

/** Nearest-neighbour downsampling as torch F.interpolate: source index floor(dst · in / out). */
export function nearestDownsample(images: ImageBatch, grid: MapGrid): Float64Array {
  const { batch, channels, height, width, data } = images;
  if (data.length !== batch * channels * height * width) {
    throw new RangeError(
      `image batch has ${data.length} values, expected ${batch}×${channels}×${height}×${width}`,
    );
  }
  const out = new Float64Array(batch * channels * mapSize(grid));
  let o = 0;
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let i = 0; i < grid.height; i++) {
      const si = Math.floor((i * height) / grid.height);
      for (let j = 0; j < grid.width; j++) {
        const sj = Math.floor((j * width) / grid.width);
        out[o++] = data[(plane * height + si) * width + sj];
      }
    }
  }
  return out;
}

/** R ← R − min(R); R ← 2·(R / max(R) − ½) over the whole tensor, in place (range [−1, 1]). */
export function normaliseWholeTensor(values: Float64Array): Float64Array {
  let low = Infinity;
  for (const v of values) if (v < low) low = v;
  let high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    values[i] -= low;
    if (values[i] > high) high = values[i];
  }
  for (let i = 0; i < values.length; i++) values[i] = 2 * (values[i] / high - 0.5);
  return values;
}

/** Target channel m reads image plane randperm(1000)[m] mod 3 (same for every batch element). */
export function resizeChannelMap(channels: number, imageChannels: number, rng: Rng): number[] {
  if (channels > RESIZE_PERMUTATION) {
    throw new RangeError(`resize supports at most ${RESIZE_PERMUTATION} channels, got ${channels}`);
  }
  return Array.from(samplePositions(RESIZE_PERMUTATION, channels, rng), (c) => c % imageChannels);
}

/** resize signal (§2.8), [B][C][H][W]: the downsampled, normalised clean images. */
export function resizeSignal(
  images: ImageBatch,
  channels: number,
  grid: MapGrid,
  rng: Rng,
): Float64Array {
  const planes = normaliseWholeTensor(nearestDownsample(images, grid));
  const channelMap = resizeChannelMap(channels, images.channels, rng);
  const size = mapSize(grid);
  const out = new Float64Array(images.batch * channels * size);
  for (let b = 0; b < images.batch; b++) {
    channelMap.forEach((source, m) => {
      const from = (b * images.channels + source) * size;
      out.set(planes.subarray(from, from + size), (b * channels + m) * size);
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/**
 * local: `writeElement` runs once per batch element (independent draws). global: it runs once and
 * the result is tiled over the batch (§2.9).
 */
function perElementOrTiled(
  local: boolean,
  batch: number,
  elementSize: number,
  writeElement: (out: Float64Array, offset: number) => void,
): Float64Array {
  const out = new Float64Array(batch * elementSize);
  if (batch === 0) return out;
  if (local) {
    for (let b = 0; b < batch; b++) writeElement(out, b * elementSize);
  } else {
    writeElement(out, 0);
    for (let b = 1; b < batch; b++) out.copyWithin(b * elementSize, 0, elementSize);
  }
  return out;
}
