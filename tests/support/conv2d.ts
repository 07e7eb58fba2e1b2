/** Shared by the conv2d tests: random inputs, the float64 reference and the three-pass check. */
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  type Conv2dBlock,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dShape,
  convertWeightLayout,
  type WeightLayout,
  type WeightSource,
} from "../../src/kernels/conv2d/mod.ts";
import type { BufferSlice, ConvBlocks, DeviceClass, LaunchContext } from "../../src/gpu/kernel.ts";
import { Rng } from "../../src/util/rng.ts";
import {
  conv2dBackwardDataRef,
  conv2dBackwardWeightRef,
  conv2dForwardRef,
} from "../ref/conv2d_ref.ts";
import { assertClose, type KernelBench, randomArray, type Tolerance } from "./gpu.ts";

/**
 * Tolerance for a sum of K products of values in [-1, 1) (|product| ≈ 0.25 on average),
 * accumulated in f32 in some order while the reference sums the same f32 inputs in float64.
 * f32 rounding grows like a random walk: about eps·sqrt(K) times the typical partial sum
 * (≈ 0.3·sqrt(K)), i.e. ≈ 2e-8·K, at most ≈ 1e-5 for the K ≤ 512 of these tests. atol =
 * 1e-5·sqrt(K) (1e-5 … 2.3e-4) leaves ≥ 20× headroom over that typical error while a single
 * missing, doubled or misplaced term (≈ 0.25) is still caught by 3 orders of magnitude; rtol 1e-4
 * covers the few large outputs.
 */
export function tolerance(terms: number): Tolerance {
  return { atol: 1e-5 * Math.sqrt(Math.max(1, terms)), rtol: 1e-4 };
}

export interface Flags {
  bias: boolean;
  accumulate: boolean;
}

/** How the kernels are called: weight layout, fused input ReLU, forced weight source. */
export interface Variant {
  layout: WeightLayout;
  relu: boolean;
  weightSource?: WeightSource;
  /** Conv register blocks (absent: the default, "large"). */
  blocks?: ConvBlocks;
  /** One register blocking forced on all three passes (absent: the planner's). */
  block?: Conv2dBlock;
}

export const PLAIN: Variant = { layout: "oihw", relu: false };

export interface Inputs {
  x: Float32Array;
  w: Float32Array;
  bias?: Float32Array;
  dy: Float32Array;
}

export interface Expected {
  y: ArrayLike<number>;
  dx: ArrayLike<number>;
  dw: ArrayLike<number>;
  dbias?: ArrayLike<number>;
}

export function sizes(s: Conv2dShape) {
  const { outH, outW } = conv2dOutputSize(s);
  return {
    x: s.batch * s.inChannels * s.inH * s.inW,
    y: s.batch * s.outChannels * outH * outW,
    w: s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW,
  };
}

export function randomInputs(s: Conv2dShape, rng: Rng, bias: boolean): Inputs {
  const n = sizes(s);
  return {
    x: randomArray(rng, n.x),
    w: randomArray(rng, n.w),
    bias: bias ? randomArray(rng, s.outChannels) : undefined,
    dy: randomArray(rng, n.y),
  };
}

/**
 * Float64 reference in PyTorch layout. With `relu` the conv reads max(x, 0) and dx is the
 * gradient with respect to x before the ReLU: masked by x > 0.
 */
export function reference(s: Conv2dShape, io: Inputs, relu = false): Expected {
  const x = relu ? io.x.map((v) => Math.max(v, 0)) : io.x;
  const { dw, dbias } = conv2dBackwardWeightRef(s, io.dy, x);
  const dx = conv2dBackwardDataRef(s, io.dy, io.w);
  if (relu) dx.forEach((_, i) => dx[i] = io.x[i] > 0 ? dx[i] : 0);
  return {
    y: conv2dForwardRef(s, x, io.w, io.bias),
    dx,
    dw,
    dbias: io.bias ? dbias : undefined,
  };
}

