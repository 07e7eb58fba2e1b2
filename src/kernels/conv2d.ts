/**
 * 2-D convolution: forward, data gradient and weight gradient.
 *
 * x [N][Cin][H][W], y [N][Cout][outH][outW], bias [Cout], f32. Weights (and their gradient) are
 * in either of two layouts (`weightLayout`): "oihw", PyTorch's [Cout][Cin/groups][kh][kw] (the
 * default), or "ihwo", [Cin/groups][kh][kw][Cout], which the forward kernel reads directly and
 * which the graph keeps its conv weights in (`convertWeightLayout` converts on the host).
 *
 * Forward and data gradient share one direct, register-blocked kernel (shaders/conv2d_direct.wgsl):
 * each invocation accumulates OCB channels × a tile of outputs over a runtime loop on the reduced
 * channels (KB of them per iteration), with the kernel taps and the register block unrolled in a
 * generated entry point. The data gradient is the same kernel in gather form (dx from dy, one
 * register block per stride phase). The kernel reads the caller's weights in place when their
 * layout allows vec4 loads (or when that is cheaper than one more launch), else a copy transposed
 * into scratch by a small launch (shaders/conv2d_aux.wgsl), in which a block's weights are
 * contiguous vec4s. The weight gradient is split over N·outH·outW (shaders/conv2d_wgrad.wgsl)
 * and, when split, summed (weight and bias together) by one conv2d_aux.wgsl launch, which also
 * applies `accumulate`.
 *
 * `reluInput` fuses a ReLU on the input: the forward and the weight gradient read max(x, 0), and
 * the data gradient, given x, multiplies its result by [x > 0] before accumulating.
 *
 * Blocking is chosen per shape and per device class by a small cost model (`conv2dPlan`): on
 * lavapipe every storage load with a computed index is a per-lane scalar gather, far dearer than
 * an FMA, so the "cpu" plans maximise FMAs per load within a code-size cap (the JIT cost of an
 * unrolled block grows with it); "gpu" plans use small blocks and many invocations.
 */
import directTemplate from "../../shaders/conv2d_direct.wgsl" with { type: "text" };
import wgradTemplate from "../../shaders/conv2d_wgrad.wgsl" with { type: "text" };
import auxSource from "../../shaders/conv2d_aux.wgsl" with { type: "text" };
import {
  type DeviceClass,
  grid,
  grid1d,
  type KernelSpec,
  type Launch,
  type LaunchContext,
} from "../gpu/kernel.ts";

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  inH: number;
  inW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** A size given once for both axes, or as [height, width]. */
export type PairArg = number | readonly [number, number];

export interface Conv2dParams {
  batch: number;
  inChannels: number;
  outChannels: number;
  inH: number;
  inW: number;
  kernel: PairArg;
  stride?: PairArg;
  pad?: PairArg;
  dilation?: PairArg;
  groups?: number;
}