export function contextFor(
  bench: KernelBench,
  deviceClass: DeviceClass,
  convBlocks?: ConvBlocks,
): LaunchContext<BufferSlice> {
  return { scratch: (floats) => bench.output(floats), deviceClass, convBlocks };
}

/** Terms per output of each pass (for the tolerance). */
export function termCounts(s: Conv2dShape) {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = s.kernelH * s.kernelW;
  return {
    forward: (s.inChannels / s.groups) * taps,
    data: (s.outChannels / s.groups) * taps,
    weight: s.batch * outH * outW,
  };
}

export interface Results {
  y: Float32Array;
  dx: Float32Array;
  /** In PyTorch layout (converted back from ihwo). */
  dw: Float32Array;
  dbias?: Float32Array;
}

/**
 * Runs all three passes (poisoned or random prior outputs) with the weights (and dw) in
 * `variant.layout`, compares with `expected` (PyTorch layout) and returns the results.
 */
export async function runAndCompare(
  bench: KernelBench,
  deviceClass: DeviceClass,
  s: Conv2dShape,
  io: Inputs,
  expected: Expected,
  flags: Flags,
  what: string,
  variant: Variant = PLAIN,
): Promise<Results> {
  const n = sizes(s);
  const rng = new Rng(`prior ${what}`);
  const prior = (count: number) => flags.accumulate ? randomArray(rng, count) : undefined;
  const priors = { y: prior(n.y), dx: prior(n.x), dw: prior(n.w), db: prior(s.outChannels) };
  const toLayout = (w: Float32Array) =>
    variant.layout === "oihw" ? w : convertWeightLayout(w, s, "oihw", variant.layout);
  const dest = (count: number, p?: Float32Array) => p ? bench.input(p) : bench.output(count);
  const [x, w, dy] = [bench.input(io.x), bench.input(toLayout(io.w)), bench.input(io.dy)];
  const bias = io.bias ? bench.input(io.bias) : undefined;
  const y = dest(n.y, priors.y);
  const dx = dest(n.x, priors.dx);
  const dw = dest(n.w, priors.dw && toLayout(priors.dw));
  const dbias = bias ? dest(s.outChannels, priors.db) : undefined;
  const ctx = contextFor(bench, deviceClass, variant.blocks);
  const o = {
    accumulate: flags.accumulate,
    weightLayout: variant.layout,
    reluInput: variant.relu,
    weightSource: variant.weightSource,
    block: variant.block,
  };
  await bench.run([
    ...conv2dForward(ctx, s, { x, w, bias, y }, o),
    ...conv2dBackwardData(ctx, s, { dy, w, dx, x: variant.relu ? x : undefined }, o),
    ...conv2dBackwardWeight(ctx, s, { dy, x, dw, dbias }, o),
  ]);
  const plus = (e: ArrayLike<number>, p?: Float32Array) =>
    p ? Array.from(e, (v, i) => v + p[i]) : e;
  const terms = termCounts(s);
  const label = `${what} [${deviceClass}, ${variant.layout}${variant.relu ? ", relu" : ""}` +
    `${flags.bias ? ", bias" : ""}${flags.accumulate ? ", accumulate" : ""}]`;
  const got: Results = {
    y: await bench.read(y),
    dx: await bench.read(dx),
    dw: await bench.read(dw),
    dbias: dbias && await bench.read(dbias),
  };
  if (variant.layout !== "oihw") got.dw = convertWeightLayout(got.dw, s, variant.layout, "oihw");
  assertClose(got.y, plus(expected.y, priors.y), tolerance(terms.forward), `${label} y`);
  assertClose(got.dx, plus(expected.dx, priors.dx), tolerance(terms.data), `${label} dx`);
  assertClose(got.dw, plus(expected.dw, priors.dw), tolerance(terms.weight), `${label} dw`);
  if (got.dbias && expected.dbias) {
    assertClose(
      got.dbias,
      plus(expected.dbias, priors.db),
      tolerance(terms.weight),
      `${label} dbias`,
    );
  }
  return got;
}