function pair(value: PairArg | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  return typeof value === "number" ? [value, value] : [value[0], value[1]];
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`conv2d: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Normalises and validates convolution parameters (RangeError naming the field). */
export function conv2dShape(p: Conv2dParams): Conv2dShape {
  const [kernelH, kernelW] = pair(p.kernel, 1);
  const [strideH, strideW] = pair(p.stride, 1);
  const [padH, padW] = pair(p.pad, 0);
  const [dilationH, dilationW] = pair(p.dilation, 1);
  const groups = p.groups ?? 1;
  const s: Conv2dShape = {
    batch: p.batch,
    inChannels: p.inChannels,
    outChannels: p.outChannels,
    inH: p.inH,
    inW: p.inW,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    groups,
  };
  for (const key of Object.keys(s) as (keyof Conv2dShape)[]) {
    requireInt(key, s[key], key === "padH" || key === "padW" ? 0 : 1);
  }
  if (s.inChannels % groups !== 0 || s.outChannels % groups !== 0) {
    throw new RangeError(
      `conv2d: groups (${groups}) must divide inChannels (${s.inChannels}) and outChannels ` +
        `(${s.outChannels})`,
    );
  }
  const { outH, outW } = conv2dOutputSize(s);
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `conv2d: output would be ${outH}×${outW}; the ${s.inH}×${s.inW} input ` +
        `(pad ${padH}×${padW}) ` +
        `is smaller than the dilated ${kernelH}×${kernelW} kernel`,
    );
  }
  return s;
}

export function conv2dOutputSize(s: Conv2dShape): { outH: number; outW: number } {
  const extent = (size: number, pad: number, k: number, dil: number, stride: number) =>
    Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  return {
    outH: extent(s.inH, s.padH, s.kernelH, s.dilationH, s.strideH),
    outW: extent(s.inW, s.padW, s.kernelW, s.dilationW, s.strideW),
  };
}

/** 2·MACs of the forward pass (also the FLOPs of each gradient). */
export function conv2dFlops(s: Conv2dShape): number {
  const { outH, outW } = conv2dOutputSize(s);
  return 2 * s.batch * s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW * outH *
    outW;
}

// ---------------------------------------------------------------------------------------------
// Tap geometry

/**
 * For each output position of a tile along one axis, the (src offset, kernel index) pairs that
 * reach it; offsets are relative to the tile's first src row (or column).
 */
type AxisTaps = readonly (readonly (readonly [number, number])[])[];

function forwardTaps(block: number, k: number, stride: number, dilation: number): AxisTaps {
  return Array.from(
    { length: block },
    (_, j) => Array.from({ length: k }, (_, t) => [j * stride + t * dilation, t] as const),
  );
}

/**
 * Data-gradient taps: tile position r = j·stride + phase of dx is reached by dy position
 * j + (phase + padMod − t·dilation)/stride whenever that division is exact.
 */
function dataGradTaps(
  block: number,
  k: number,
  stride: number,
  dilation: number,
  padMod: number,
): AxisTaps {
  const taps: (readonly [number, number])[][] = [];
  for (let r = 0; r < block * stride; r++) {
    const j = Math.floor(r / stride);
    const phase = r % stride;
    const list: (readonly [number, number])[] = [];
    for (let t = 0; t < k; t++) {
      const num = phase + padMod - t * dilation;
      if (((num % stride) + stride) % stride === 0) list.push([j + num / stride, t]);
    }
    taps.push(list);
  }
  return taps;
}

function distinctOffsets(taps: AxisTaps): number[] {
  return [...new Set(taps.flat().map(([offset]) => offset))].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Weight layouts

/**
 * "oihw": PyTorch's [Cout][Cin/groups][kh][kw]. "ihwo": [Cin/groups][kh][kw][Cout] (output
 * channels innermost, groups side by side along Cout), what the forward kernel reads.
 */
export type WeightLayout = "oihw" | "ihwo";

/** Options of the three passes. */
export interface Conv2dOptions {
  /** Add to y, dx or dw (and dbias) instead of overwriting them. */
  accumulate?: boolean;
  /** Layout of w and of dw (default "oihw"). */
  weightLayout?: WeightLayout;
  /**
   * The convolution's input is max(x, 0): forward and weight gradient read x through a ReLU,
   * and the data gradient (which then needs `io.x`) is masked by x > 0.
   */
  reluInput?: boolean;
}

/**
 * Strides (in floats) of a weight layout seen from a direct pass: weight (g, c, tap, ch) with
 * c the reduced (loop) channel and ch the dst channel, both local to group g.
 */
interface WeightStrides {
  group: number;
  loop: number;
  tap: number;
  channel: number;
}

function layoutStrides(
  s: Conv2dShape,
  pass: "forward" | "data",
  layout: WeightLayout,
): WeightStrides {
  const cin = s.inChannels / s.groups;
  const cout = s.outChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  if (layout === "oihw") {
    const group = cout * cin * kk;
    return pass === "forward"
      ? { group, loop: kk, tap: 1, channel: cin * kk }
      : { group, loop: cin * kk, tap: 1, channel: kk };
  }
  const cAll = s.outChannels;
  return pass === "forward"
    ? { group: cout, loop: kk * cAll, tap: cAll, channel: 1 }
    : { group: cout, loop: 1, tap: cAll, channel: kk * cAll };
}

/** dw strides (co global, ci local to its group, tap) of a layout. */
function gradientStrides(s: Conv2dShape, layout: WeightLayout) {
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  return layout === "oihw"
    ? { co: cin * kk, ci: kk, tap: 1 }
    : { co: 1, ci: kk * s.outChannels, tap: s.outChannels };
}

/** Weights of shape `s` converted between layouts on the host (a new array). */
export function convertWeightLayout(
  w: Float32Array,
  s: Conv2dShape,
  from: WeightLayout,
  to: WeightLayout,
): Float32Array {
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  const size = s.outChannels * cin * kk;
  if (w.length !== size) {
    throw new RangeError(`convertWeightLayout: expected ${size} weights, got ${w.length}`);
  }
  if (from === to) return w.slice();
  const src = gradientStrides(s, from);
  const dst = gradientStrides(s, to);
  const out = new Float32Array(size);
  for (let co = 0; co < s.outChannels; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let tap = 0; tap < kk; tap++) {
        out[co * dst.co + ci * dst.ci + tap * dst.tap] =
          w[co * src.co + ci * src.ci + tap * src.tap];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Planning

export type Conv2dPass = "forward" | "data" | "weight";

/** Blocking of one pass, as chosen by `conv2dPlan` (exported for benchmarks and tests). */
export interface Conv2dPlan {
  pass: Conv2dPass;
  /** Output channels per invocation (forward, weight), input channels (data). */
  ocb: number;
  /** Input channels per invocation (weight; 1 for forward and data). */
  icb: number;
  /** Reduced channels per loop iteration (forward, data; 1 for weight). */
  kb: number;
  /**
   * Rows × columns of the block: output positions (forward), dy positions (weight) or
   * dy-sized steps of dx (data: the block covers rows·strideH × cols·strideW of dx).
   */
  rows: number;
  cols: number;
  workgroupSize: number;
  /** Split-K chunks of the weight gradient (1 otherwise). */
  chunks: number;
  /**
   * Forward and data: weights read in place ("direct") or from a transposed copy ("scratch",
   * one more launch); how they are loaded: vec4 along dst or reduced channels, or f32.
   */
  weights: "direct" | "scratch";
  weightVector: WeightVector;
  /** Launches of this pass. */
  launches: number;
  /** Unrolled FMAs per loop iteration (code size) and gathers per iteration. */
  fmas: number;
  loads: number;
}

interface ClassTuning {
  /** Cost of one gathered f32 load, in FMAs (a vec4 load costs VEC4_LOADS of them). */
  loadCost: number;
  /** Cost of keeping one accumulator (spill traffic per iteration), in FMAs. */
  accumulatorCost: number;
  maxFmas: number;
  maxAccumulators: number;
  /** Invocations below which the device idles. */
  minInvocations: number;
  channelBlocks: readonly number[];
  rowBlocks: readonly number[];
  colBlocks: readonly number[];
  /**
   * Reduced channels per iteration of the direct kernel (only divisors of the loop count, and
   * only 1 but for 1×1 kernels).
   */
  loopBlocks: readonly number[];
  /** Invocations the weight gradient aims for (split-K). */
  weightInvocations: number;
  /** Fixed cost of one more launch, in FMAs (see `totalCost`). */
  launchCost: number;
}

/** Cost of a vec4 gather in f32 gathers (measured on lavapipe: ≈ 2.1). */
const VEC4_LOADS = 2.1;

const TUNING: Record<DeviceClass, ClassTuning> = {
  cpu: {
    loadCost: 10,
    accumulatorCost: 1,
    maxFmas: 2400,
    maxAccumulators: 320,
    minInvocations: 32,
    channelBlocks: [1, 2, 4, 8, 16, 32],
    rowBlocks: [1, 2, 4, 8],
    colBlocks: [1, 2, 4, 8, 16],
    loopBlocks: [1, 2, 4],
    weightInvocations: 128,
    // ≈ 20 µs of lavapipe dispatch overhead at ≈ 50 G cost units per second (2 cores).
    launchCost: 1e6,
  },
  gpu: {
    loadCost: 2,
    accumulatorCost: 0.5,
    maxFmas: 512,
    maxAccumulators: 32,
    minInvocations: 16384,
    channelBlocks: [1, 2, 4, 8],
    rowBlocks: [1, 2, 4],
    colBlocks: [1, 2, 4],
    loopBlocks: [1, 2, 4],
    weightInvocations: 32768,
    launchCost: 1e6,
  },
};

/**
 * How the direct kernel loads weights: vec4 along dst channels (4 block channels at once), vec4
 * along reduced channels (4 unrolled loop channels at once) or one f32 at a time.
 */
export type WeightVector = "dst" | "loop" | "none";

/** The structure a generated entry point depends on; the kernel name encodes all of it. */
interface DirectStructure {
  pass: "forward" | "data";
  ocb: number;
  rows: number;
  cols: number;
  /** Reduced channels per loop iteration (divides the loop count). */
  kb: number;
  weightVector: WeightVector;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  /** Data gradient: pad mod stride, per axis (0 for the forward). */
  padModH: number;
  padModW: number;
  /** src read as aligned vec4 column groups: the tile's first src column mod 4; else -1. */
  colAlign: number;
  /** dst written four columns at a time (dst width and tile columns multiples of 4). */
  vectorStore: boolean;
  /** Data gradient with a fused ReLU, vector stores: the x mask read as vec4 too. */
  vectorMask: boolean;
}

interface WeightStructure {
  ocb: number;
  icb: number;
  rows: number;
  cols: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  withBias: boolean;
  /** dy read as vec4 along columns (OW and cols multiples of 4). */
  vectorDy: boolean;
}

function directTaps(d: DirectStructure): { rows: AxisTaps; cols: AxisTaps } {
  if (d.pass === "forward") {
    return {
      rows: forwardTaps(d.rows, d.kernelH, d.strideH, d.dilationH),
      cols: forwardTaps(d.cols, d.kernelW, d.strideW, d.dilationW),
    };
  }
  return {
    rows: dataGradTaps(d.rows, d.kernelH, d.strideH, d.dilationH, d.padModH),
    cols: dataGradTaps(d.cols, d.kernelW, d.strideW, d.dilationW, d.padModW),
  };
}

/** Gathers per channel of one iteration: the (row, column) src pairs some tap reads. */
function usedPairs(rows: AxisTaps, cols: AxisTaps): Set<string> {
  const pairs = new Set<string>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [ro] of rowTaps) for (const [co] of colTaps) pairs.add(`${ro},${co}`);
    }
  }
  return pairs;
}

function usedTaps(rows: AxisTaps, cols: AxisTaps, kernelW: number): number[] {
  const taps = new Set<number>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [, ky] of rowTaps) for (const [, kx] of colTaps) taps.add(ky * kernelW + kx);
    }
  }
  return [...taps].sort((a, b) => a - b);
}

function sumOfProducts(rows: AxisTaps, cols: AxisTaps): number {
  const colTotal = cols.reduce((sum, c) => sum + c.length, 0);
  return rows.reduce((sum, r) => sum + r.length, 0) * colTotal;
}

/** Fraction of `count` covered usefully by blocks of `block`. */
function utilisation(count: number, block: number): number {
  return count / (Math.ceil(count / block) * block);
}

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/** Geometry of a direct pass, seen from the kernel: src → dst. */
interface DirectGeometry {
  /** dst channels per group, src channels per group (reduced). */
  outPerGroup: number;
  loopPerGroup: number;
  outH: number;
  outW: number;
  /** dst rows/columns per register-block row/column (the stride for the data gradient). */
  rowsPerBlockRow: number;
  colsPerBlockCol: number;
}

function directGeometry(s: Conv2dShape, pass: "forward" | "data"): DirectGeometry {
  const { outH, outW } = conv2dOutputSize(s);
  const cin = s.inChannels / s.groups;
  const cout = s.outChannels / s.groups;
  return pass === "forward"
    ? {
      outPerGroup: cout,
      loopPerGroup: cin,
      outH,
      outW,
      rowsPerBlockRow: 1,
      colsPerBlockCol: 1,
    }
    : {
      outPerGroup: cin,
      loopPerGroup: cout,
      outH: s.inH,
      outW: s.inW,
      rowsPerBlockRow: s.strideH,
      colsPerBlockCol: s.strideW,
    };
}

function directStructure(
  s: Conv2dShape,
  pass: "forward" | "data",
  ocb: number,
  rows: number,
  cols: number,
  kb: number,
  weightVector: WeightVector,
): DirectStructure {
  return {
    pass,
    ocb,
    rows,
    cols,
    kb,
    weightVector,
    kernelH: s.kernelH,
    kernelW: s.kernelW,
    strideH: s.strideH,
    strideW: s.strideW,
    dilationH: s.dilationH,
    dilationW: s.dilationW,
    padModH: pass === "data" ? s.padH % s.strideH : 0,
    padModW: pass === "data" ? s.padW % s.strideW : 0,
    colAlign: columnAlignment(s, pass, cols),
    vectorStore: directGeometry(s, pass).outW % 4 === 0 &&
      (cols * directGeometry(s, pass).colsPerBlockCol) % 4 === 0,
    vectorMask: false,
  };
}

/** See DirectStructure.colAlign: vec4 columns need 4 | src width and 4 | the tile's column step. */
function columnAlignment(s: Conv2dShape, pass: "forward" | "data", cols: number): number {
  const forward = pass === "forward";
  const srcWidth = forward ? s.inW : conv2dOutputSize(s).outW;
  const step = forward ? cols * s.strideW : cols;
  if (srcWidth % 4 !== 0 || step % 4 !== 0) return -1;
  const shift = forward ? -s.padW : Math.floor(s.padW / s.strideW);
  return ((shift % 4) + 4) % 4;
}

/** The vec4 column group and component of src column offset `off` (vector mode). */
function columnSlot(colAlign: number, off: number): { group: number; lane: number } {
  const c = colAlign + off;
  return { group: Math.floor(c / 4), lane: ((c % 4) + 4) % 4 };
}

/** Distinct gathers of one src channel: (row, column) pairs, or (row, vec4 group) pairs. */
function srcGathers(d: DirectStructure, rows: AxisTaps, cols: AxisTaps): Set<string> {
  if (d.colAlign < 0) return usedPairs(rows, cols);
  const gathers = new Set<string>();
  for (const key of usedPairs(rows, cols)) {
    const [ro, co] = key.split(",").map(Number);
    gathers.add(`${ro},${columnSlot(d.colAlign, co).group}`);
  }
  return gathers;
}

interface Candidate<T> {
  structure: T;
  cost: number;
  fmas: number;
  loads: number;
}

/** Plans are pure functions of their key; the graph may ask for the same one many times. */
const plans = new Map<string, unknown>();

function memo<T>(key: string, choose: () => T): T {
  if (!plans.has(key)) plans.set(key, choose());
  return plans.get(key) as T;
}

/** A direct plan: the blocking and where the kernel reads the weights from. */
interface DirectChoice extends Candidate<DirectStructure> {
  source: "direct" | "scratch";
}

/**
 * The best blocking of a direct pass, reading the weights in place or from a transposed copy
 * (one more launch, `launchCost`), whichever `totalCost` finds cheaper.
 */
function chooseDirect(
  s: Conv2dShape,
  pass: "forward" | "data",
  device: DeviceClass,
  layout: WeightLayout,
): DirectChoice {
  const forced = forcedWeightSource;
  return memo(`${pass} ${device} ${layout} ${forced} ${JSON.stringify(s)}`, () => {
    const tune = TUNING[device];
    const g = directGeometry(s, pass);
    let best: DirectChoice | undefined;
    let bestTotal = Infinity;
    for (const source of forced ? [forced] : ["direct", "scratch"] as const) {
      for (const ocb of tune.channelBlocks) {
        if (ocb > powerOfTwoAtLeast(g.outPerGroup)) continue;
        for (const kb of tune.loopBlocks) {
          // kb > 1 only for 1×1 kernels: there it costs nothing and lets weights with the
          // reduced channels innermost be read in place as vec4s; 3×3 blocks with kb > 1 ran at
          // half speed on lavapipe, whatever their size.
          if (g.loopPerGroup % kb !== 0 || (kb > 1 && s.kernelH * s.kernelW > 1)) continue;
          const vector = weightVectorFor(s, pass, layout, source, ocb, kb);
          for (const rows of tune.rowBlocks) {
            if (rows > powerOfTwoAtLeast(Math.ceil(g.outH / g.rowsPerBlockRow))) continue;
            for (const cols of tune.colBlocks) {
              if (cols > powerOfTwoAtLeast(Math.ceil(g.outW / g.colsPerBlockCol))) continue;
              const structure = directStructure(s, pass, ocb, rows, cols, kb, vector);
              const candidate = scoreDirect(s, g, structure, tune);
              if (!candidate) continue;
              const total = totalCost(s, candidate.cost, source === "scratch" ? 1 : 0, tune);
              if (total < bestTotal) {
                bestTotal = total;
                best = { ...candidate, source };
              }
            }
          }
        }
      }
    }
    if (!best) throw new Error("conv2d: no blocking fits (internal)");
    return best;
  });
}

let forcedWeightSource: "direct" | "scratch" | undefined;

/**
 * For tests and benchmarks: makes the forward and data passes read the weights in place
 * ("direct") or from a transposed copy ("scratch") whatever the cost model says; no argument
 * restores the cost model.
 */
export function forceConv2dWeightSource(source?: "direct" | "scratch"): void {
  forcedWeightSource = source;
}

/** Cost of a pass in FMAs: its MACs at `cost` per useful FMA plus its extra launches. */
function totalCost(s: Conv2dShape, cost: number, extraLaunches: number, tune: ClassTuning) {
  return (conv2dFlops(s) / 2) * cost + extraLaunches * tune.launchCost;
}

/** How a direct block of `ocb` dst channels × `kb` loop channels can load its weights. */
function weightVectorFor(
  s: Conv2dShape,
  pass: "forward" | "data",
  layout: WeightLayout,
  source: "direct" | "scratch",
  ocb: number,
  kb: number,
): WeightVector {
  // The transposed copy: [groups][CPG_LOOP][kh·kw][OCP], OCP a multiple of ocb.
  if (source === "scratch") return ocb % 4 === 0 ? "dst" : "none";
  const g = directGeometry(s, pass);
  const st = layoutStrides(s, pass, layout);
  // A stride only matters (must keep vec4 alignment) along an axis with more than one index.
  const aligned = (stride: number, extent: number) => extent <= 1 || stride % 4 === 0;
  const common = aligned(st.group, s.groups) && aligned(st.tap, s.kernelH * s.kernelW);
  if (
    st.channel === 1 && ocb % 4 === 0 && g.outPerGroup % 4 === 0 && common &&
    aligned(st.loop, g.loopPerGroup)
  ) {
    return "dst";
  }
  if (st.loop === 1 && kb % 4 === 0 && common && aligned(st.channel, g.outPerGroup)) {
    return "loop";
  }
  return "none";
}

function weightLoadCount(d: DirectStructure, taps: number): number {
  switch (d.weightVector) {
    case "dst":
      return d.kb * taps * (d.ocb / 4) * VEC4_LOADS;
    case "loop":
      return (d.kb / 4) * taps * d.ocb * VEC4_LOADS;
    case "none":
      return d.kb * taps * d.ocb;
  }
}

function scoreDirect(
  s: Conv2dShape,
  g: DirectGeometry,
  d: DirectStructure,
  tune: ClassTuning,
): Candidate<DirectStructure> | undefined {
  const taps = directTaps(d);
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const accumulators = d.ocb * tileRows * tileCols;
  const fmas = d.kb * d.ocb * sumOfProducts(taps.rows, taps.cols);
  const smallest = d.ocb === 1 && d.rows === 1 && d.cols === 1 && d.kb === 1;
  if (!smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) return undefined;
  const srcLoads = d.kb * srcGathers(d, taps.rows, taps.cols).size *
    (d.colAlign < 0 ? 1 : VEC4_LOADS);
  const loads = weightLoadCount(d, usedTaps(taps.rows, taps.cols, d.kernelW).length) + srcLoads;
  const useful = utilisation(g.outPerGroup, d.ocb) * utilisation(g.outH, tileRows) *
    utilisation(g.outW, tileCols);
  const invocations = s.groups * Math.ceil(g.outPerGroup / d.ocb) * s.batch *
    Math.ceil(g.outH / tileRows) * Math.ceil(g.outW / tileCols);
  const idle = Math.max(1, tune.minInvocations / invocations);
  // Stores (and, with `accumulate`, loads) of the outputs, spread over the loop iterations.
  const iterations = g.loopPerGroup / d.kb;
  const stores = d.vectorStore ? (accumulators / 4) * VEC4_LOADS : accumulators;
  // Zero-FMA blocks (a stride phase no tap reaches) still pay their stores.
  const work = Math.max(fmas, 1) * useful;
  const perIteration = tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators +
    tune.loadCost * stores / iterations;
  const cost = perIteration / work * idle;
  return { structure: d, cost, fmas, loads };
}
function weightStructure(
  s: Conv2dShape,
  ocb: number,
  icb: number,
  rows: number,
  cols: number,
  withBias: boolean,
): WeightStructure {
  return {
    ocb,
    icb,
    rows,
    cols,
    kernelH: s.kernelH,
    kernelW: s.kernelW,
    strideH: s.strideH,
    strideW: s.strideW,
    dilationH: s.dilationH,
    dilationW: s.dilationW,
    withBias,
    vectorDy: cols % 4 === 0 && conv2dOutputSize(s).outW % 4 === 0,
  };
}

function weightTaps(w: WeightStructure): { rows: AxisTaps; cols: AxisTaps } {
  return {
    rows: forwardTaps(w.rows, w.kernelH, w.strideH, w.dilationH),
    cols: forwardTaps(w.cols, w.kernelW, w.strideW, w.dilationW),
  };
}

function chooseWeight(s: Conv2dShape, device: DeviceClass, withBias: boolean) {
  return memo(`weight ${device} ${withBias} ${JSON.stringify(s)}`, () => {
    const tune = TUNING[device];
    const { outH, outW } = conv2dOutputSize(s);
    let best: Candidate<WeightStructure> | undefined;
    for (const ocb of tune.channelBlocks) {
      if (ocb > powerOfTwoAtLeast(s.outChannels / s.groups)) continue;
      for (const icb of WEIGHT_INPUT_BLOCKS) {
        if (icb > powerOfTwoAtLeast(s.inChannels / s.groups)) continue;
        for (const rows of WEIGHT_ROW_BLOCKS) {
          if (rows > powerOfTwoAtLeast(outH)) continue;
          for (const cols of WEIGHT_COL_BLOCKS) {
            if (cols > powerOfTwoAtLeast(outW)) continue;
            const w = weightStructure(s, ocb, icb, rows, cols, withBias);
            const candidate = scoreWeight(s, w, tune);
            if (candidate && (!best || candidate.cost < best.cost)) best = candidate;
          }
        }
      }
    }
    if (!best) throw new Error("conv2d: no weight-gradient blocking fits (internal)");
    return best;
  });
}

const WEIGHT_INPUT_BLOCKS = [1, 2, 4, 8];
const WEIGHT_ROW_BLOCKS = [1, 2, 4];
const WEIGHT_COL_BLOCKS = [1, 2, 4, 8];

function scoreWeight(
  s: Conv2dShape,
  w: WeightStructure,
  tune: ClassTuning,
): Candidate<WeightStructure> | undefined {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = weightTaps(w);
  const fmas = w.ocb * w.icb * s.kernelH * s.kernelW * w.rows * w.cols;
  const accumulators = w.ocb * w.icb * s.kernelH * s.kernelW + (w.withBias ? w.ocb : 0);
  const smallest = w.ocb === 1 && w.icb === 1 && w.rows === 1 && w.cols === 1;
  if (!smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) return undefined;
  const dyLoads = w.ocb * w.rows * (w.vectorDy ? (w.cols / 4) * VEC4_LOADS : w.cols);
  const loads = dyLoads + w.icb * usedPairs(taps.rows, taps.cols).size;
  const useful = utilisation(s.outChannels / s.groups, w.ocb) *
    utilisation(s.inChannels / s.groups, w.icb) * utilisation(outH, w.rows) *
    utilisation(outW, w.cols);
  const cost = (tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators) /
    (fmas * useful);
  return { structure: w, cost, fmas, loads };
}

/** Split-K: chunks of the N·outH·outW reduction (chunk c takes every CHUNKS-th unit). */
function weightChunks(s: Conv2dShape, w: WeightStructure, device: DeviceClass): number {
  const { outH, outW } = conv2dOutputSize(s);
  const units = s.batch * Math.ceil(outH / w.rows) * Math.ceil(outW / w.cols);
  const blocks = s.groups * Math.ceil(s.outChannels / s.groups / w.ocb) *
    Math.ceil(s.inChannels / s.groups / w.icb);
  const partialFloats = s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW +
    s.outChannels;
  const maxByScratch = Math.max(1, Math.floor(MAX_PARTIAL_FLOATS / partialFloats));
  const wanted = Math.ceil(TUNING[device].weightInvocations / blocks);
  return Math.max(1, Math.min(wanted, units, maxByScratch));
}

/** Split-K partials are capped at 16 MiB of scratch. */
const MAX_PARTIAL_FLOATS = 4 * 1024 * 1024;

function directWorkgroupSize(
  s: Conv2dShape,
  pass: "forward" | "data",
  d: DirectStructure,
  device: DeviceClass,
): number {
  if (device === "gpu") return 64;
  const g = directGeometry(s, pass);
  const tiles = s.batch * Math.ceil(g.outH / (d.rows * g.rowsPerBlockRow)) *
    Math.ceil(g.outW / (d.cols * g.colsPerBlockCol));
  const blocks = s.groups * Math.ceil(g.outPerGroup / d.ocb);
  return Math.min(powerOfTwoAtLeast(tiles), cpuWorkgroupSize(tiles * blocks));
}

/**
 * lavapipe runs a workgroup on one thread, SIMD across its invocations: at least 8 per group
 * fill a vector, and MIN_CPU_WORKGROUPS groups let its threads balance even when another
 * process takes a core for a while.
 */
function cpuWorkgroupSize(invocations: number): number {
  const perGroup = 2 ** Math.floor(Math.log2(Math.max(1, invocations / MIN_CPU_WORKGROUPS)));
  return Math.max(8, Math.min(64, perGroup));
}

const MIN_CPU_WORKGROUPS = 32;

function weightWorkgroupSize(invocations: number, device: DeviceClass): number {
  return device === "gpu" ? 64 : cpuWorkgroupSize(invocations);
}

/**
 * The blocking each pass would use for this shape on this device class, with these options
 * (`weightLayout`; `bias`: the weight gradient also computes dbias).
 */
export function conv2dPlan(
  s: Conv2dShape,
  pass: Conv2dPass,
  device: DeviceClass,
  o: { weightLayout?: WeightLayout; bias?: boolean } = {},
): Conv2dPlan {
  if (pass === "weight") {
    const best = chooseWeight(s, device, o.bias ?? false);
    const w = best.structure;
    const chunks = weightChunks(s, w, device);
    const invocations = weightInvocations(s, w, chunks);
    return {
      pass,
      ocb: w.ocb,
      icb: w.icb,
      kb: 1,
      rows: w.rows,
      cols: w.cols,
      workgroupSize: weightWorkgroupSize(invocations, device),
      chunks,
      weights: "direct",
      weightVector: "none",
      launches: chunks > 1 ? 2 : 1,
      fmas: best.fmas,
      loads: best.loads,
    };
  }
  const best = chooseDirect(s, pass, device, o.weightLayout ?? "oihw");
  const d = best.structure;
  return {
    pass,
    ocb: d.ocb,
    icb: 1,
    kb: d.kb,
    rows: d.rows,
    cols: d.cols,
    workgroupSize: directWorkgroupSize(s, pass, d, device),
    chunks: 1,
    weights: best.source,
    weightVector: d.weightVector,
    launches: best.source === "scratch" ? 2 : 1,
    fmas: best.fmas,
    loads: best.loads,
  };
}

function weightInvocations(s: Conv2dShape, w: WeightStructure, chunks: number): number {
  return s.groups * Math.ceil(s.outChannels / s.groups / w.ocb) *
    Math.ceil(s.inChannels / s.groups / w.icb) * chunks;
}

// ---------------------------------------------------------------------------------------------
// Code generation (memoised: one source per structure, named after it)

const sources = new Map<string, string>();

function memoSource(name: string, build: () => string): KernelSpec["source"] {
  let source = sources.get(name);
  if (source === undefined) {
    source = build();
    sources.set(name, source);
  }
  return source;
}

function directName(d: DirectStructure): string {
  const phase = (d.pass === "data" ? `_m${d.padModH}x${d.padModW}` : "") +
    (d.colAlign >= 0 ? `_a${d.colAlign}` : "");
  const weights = d.weightVector === "none" ? "" : `_w${d.weightVector === "dst" ? "d" : "l"}`;
  const stores = (d.vectorStore ? "_v4" : "") + (d.vectorMask ? "_m4" : "");
  return `conv2d_${d.pass === "forward" ? "fwd" : "bwd_data"}_o${d.ocb}r${d.rows}c${d.cols}` +
    `u${d.kb}_k${d.kernelH}x${d.kernelW}_s${d.strideH}x${d.strideW}_d${d.dilationH}x` +
    `${d.dilationW}${phase}${weights}${stores}`;
}

function weightName(w: WeightStructure): string {
  return `conv2d_bwd_weight_o${w.ocb}i${w.icb}r${w.rows}c${w.cols}_k${w.kernelH}x${w.kernelW}` +
    `_s${w.strideH}x${w.strideW}_d${w.dilationH}x${w.dilationW}${w.withBias ? "_bias" : ""}` +
    (w.vectorDy ? "_v4" : "");
}

const ENTRY_SIGNATURE = "@compute @workgroup_size(WG)\n" +
  "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,\n" +
  "        @builtin(num_workgroups) nwg: vec3u) {";

function indexOf(values: readonly number[]): Map<number, number> {
  return new Map(values.map((v, i) => [v, i]));
}

/** Entry point of the direct kernel: the whole register block unrolled, one loop over channels. */
function directMain(d: DirectStructure): string {
  const { rows, cols } = directTaps(d);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const pairs = usedPairs(rows, cols);
  const taps = usedTaps(rows, cols, d.kernelW);
  const out: string[] = [...directDeclarations(d), "", ENTRY_SIGNATURE];
  out.push("  let t = tile_of(wid.x + wid.y * nwg.x, lid.x);");
  rowOffsets.forEach((off, i) => out.push(`  let ro${i} = row_offset(t, ${off});`));
  if (d.colAlign < 0) {
    colOffsets.forEach((off, i) => out.push(`  let co${i} = col_offset(t, ${off});`));
  } else {
    const groups = new Set(colOffsets.map((off) => columnSlot(d.colAlign, off).group));
    for (const k of groups) {
      out.push(`  let cg${groupName(k)} = col_group(t, ${d.colAlign}, ${k});`);
    }
  }
  out.push(...weightBases(d));
  forEachBlock(
    d.ocb,
    rows.length,
    cols.length,
    (o, r, q) => out.push(`  var a${o}_${r}_${q} = 0.0;`),
  );
  out.push(`  for (var c = 0u; c < CPG_LOOP; c += ${d.kb}u) {`);
  for (let j = 0; j < d.kb; j++) out.push(`    let sb${j} = src_channel_base(t, c + ${j}u);`);
  out.push(...weightLoads(d, taps));
  for (let j = 0; j < d.kb; j++) out.push(...srcLoads(d, j, pairs, rowIndex, colIndex));
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    const terms: string[] = [];
    for (let j = 0; j < d.kb; j++) {
      for (const [ro, ky] of rows[r]) {
        for (const [co, kx] of cols[q]) {
          const v = `v${j}_${rowIndex.get(ro)}_${colIndex.get(co)}`;
          terms.push(`w${j}_${o}_${ky * d.kernelW + kx} * ${v}`);
        }
      }
    }
    if (terms.length > 0) out.push(`    a${o}_${r}_${q} += ${terms.join(" + ")};`);
  });
  out.push("  }");
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    if (!d.vectorStore) {
      out.push(`  store(t, ${o}u, ${r}u, ${q}u, a${o}_${r}_${q});`);
    } else if (q % 4 === 0) {
      const parts = [0, 1, 2, 3].map((e) => `a${o}_${r}_${q + e}`).join(", ");
      out.push(`  store(t, ${o}u, ${r}u, ${q}u, vec4f(${parts}));`);
    }
  });
  out.push("}");
  return out.join("\n");
}

/** The src and weight bindings (f32 or vec4f elements) and the masked src gather. */
function directDeclarations(d: DirectStructure): string[] {
  const srcType = d.colAlign < 0 ? "f32" : "vec4f";
  const dstType = d.vectorStore ? "vec4f" : "f32";
  const auxType = d.vectorMask ? "vec4f" : "f32";
  const index = d.colAlign < 0
    ? "base + row.index + col.index"
    : "(base + row.index + col.index) / 4u";
  return [
    `@group(0) @binding(0) var<storage, read> src: array<${srcType}>;`,
    `@group(0) @binding(1) var<storage, read> weight: array<${
      d.weightVector === "none" ? "f32" : "vec4f"
    }>;`,
    `@group(0) @binding(2) var<storage, read> aux: array<${auxType}>;`,
    `@group(0) @binding(3) var<storage, read_write> dst: array<${dstType}>;`,
    "",
    `fn gather(base: u32, row: Offset, col: Offset) -> ${srcType} {`,
    `  let v = select(${srcType}(0.0), src[${index}], row.ok && col.ok);`,
    `  if (RELU_SRC) { return max(v, ${srcType}(0.0)); }`,
    "  return v;",
    "}",
    "",
    `fn store(t: Tile, o: u32, r: u32, q: u32, value: ${dstType}) {`,
    "  let d = destination(t, o, r, q);",
    "  if (!d.ok) { return; }",
    `  let i = d.index${d.vectorStore ? " / 4u" : ""};`,
    "  var v = value;",
    d.pass === "forward"
      ? "  if (HAS_BIAS) { v += aux[d.channel]; }"
      : `  if (MASK_DST) { v = select(${dstType}(0.0), v, aux[${
        d.vectorMask ? "i" : "d.index"
      }] > ${auxType}(0.0)); }`,
    "  if (ACCUMULATE) { v += dst[i]; }",
    "  dst[i] = v;",
    "}",
  ];
}

/** WGSL-safe name part for a (possibly negative) group index. */
function groupName(k: number): string {
  return k < 0 ? `m${-k}` : `${k}`;
}

/** Lets v{j}_{row}_{col} of loop channel c + j for every used src pair (one gather each or one
 * per vec4 group). */
function srcLoads(
  d: DirectStructure,
  j: number,
  pairs: Set<string>,
  rowIndex: Map<number, number>,
  colIndex: Map<number, number>,
): string[] {
  const out: string[] = [];
  const loaded = new Set<string>();
  for (const key of pairs) {
    const [ro, co] = key.split(",").map(Number);
    const ri = rowIndex.get(ro);
    const name = `v${j}_${ri}_${colIndex.get(co)}`;
    if (d.colAlign < 0) {
      out.push(`    let ${name} = gather(sb${j}, ro${ri}, co${colIndex.get(co)});`);
      continue;
    }
    const { group, lane } = columnSlot(d.colAlign, co);
    const vector = `g${j}_${ri}_${groupName(group)}`;
    if (!loaded.has(vector)) {
      loaded.add(vector);
      out.push(`    let ${vector} = gather(sb${j}, ro${ri}, cg${groupName(group)});`);
    }
    out.push(`    let ${name} = ${vector}.${"xyzw"[lane]};`);
  }
  return out;
}

/**
 * Per-invocation weight offsets, outside the channel loop: of each block channel (wo{o}), or of
 * each vec4 of block channels (wq{k}, in vec4 units); loop-vectorised offsets in vec4 units too.
 */
function weightBases(d: DirectStructure): string[] {
  const out: string[] = [];
  if (d.weightVector === "dst") {
    for (let k = 0; k < d.ocb / 4; k++) out.push(`  let wq${k} = weight_quad(t, ${k}u) / 4u;`);
  } else {
    const scale = d.weightVector === "loop" ? " / 4u" : "";
    for (let o = 0; o < d.ocb; o++) out.push(`  let wo${o} = weight_channel(t, ${o}u)${scale};`);
  }
  return out;
}

/** Lets w{j}_{o}_{tap} for every unrolled channel j, block channel o and used tap. */
function weightLoads(d: DirectStructure, taps: readonly number[]): string[] {
  const out: string[] = [];
  const xyzw = "xyzw";
  if (d.weightVector === "dst") {
    // Every stride is a multiple of 4 floats: index in vec4s.
    out.push("    let wc = c * (W_LOOP / 4u);");
    for (let j = 0; j < d.kb; j++) {
      for (const tap of taps) {
        for (let k = 0; k < d.ocb / 4; k++) {
          const q = `q${j}_${k}_${tap}`;
          out.push(`    let ${q} = weight[wq${k} + wc + (${j}u * W_LOOP + ${tap}u * W_TAP) / 4u];`);
          for (let e = 0; e < 4; e++) {
            out.push(`    let w${j}_${4 * k + e}_${tap} = ${q}.${xyzw[e]};`);
          }
        }
      }
    }
  } else if (d.weightVector === "loop") {
    // W_LOOP = 1 and c a multiple of 4: the vec4 at c holds loop channels c … c + 3.
    out.push("    let wc = c / 4u;");
    for (let o = 0; o < d.ocb; o++) {
      for (const tap of taps) {
        for (let jj = 0; jj < d.kb / 4; jj++) {
          const q = `q${o}_${jj}_${tap}`;
          out.push(`    let ${q} = weight[wo${o} + wc + ${tap}u * (W_TAP / 4u) + ${jj}u];`);
          for (let e = 0; e < 4; e++) {
            out.push(`    let w${4 * jj + e}_${o}_${tap} = ${q}.${xyzw[e]};`);
          }
        }
      }
    }
  } else {
    out.push("    let wc = c * W_LOOP;");
    for (let j = 0; j < d.kb; j++) {
      for (const tap of taps) {
        for (let o = 0; o < d.ocb; o++) {
          out.push(
            `    let w${j}_${o}_${tap} = weight[wo${o} + wc + ${j}u * W_LOOP + ${tap}u * W_TAP];`,
          );
        }
      }
    }
  }
  return out;
}

function forEachBlock(
  a: number,
  b: number,
  c: number,
  f: (i: number, j: number, k: number) => void,
): void {
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) f(i, j, k);
}

/** Entry point of the weight-gradient kernel: one loop over reduction units. */
function weightMain(w: WeightStructure): string {
  const { rows, cols } = weightTaps(w);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const kk = w.kernelH * w.kernelW;
  const out: string[] = [...dyDeclaration(w.vectorDy), "", ENTRY_SIGNATURE];
  out.push("  let w = work_of(wid.x + wid.y * nwg.x, lid.x);");
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => out.push(`  var a${o}_${i}_${tap} = 0.0;`));
  if (w.withBias) { for (let o = 0; o < w.ocb; o++) out.push(`  var b${o} = 0.0;`); }
  out.push("  for (var u = w.chunk; u < w.unit_end; u += CHUNKS) {", "    let p = unit_of(u);");
  for (let r = 0; r < w.rows; r++) out.push(`    let dr${r} = dy_row(p, ${r}u);`);
  for (let q = 0; q < w.cols; q += w.vectorDy ? 4 : 1) {
    out.push(`    let dc${q} = dy_col(p, ${q}u);`);
  }
  rowOffsets.forEach((off, i) => out.push(`    let xr${i} = x_row(p, ${off});`));
  colOffsets.forEach((off, i) => out.push(`    let xc${i} = x_col(p, ${off});`));
  for (let o = 0; o < w.ocb; o++) out.push(`    let db${o} = dy_base(w, p, ${o}u);`);
  for (let i = 0; i < w.icb; i++) out.push(`    let xb${i} = x_base(w, p, ${i}u);`);
  forEachBlock(w.ocb, w.rows, w.cols, (o, r, q) => {
    if (!w.vectorDy) {
      out.push(`    let d${o}_${r}_${q} = gather_dy(db${o}, dr${r}, dc${q});`);
    } else if (q % 4 === 0) {
      out.push(`    let d${o}_${r}_${q}v = gather_dy(db${o}, dr${r}, dc${q});`);
      for (let e = 0; e < 4; e++) {
        out.push(`    let d${o}_${r}_${q + e} = d${o}_${r}_${q}v.${"xyzw"[e]};`);
      }
    }
  });
  const pairs = usedPairs(rows, cols);
  for (let i = 0; i < w.icb; i++) {
    for (const key of pairs) {
      const [ro, co] = key.split(",").map(Number);
      const [ri, ci] = [rowIndex.get(ro), colIndex.get(co)];
      out.push(`    let v${i}_${ri}_${ci} = gather_x(xb${i}, xr${ri}, xc${ci});`);
    }
  }
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => {
    const ky = Math.floor(tap / w.kernelW);
    const kx = tap % w.kernelW;
    const terms: string[] = [];
    for (let r = 0; r < w.rows; r++) {
      for (let q = 0; q < w.cols; q++) {
        const ri = rowIndex.get(rows[r][ky][0]);
        const ci = colIndex.get(cols[q][kx][0]);
        terms.push(`d${o}_${r}_${q} * v${i}_${ri}_${ci}`);
      }
    }
    out.push(`    a${o}_${i}_${tap} += ${terms.join(" + ")};`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o++) {
      const terms: string[] = [];
      for (let r = 0; r < w.rows; r++) {
        for (let q = 0; q < w.cols; q++) terms.push(`d${o}_${r}_${q}`);
      }
      out.push(`    b${o} += ${terms.join(" + ")};`);
    }
  }
  out.push("  }");
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => {
    out.push(`  store_weight_partial(w, ${o}u, ${i}u, ${tap}u, a${o}_${i}_${tap});`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o++) out.push(`  store_bias_partial(w, ${o}u, b${o});`);
  }
  out.push("}");
  return out.join("\n");
}

/** The dy binding and its masked gather (four columns at once when vectorised). */
function dyDeclaration(vector: boolean): string[] {
  const type = vector ? "vec4f" : "f32";
  const index = vector ? "(base + row.index + col.index) / 4u" : "base + row.index + col.index";
  return [
    `@group(0) @binding(0) var<storage, read> dy: array<${type}>;`,
    "",
    `fn gather_dy(base: u32, row: Offset, col: Offset) -> ${type} {`,
    `  return select(${type}(0.0), dy[${index}], row.ok && col.ok);`,
    "}",
  ];
}

// ---------------------------------------------------------------------------------------------
// Launches

interface DirectFlags {
  bias: boolean;
  /** Data gradient with a fused input ReLU: aux is x, dx is masked by x > 0. */
  mask: boolean;
  relu: boolean;
  accumulate: boolean;
  layout: WeightLayout;
}

function directLaunch<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  pass: "forward" | "data",
  bindings: { src: B; weights: B; aux: B; dst: B },
  flags: DirectFlags,
): Launch<B>[] {
  const choice = chooseDirect(s, pass, ctx.deviceClass, flags.layout);
  const d = { ...choice.structure, vectorMask: flags.mask && choice.structure.vectorStore };
  const g = directGeometry(s, pass);
  const { outH, outW } = conv2dOutputSize(s);
  const kk = s.kernelH * s.kernelW;
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const rowBlocks = Math.ceil(g.outH / tileRows);
  const colBlocks = Math.ceil(g.outW / tileCols);
  const bpg = Math.ceil(g.outPerGroup / d.ocb);
  const ocp = bpg * d.ocb;
  const wg = directWorkgroupSize(s, pass, d, ctx.deviceClass);
  const forward = pass === "forward";
  const layout = layoutStrides(s, pass, flags.layout);
  const scratch = choice.source === "scratch";
  const strides: WeightStrides = scratch
    ? { group: g.loopPerGroup * kk * ocp, loop: kk * ocp, tap: ocp, channel: 1 }
    : layout;
  const constants: Record<string, number> = {
    WG: wg,
    N: s.batch,
    IN_C: forward ? s.inChannels : s.outChannels,
    OUT_C: forward ? s.outChannels : s.inChannels,
    IH: forward ? s.inH : outH,
    IW: forward ? s.inW : outW,
    OUT_H: g.outH,
    OUT_W: g.outW,
    CPG_LOOP: g.loopPerGroup,
    CPG_OUTCH: g.outPerGroup,
    BPG: bpg,
    BLOCKS: s.groups * bpg,
    OCB: d.ocb,
    OUT_ROWS: tileRows,
    OUT_COLS: tileCols,
    ROW_BLOCKS: rowBlocks,
    COL_BLOCKS: colBlocks,
    ROW_STEP: forward ? d.rows * s.strideH : d.rows,
    ROW_SHIFT: forward ? -s.padH : Math.floor(s.padH / s.strideH),
    COL_STEP: forward ? d.cols * s.strideW : d.cols,
    COL_SHIFT: forward ? -s.padW : Math.floor(s.padW / s.strideW),
    KHW: kk,
    W_GROUP: strides.group,
    W_LOOP: strides.loop,
    W_TAP: strides.tap,
    W_CH: strides.channel,
    W_CH_LAST: (scratch ? ocp : g.outPerGroup) - 1,
    HAS_BIAS: flags.bias ? 1 : 0,
    MASK_DST: flags.mask ? 1 : 0,
    RELU_SRC: flags.relu ? 1 : 0,
    ACCUMULATE: flags.accumulate ? 1 : 0,
  };
  const name = directName(d);
  const tiles = s.batch * rowBlocks * colBlocks;
  const launches: Launch<B>[] = [];
  let weights = bindings.weights;
  if (scratch) {
    const count = s.groups * g.loopPerGroup * kk * ocp;
    weights = ctx.scratch(count, "conv2d transposed weights");
    launches.push({
      kernel: {
        name: "conv2d_transpose_weights",
        source: auxSource,
        entryPoint: "transpose_weights",
        constants: {
          WG: AUX_WG,
          COUNT: count,
          CPG_LOOP: g.loopPerGroup,
          CPG_OUTCH: g.outPerGroup,
          KHW: kk,
          OCP: ocp,
          W_GROUP_STRIDE: layout.group,
          W_OUT_STRIDE: layout.channel,
          W_C_STRIDE: layout.loop,
          W_TAP_STRIDE: layout.tap,
        },
      },
      bindings: [bindings.weights, weights],
      workgroups: grid1d(count, AUX_WG),
    });
  }
  launches.push({
    kernel: {
      name,
      source: memoSource(name, () => `${directTemplate}\n${directMain(d)}\n`),
      constants,
    },
    bindings: [bindings.src, weights, bindings.aux, bindings.dst],
    workgroups: grid(s.groups * bpg * Math.ceil(tiles / wg)),
  });
  return launches;
}

/** y (= or +=) conv(x, w) + bias, or conv(max(x, 0), w) + bias with `reluInput`. */
export function conv2dForward<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { x: B; w: B; bias?: B; y: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  return directLaunch(ctx, s, "forward", {
    src: io.x,
    weights: io.w,
    aux: io.bias ?? io.w,
    dst: io.y,
  }, {
    bias: io.bias !== undefined,
    mask: false,
    relu: o.reluInput ?? false,
    accumulate: o.accumulate ?? false,
    layout: o.weightLayout ?? "oihw",
  });
}

/**
 * dx (= or +=) ∂(Σ y·dy)/∂x: the transposed convolution of dy; with `reluInput`, times [x > 0]
 * (the gradient through the fused ReLU; `io.x` is then required: the forward's input).
 */
export function conv2dBackwardData<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; w: B; dx: B; x?: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  const relu = o.reluInput ?? false;
  if (relu && io.x === undefined) {
    throw new Error("conv2dBackwardData: reluInput needs io.x (the forward input)");
  }
  return directLaunch(ctx, s, "data", {
    src: io.dy,
    weights: io.w,
    aux: relu && io.x !== undefined ? io.x : io.w,
    dst: io.dx,
  }, {
    bias: false,
    mask: relu,
    relu: false,
    accumulate: o.accumulate ?? false,
    layout: o.weightLayout ?? "oihw",
  });
}

/**
 * dw (= or +=) ∂/∂w, in `weightLayout`, and, when given, dbias (= or +=) Σ dy over n, y, x;
 * with `reluInput` the forward's input was max(x, 0).
 */
export function conv2dBackwardWeight<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; x: B; dw: B; dbias?: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  const withBias = io.dbias !== undefined;
  const w = chooseWeight(s, ctx.deviceClass, withBias).structure;
  const chunks = weightChunks(s, w, ctx.deviceClass);
  const { outH, outW } = conv2dOutputSize(s);
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  const dwSize = s.outChannels * cin * kk;
  const invocations = weightInvocations(s, w, chunks);
  const wg = weightWorkgroupSize(invocations, ctx.deviceClass);
  const accumulate = o.accumulate ?? false;
  const split = chunks > 1;
  // Unsplit, the kernel writes (or adds to) dw and dbias itself.
  const partial = split ? ctx.scratch(chunks * dwSize, "conv2d dw partials") : io.dw;
  const biasPartial = io.dbias === undefined
    ? undefined
    : split
    ? ctx.scratch(chunks * s.outChannels, "conv2d dbias partials")
    : io.dbias;
  const dwStrides = gradientStrides(s, o.weightLayout ?? "oihw");
  const name = weightName(w);
  const constants: Record<string, number> = {
    WG: wg,
    N: s.batch,
    CIN: s.inChannels,
    COUT: s.outChannels,
    H: s.inH,
    W: s.inW,
    OH: outH,
    OW: outW,
    CPG_IN: cin,
    CPG_OUT: s.outChannels / s.groups,
    OCB: w.ocb,
    ICB: w.icb,
    CO_BLOCKS: Math.ceil(s.outChannels / s.groups / w.ocb),
    CI_BLOCKS: Math.ceil(cin / w.icb),
    ROWS_PER_UNIT: w.rows,
    COLS_PER_UNIT: w.cols,
    ROW_BLOCKS: Math.ceil(outH / w.rows),
    COL_BLOCKS: Math.ceil(outW / w.cols),
    CHUNKS: chunks,
    ROW_STEP: w.rows * s.strideH,
    COL_STEP: w.cols * s.strideW,
    PH: s.padH,
    PW: s.padW,
    KHW: kk,
    GROUPS: s.groups,
    DW_CO: dwStrides.co,
    DW_CI: dwStrides.ci,
    DW_TAP: dwStrides.tap,
    RELU_X: o.reluInput ? 1 : 0,
    ACCUMULATE: accumulate && !split ? 1 : 0,
  };
  const launches: Launch<B>[] = [{
    kernel: {
      name,
      source: memoSource(name, () => `${wgradTemplate}\n${weightMain(w)}\n`),
      constants,
    },
    bindings: biasPartial === undefined ? [io.dy, io.x, partial] : [
      io.dy,
      io.x,
      partial,
      biasPartial,
    ],
    workgroups: grid(Math.ceil(invocations / wg)),
  }];
  if (split) {
    launches.push(
      reduceLaunch(
        partial,
        io.dw,
        dwSize,
        chunks,
        accumulate,
        biasPartial,
        io.dbias,
        s.outChannels,
      ),
    );
  }
  return launches;
}

const AUX_WG = 64;

/** Sums split-K partials into dw and, in the same launch, bias partials into dbias. */
function reduceLaunch<B>(
  partial: B,
  out: B,
  count: number,
  chunks: number,
  accumulate: boolean,
  biasPartial: B | undefined,
  biasOut: B | undefined,
  biasCount: number,
): Launch<B> {
  const withBias = biasPartial !== undefined && biasOut !== undefined;
  return {
    kernel: {
      name: withBias ? "conv2d_reduce_bias" : "conv2d_reduce",
      source: auxSource,
      entryPoint: withBias ? "reduce_chunks_bias" : "reduce_chunks",
      constants: {
        WG: AUX_WG,
        COUNT: count,
        CHUNKS: chunks,
        ACCUMULATE: accumulate ? 1 : 0,
        ...(withBias ? { BIAS_COUNT: biasCount } : {}),
      },
    },
    bindings: withBias ? [partial, out, biasPartial, biasOut] : [partial, out],
    workgroups: grid1d(count + (withBias ? biasCount : 0), AUX_WG),
  };
}
